// The arguments of an injector run on this machine against a local cluster: it serves on
// 127.0.0.1 and (unless `register` is false) registers its own webhook configuration pointing
// there. hack/start.ts and the e2e specs start it the same way through here.

export interface LocalInjector {
  /** The injector's own namespace (its certificate Secret). */
  namespace: string;
  /** HTTPS port of the webhook server on 127.0.0.1. */
  port: number | string;
  /** Port of /healthz, /readyz and /metrics on 127.0.0.1. */
  opsPort: number | string;
  /** Register a webhook configuration at https://127.0.0.1:<port>/mutate (default true). */
  register?: boolean;
}

/** `outrigger injector` flags for a local run; `extra` flags follow. */
export function localInjectorArgs(o: LocalInjector, ...extra: string[]): string[] {
  return [
    "--namespace",
    o.namespace,
    "--listen-address",
    `127.0.0.1:${o.port}`,
    "--ops-address",
    `127.0.0.1:${o.opsPort}`,
    ...(o.register === false ? [] : ["--webhook-url", `https://127.0.0.1:${o.port}/mutate`]),
    ...extra,
  ];
}

/** The CRD whose conversion webhook `npm start` points at the local injector. */
export const SUBSCRIPTION_CRD = "subscriptions.dapr.io";

/**
 * A JSON merge patch of the Subscription CRD's conversion `clientConfig`: the local injector's
 * `https://127.0.0.1:<port>/convert` (`service` removed), or, to put the CRD back as `crds/` has it,
 * that `service` (`url` removed). The injector fills in the `caBundle` either way. A merge patch,
 * not a server-side apply: a `url` applied over a `service` that another field manager owns would
 * leave both, which the API server refuses ("exactly one of url or service").
 */
export function conversionClientConfigPatch(
  target: { port: number | string } | { service: Record<string, unknown> },
): string {
  const clientConfig =
    "port" in target
      ? { service: null, url: `https://127.0.0.1:${target.port}/convert` }
      : { url: null, service: target.service };
  return JSON.stringify({ spec: { conversion: { webhook: { clientConfig } } } });
}

/** The conversion webhook's `service` of a CRD manifest (crds/subscriptions.dapr.io.yaml), parsed. */
export function crdConversionService(crd: unknown): Record<string, unknown> {
  const service = (
    crd as { spec?: { conversion?: { webhook?: { clientConfig?: { service?: unknown } } } } } | undefined
  )?.spec?.conversion?.webhook?.clientConfig?.service;
  if (typeof service !== "object" || service === null)
    throw new Error("the Subscription CRD has no conversion webhook service to restore");
  return service as Record<string, unknown>;
}
