// The identity contract between the injector (which mounts the token and names Sentry in
// daprd's flags) and `outrigger sentry` (which checks that token): names both must agree on.

/** daprd's default trust domain for Outrigger, as Dapr's Helm chart defaults it. */
export const DEFAULT_TRUST_DOMAIN = "cluster.local";
/** The app-id daprd expects in Sentry's serving SVID (`spiffe://<td>/ns/<ns>/dapr-sentry`). */
export const SENTRY_APP_ID = "dapr-sentry";
/** The Service in front of `outrigger sentry`, and its gRPC port. */
export const SENTRY_SERVICE = "outrigger-sentry";
export const SENTRY_PORT = 443;
/** The ConfigMap, in Sentry's namespace, that holds the trust bundle (PEM roots) under `ca.crt`. */
export const TRUST_BUNDLE_CONFIGMAP = "outrigger-trust-bundle";
export const TRUST_BUNDLE_KEY = "ca.crt";
/** Where the injector reads the bundle by default (the chart mounts the ConfigMap there). */
export const INJECTOR_TRUST_ANCHORS_FILE = `/var/run/secrets/outrigger.dev/trust-bundle/${TRUST_BUNDLE_KEY}`;

/** Whether `pem` holds at least one certificate (a bundle daprd can verify Sentry with). */
export function hasTrustAnchors(pem: string | undefined): boolean {
  return pem?.includes("-----BEGIN CERTIFICATE-----") === true;
}

/** The projected service-account token daprd sends to Sentry (read again at each renewal). */
export const SENTRY_TOKEN_VOLUME = "dapr-identity-token";
export const SENTRY_TOKEN_MOUNT_PATH = "/var/run/secrets/dapr.io/sentrytoken";
export const SENTRY_TOKEN_FILE = `${SENTRY_TOKEN_MOUNT_PATH}/token`;
/** One hour; the kubelet refreshes the file at 80% of it. Dapr's injector asks for two. */
export const SENTRY_TOKEN_EXPIRY_SECONDS = 3600;

/** Sentry's SPIFFE id; also the audience of the sidecars' tokens, as in Dapr. */
export function sentrySpiffeId(trustDomain: string, namespace: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/${SENTRY_APP_ID}`;
}

/** A trust domain as SPIFFE allows it: lowercase letters, digits, dots, dashes, underscores. */
export function trustDomainProblem(td: string): string | undefined {
  return /^[a-z0-9._-]{1,255}$/.test(td) ? undefined : "want lowercase letters, digits, '.', '-' or '_'";
}
