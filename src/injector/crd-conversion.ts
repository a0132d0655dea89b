// The Subscription CRD's conversion webhook points at the injector's POST /convert. The chart
// (or crds/) owns the CRD; the injector keeps `spec.conversion.webhook.clientConfig.caBundle`
// equal to its CA bundle, as it does for the MutatingWebhookConfiguration. It writes nothing
// else: not even for a local run does it point clientConfig at its own URL, because a CRD whose
// `service` was replaced by a `url` cannot be server-side applied from crds/ again ("exactly one
// of url or service"). A missing CRD is not an error of the injector: pods are admitted without
// it; the publisher logs it and looks again at its next resync.
import type { Logger } from "../shared/log.ts";
import { classifyApiError } from "../shared/api-errors.ts";
import type { KubeHttp } from "../shared/kube-http.ts";
import { retryLoop } from "./retry-loop.ts";

/** The CRD whose conversion the injector serves. */
export const CONVERSION_CRD = "subscriptions.dapr.io";
export const CONVERT_PATH = "/convert";

interface ClientConfig {
  url?: string;
  service?: Record<string, unknown>;
  caBundle?: string;
}

export interface ConversionCrd {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string };
  spec?: {
    conversion?: { strategy?: string; webhook?: { clientConfig?: ClientConfig; [k: string]: unknown } };
    [k: string]: unknown;
  };
}

export interface CrdClient {
  read(name: string): Promise<ConversionCrd>;
  replace(name: string, body: ConversionCrd): Promise<ConversionCrd>;
}

export function crdClient(http: KubeHttp): CrdClient {
  const path = (name: string) =>
    `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`;
  return {
    read: (name) => http.json<ConversionCrd>({ path: path(name) }),
    replace: (name, body) => http.json<ConversionCrd>({ method: "PUT", path: path(name), body }),
  };
}

/**
 * `crd` with the conversion webhook's caBundle set, or undefined when it already says so or
 * converts with no webhook. Pure.
 */
export function withConversionCaBundle(crd: ConversionCrd, caBundlePem: string): ConversionCrd | undefined {
  const conversion = crd.spec?.conversion;
  if (conversion?.strategy !== "Webhook") return undefined;
  const webhook = conversion.webhook ?? {};
  const current = webhook.clientConfig ?? {};
  const caBundle = Buffer.from(caBundlePem).toString("base64");
  const clientConfig: ClientConfig = { ...current, caBundle };
  if (current.caBundle === caBundle) return undefined;
  return {
    ...crd,
    spec: { ...crd.spec, conversion: { ...conversion, webhook: { ...webhook, clientConfig } } },
  };
}

export type ConversionPublishOutcome = "updated" | "unchanged" | "not-found" | "no-webhook";

/** Writes the bundle into the CRD; a concurrent change (409) is read again. */
export async function publishConversionCaBundle(
  api: CrdClient,
  name: string,
  caBundlePem: string,
): Promise<ConversionPublishOutcome> {
  for (let attempt = 0; attempt < 5; attempt++) {
    let existing: ConversionCrd;
    try {
      existing = await api.read(name);
    } catch (err) {
      if (classifyApiError(err).kind === "not-found") return "not-found";
      throw err;
    }
    if (existing.spec?.conversion?.strategy !== "Webhook") return "no-webhook";
    const updated = withConversionCaBundle(existing, caBundlePem);
    if (!updated) return "unchanged";
    try {
      await api.replace(name, updated);
      return "updated";
    } catch (err) {
      if (classifyApiError(err).kind === "conflict") continue;
      throw err;
    }
  }
  throw new Error(`updating the conversion caBundle of CRD ${name} kept conflicting`);
}

export interface ConversionPublisher {
  setCaBundle(caBundlePem: string | undefined): Promise<void>;
  stop(): Promise<void>;
}

/** Keeps the CRD's conversion caBundle current, re-checking every resyncMs (a re-applied CRD is repaired). */
export function conversionPublisher(opts: {
  api: CrdClient;
  crdName: string;
  log: Logger;
  resyncMs: number;
  retryMs: number;
  now: () => Date;
}): ConversionPublisher {
  let bundle: string | undefined;
  let lastOutcome: ConversionPublishOutcome | undefined;
  const loop = retryLoop(async () => {
    if (bundle === undefined) return undefined; // trust is managed elsewhere
    let outcome: ConversionPublishOutcome;
    try {
      outcome = await publishConversionCaBundle(opts.api, opts.crdName, bundle);
    } catch (err) {
      opts.log.warn(
        { crd: opts.crdName, err: classifyApiError(err) },
        "could not publish the conversion caBundle",
      );
      throw err;
    }
    if (outcome !== lastOutcome || outcome === "updated") {
      if (outcome === "updated") opts.log.info({ crd: opts.crdName }, "conversion webhook caBundle written");
      else if (outcome === "not-found")
        opts.log.warn({ crd: opts.crdName }, "CRD not found; Subscription conversion is not registered yet");
      else if (outcome === "no-webhook")
        opts.log.warn({ crd: opts.crdName }, "CRD does not convert through a webhook; leaving it alone");
    }
    lastOutcome = outcome;
    return undefined;
  }, opts);
  return {
    async setCaBundle(pem) {
      bundle = pem;
      await loop.run();
    },
    stop: () => loop.stop(),
  };
}
