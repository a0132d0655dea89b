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
