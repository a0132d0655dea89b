// Keeps Sentry's CA in its Secret and the trust bundle in a ConfigMap, converging with the pure
// policy of ca.ts: read, rotate, write only when something changed, publish the bundle. Replicas
// race safely: a create that finds the Secret, or a replace that finds a newer one, means another
// replica wrote first; the loop reads again and adopts what it wrote.
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { isAlreadyExists, isConflict } from "../shared/api-errors.ts";
import type { Logger } from "../shared/log.ts";
import { TRUST_BUNDLE_KEY } from "../sidecar/identity.ts";
import { rotateCa, type CaChange, type CaPolicy, type CaRotation, type StoredCa } from "./ca.ts";
import type { ObjectClient } from "./kube.ts";

const MANAGED_BY = { "app.kubernetes.io/managed-by": "outrigger" };
const KEYS = {
  rootCert: "root.crt",
  rootKey: "root.key",
  nextRootCert: "next-root.crt",
  nextRootKey: "next-root.key",
  issuerCert: "issuer.crt",
  issuerKey: "issuer.key",
  bundle: "trust-bundle.pem",
} as const;

const decode = (data: Record<string, string> | undefined, key: string): string | undefined =>
  data?.[key] === undefined ? undefined : Buffer.from(data[key], "base64").toString("utf8");

/** The CA as the Secret holds it (base64 data). */
export function storedCaFromSecret(secret: V1Secret | undefined): StoredCa {
  const d = secret?.data;
  const pair = (cert: string, key: string) => {
    const certPem = decode(d, cert);
    const keyPem = decode(d, key);
    return certPem && keyPem ? { certPem, keyPem } : undefined;
  };
  const root = pair(KEYS.rootCert, KEYS.rootKey);
  const nextRoot = pair(KEYS.nextRootCert, KEYS.nextRootKey);
  const issuer = pair(KEYS.issuerCert, KEYS.issuerKey);
  const trustBundlePem = decode(d, KEYS.bundle);
  return {
    ...(root ? { root } : {}),
    ...(nextRoot ? { nextRoot } : {}),
    ...(issuer ? { issuer } : {}),
    ...(trustBundlePem ? { trustBundlePem } : {}),
  };
}

export function secretData(ca: CaRotation["ca"]): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const data: Record<string, string> = {
    [KEYS.rootCert]: b64(ca.root.certPem),
    [KEYS.rootKey]: b64(ca.root.keyPem),
    [KEYS.issuerCert]: b64(ca.issuer.certPem),
    [KEYS.issuerKey]: b64(ca.issuer.keyPem),
    [KEYS.bundle]: b64(ca.trustBundlePem),
  };
  if (ca.nextRoot) {
    data[KEYS.nextRootCert] = b64(ca.nextRoot.certPem);
    data[KEYS.nextRootKey] = b64(ca.nextRoot.keyPem);
  }
  return data;
}

export interface CaStoreOptions {
  secrets: ObjectClient<V1Secret>;
  configMaps: ObjectClient<V1ConfigMap>;
  namespace: string;
  secretName: string;
  bundleConfigMap: string;
  policy: CaPolicy;
  now: () => Date;
  log: Logger;
  /** Called with every CA that becomes current, and what changed. */
  onChange: (ca: CaRotation["ca"], changes: CaChange[]) => void;
  onError: (operation: "ca-secret" | "trust-bundle") => void;
  resyncMs: number;
  retryMs: number;
}

export interface CaStore {
  /** Resolves once a CA is current (retrying until then), or when stopped. */
  start(): Promise<void>;
  stop(): void;
}

class NotOursError extends Error {}

export function caStore(o: CaStoreOptions): CaStore {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let current: string | undefined;

  async function converge(): Promise<Date> {
    for (let attempt = 0; ; attempt++) {
      const secret = await o.secrets.read(o.namespace, o.secretName);
      if (secret && secret.metadata?.labels?.["app.kubernetes.io/managed-by"] !== "outrigger")
        throw new NotOursError(
          `Secret ${o.namespace}/${o.secretName} exists without app.kubernetes.io/managed-by=outrigger; not touching it`,
        );
      const rotation = rotateCa(storedCaFromSecret(secret), o.now(), o.policy);
      if (rotation.changes.length > 0) {
        const body: V1Secret = {
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            ...secret?.metadata,
            name: o.secretName,
            namespace: o.namespace,
            labels: { ...secret?.metadata?.labels, ...MANAGED_BY },
          },
          type: "Opaque",
          data: secretData(rotation.ca),
        };
        try {
          if (secret) await o.secrets.replace(o.namespace, o.secretName, body);
          else await o.secrets.create(o.namespace, body);
        } catch (err) {
          // Another replica wrote first: adopt what it wrote.
          if ((isConflict(err) || isAlreadyExists(err)) && attempt < 5) continue;
          throw err;
        }
        o.log.info({ changes: rotation.changes }, "CA rotated");
      }
      await publishBundle(rotation.ca.trustBundlePem);
      const fingerprint = rotation.ca.issuer.certPem + rotation.ca.trustBundlePem;
      if (fingerprint !== current) {
        current = fingerprint;
        o.onChange(rotation.ca, rotation.changes);
      }
      return rotation.nextCheckAt;
    }
  }

  async function publishBundle(pem: string): Promise<void> {
    try {
      const cm = await o.configMaps.read(o.namespace, o.bundleConfigMap);
      if (cm && cm.metadata?.labels?.["app.kubernetes.io/managed-by"] !== "outrigger")
        throw new NotOursError(
          `ConfigMap ${o.namespace}/${o.bundleConfigMap} exists without app.kubernetes.io/managed-by=outrigger; not touching it`,
        );
      if (cm?.data?.[TRUST_BUNDLE_KEY] === pem) return;
      const body: V1ConfigMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          ...cm?.metadata,
          name: o.bundleConfigMap,
          namespace: o.namespace,
          labels: { ...cm?.metadata?.labels, ...MANAGED_BY },
        },
        data: { ...cm?.data, [TRUST_BUNDLE_KEY]: pem },
      };
      if (cm) await o.configMaps.replace(o.namespace, o.bundleConfigMap, body);
      else await o.configMaps.create(o.namespace, body);
      o.log.info({ configMap: o.bundleConfigMap }, "trust bundle published");
    } catch (err) {
      o.onError("trust-bundle");
      throw err;
    }
  }

  async function loop(): Promise<boolean> {
    let delay = o.retryMs;
    let ok = false;
    try {
      const next = await converge();
      delay = Math.max(1000, Math.min(o.resyncMs, next.getTime() - o.now().getTime()));
      ok = true;
    } catch (err) {
      if (!(err instanceof NotOursError)) o.onError("ca-secret");
      o.log.error({ err }, "could not converge the CA");
    }
    if (!stopped) timer = setTimeout(() => void loop(), delay);
    return ok;
  }

  return {
    async start() {
      while (!stopped && current === undefined) {
        if (await loop()) return;
        if (timer) clearTimeout(timer);
        await new Promise((r) => setTimeout(r, o.retryMs));
      }
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
