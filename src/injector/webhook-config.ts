// The MutatingWebhookConfiguration that sends pod CREATEs to the injector. In a cluster the Helm
// chart owns the object and the injector only writes its CA into `caBundle`. For a local run
// (`--webhook-url`) the injector registers itself: it creates or updates the whole object.
import type { V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { classifyApiError } from "../shared/api-errors.ts";
import { canonicalJson } from "../shared/canonical-json.ts";
import type { Logger } from "../shared/log.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../sidecar/config-secret.ts";
import type { WebhookConfigClient } from "./kube-clients.ts";
import { retryLoop } from "./retry-loop.ts";

/** The webhook's name inside the configuration (the chart uses the same). */
export const WEBHOOK_NAME = "sidecar-injector.outrigger.dev";

export interface LocalRegistration {
  configName: string;
  /** https://host:port/path of the locally running injector. */
  url: string;
  /** The injector's own namespace: never sent to the webhook, so its pods start while it is down. */
  namespace: string;
  timeoutSeconds: number;
  /** Only namespaces with these labels (e.g. to confine a test run). */
  namespaceLabels?: Record<string, string>;
}

const toBase64 = (pem: string) => Buffer.from(pem).toString("base64");

/** The whole configuration for a local run. */
export function desiredWebhookConfiguration(
  reg: LocalRegistration,
  caBundlePem: string | undefined,
): V1MutatingWebhookConfiguration {
  const namespaces = [...new Set([reg.namespace, "kube-system"])];
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: reg.configName, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: "Fail",
        timeoutSeconds: reg.timeoutSeconds,
        reinvocationPolicy: "IfNeeded",
        matchPolicy: "Equivalent",
        clientConfig: { url: reg.url, ...(caBundlePem ? { caBundle: toBase64(caBundlePem) } : {}) },
        rules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            resources: ["pods"],
            operations: ["CREATE"],
            scope: "Namespaced",
          },
        ],
        namespaceSelector: {
          ...(reg.namespaceLabels && Object.keys(reg.namespaceLabels).length > 0
            ? { matchLabels: reg.namespaceLabels }
            : {}),
          matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: namespaces }],
        },
      },
    ],
  };
}

/** `existing` with every webhook's caBundle set, or undefined when it already is. */
export function withCaBundle(
  existing: V1MutatingWebhookConfiguration,
  caBundlePem: string,
): V1MutatingWebhookConfiguration | undefined {
  const caBundle = toBase64(caBundlePem);
  const webhooks = existing.webhooks ?? [];
  if (webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return undefined;
  return {
    ...existing,
    webhooks: webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } })),
  };
}

/** Does `existing` differ from `desired` in anything we set? */
function differs(existing: V1MutatingWebhookConfiguration, desired: V1MutatingWebhookConfiguration): boolean {
  const ours = (c: V1MutatingWebhookConfiguration) =>
    canonicalJson({
      labels: c.metadata?.labels?.[MANAGED_BY_LABEL],
      webhooks: (c.webhooks ?? []).map((w) => ({
        name: w.name,
        admissionReviewVersions: w.admissionReviewVersions,
        sideEffects: w.sideEffects,
        failurePolicy: w.failurePolicy,
        timeoutSeconds: w.timeoutSeconds,
        reinvocationPolicy: w.reinvocationPolicy,
        matchPolicy: w.matchPolicy,
        clientConfig: {
          url: w.clientConfig.url,
          caBundle: w.clientConfig.caBundle,
          service: w.clientConfig.service,
        },
        rules: w.rules,
        namespaceSelector: w.namespaceSelector,
        objectSelector:
          w.objectSelector && Object.keys(w.objectSelector).length > 0 ? w.objectSelector : undefined,
      })),
    });
  return ours(existing) !== ours(desired);
}

export type PublishOutcome = "created" | "updated" | "unchanged" | "not-found" | "not-ours";

const MAX_ATTEMPTS = 5;

/** Writes the CA bundle into the named configuration made by someone else (the chart). */
export async function publishCaBundle(
  api: WebhookConfigClient,
  name: string,
  caBundlePem: string,
): Promise<PublishOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let existing: V1MutatingWebhookConfiguration;
    try {
      existing = await api.readMutatingWebhookConfiguration({ name });
    } catch (err) {
      if (classifyApiError(err).kind === "not-found") return "not-found";
      throw err;
    }
    const updated = withCaBundle(existing, caBundlePem);
    if (!updated) return "unchanged";
    try {
      // replace carries the resourceVersion we read: a concurrent change makes it fail with 409.
      await api.replaceMutatingWebhookConfiguration({ name, body: updated });
      return "updated";
    } catch (err) {
      if (classifyApiError(err).kind === "conflict") continue;
      throw err;
    }
  }
  throw new Error(`updating the caBundle of MutatingWebhookConfiguration ${name} kept conflicting`);
}

/** Creates or updates the whole configuration of a local run; never one not labelled as ours. */
export async function ensureWebhookConfiguration(
  api: WebhookConfigClient,
  desired: V1MutatingWebhookConfiguration,
): Promise<PublishOutcome> {
  const name = desired.metadata!.name!;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    let existing: V1MutatingWebhookConfiguration | undefined;
    try {
      existing = await api.readMutatingWebhookConfiguration({ name });
    } catch (err) {
      if (classifyApiError(err).kind !== "not-found") throw err;
    }
    try {
      if (!existing) {
        await api.createMutatingWebhookConfiguration({ body: desired });
        return "created";
      }
      if (existing.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return "not-ours";
      if (!differs(existing, desired)) return "unchanged";
      const body = {
        ...desired,
        metadata: {
          ...existing.metadata,
          labels: { ...existing.metadata?.labels, ...desired.metadata?.labels },
        },
      };
      await api.replaceMutatingWebhookConfiguration({ name, body });
      return "updated";
    } catch (err) {
      const kind = classifyApiError(err).kind;
      if (kind === "conflict" || kind === "already-exists") continue;
      throw err;
    }
  }
  throw new Error(`writing MutatingWebhookConfiguration ${name} kept conflicting`);
}

export type WebhookTarget =
  { kind: "chart"; configName: string } | { kind: "local"; registration: LocalRegistration };

export interface WebhookPublisher {
  /** Publishes this bundle now and keeps it published. */
  setCaBundle(caBundlePem: string | undefined): Promise<void>;
  /** The current bundle is in the webhook configuration (as of the last check). */
  isPublished(): boolean;
  /** Stops re-checking; resolves once a write in progress has finished. */
  stop(): Promise<void>;
  /** Local runs only: deletes the configuration this process registered, if it is still ours. */
  unregister(): Promise<void>;
}

/**
 * Keeps the CA bundle in the webhook configuration, re-checking every resyncMs so that a reset
 * (a re-applied manifest) is repaired. Failures are retried with backoff.
 */
export function webhookPublisher(opts: {
  api: WebhookConfigClient;
  target: WebhookTarget;
  log: Logger;
  onError(err: unknown): void;
  resyncMs: number;
  retryMs: number;
  now: () => Date;
}): WebhookPublisher {
  let bundle: string | undefined;
  // Which setCaBundle call is in the configuration: a run may have started before the last one.
  let version = 0;
  let publishedVersion = -1;
  const name = opts.target.kind === "chart" ? opts.target.configName : opts.target.registration.configName;
  const loop = retryLoop(async () => {
    let outcome: PublishOutcome;
    const running = version;
    try {
      if (opts.target.kind === "local") {
        outcome = await ensureWebhookConfiguration(
          opts.api,
          desiredWebhookConfiguration(opts.target.registration, bundle),
        );
      } else if (bundle !== undefined) {
        outcome = await publishCaBundle(opts.api, name, bundle);
      } else {
        outcome = "unchanged"; // trust is managed elsewhere (e.g. cert-manager's CA injector)
      }
    } catch (err) {
      opts.onError(err);
      opts.log.warn(
        { webhookConfiguration: name, err: classifyApiError(err) },
        "could not publish the CA bundle",
      );
      throw err;
    }
    if (outcome === "created" || outcome === "updated" || outcome === "unchanged") publishedVersion = running;
    if (outcome === "created" || outcome === "updated") {
      opts.log.info({ webhookConfiguration: name, outcome }, "webhook configuration written");
    } else if (outcome === "not-found") {
      opts.log.warn({ webhookConfiguration: name }, "MutatingWebhookConfiguration not found; will retry");
      throw new Error("not found");
    } else if (outcome === "not-ours") {
      const message = `MutatingWebhookConfiguration ${name} exists without ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}; not touching it`;
      opts.log.error({ webhookConfiguration: name }, message);
      throw new Error(message);
    }
    return undefined;
  }, opts);
  return {
    async setCaBundle(pem) {
      bundle = pem;
      version++;
      await loop.run();
      // The run joined may have started with the previous bundle; failures retry in the background.
      if (publishedVersion !== version) await loop.run();
    },
    isPublished: () => publishedVersion === version && version > 0,
    stop: () => loop.stop(),
    async unregister() {
      if (opts.target.kind !== "local") return;
      const { configName, url } = opts.target.registration;
      try {
        const existing = await opts.api.readMutatingWebhookConfiguration({ name: configName });
        const ours =
          existing.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE &&
          existing.webhooks?.some((w) => w.clientConfig.url === url);
        if (!ours) return;
        await opts.api.deleteMutatingWebhookConfiguration({
          name: configName,
          body: { preconditions: { resourceVersion: existing.metadata?.resourceVersion } },
        });
        opts.log.info({ webhookConfiguration: configName }, "webhook configuration removed");
      } catch (err) {
        const kind = classifyApiError(err).kind;
        if (kind !== "not-found" && kind !== "conflict") {
          opts.log.warn(
            { webhookConfiguration: configName, err: classifyApiError(err) },
            "could not remove the webhook configuration",
          );
        }
      }
    },
  };
}
