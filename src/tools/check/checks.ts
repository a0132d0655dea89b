// The checks of `outrigger check`: each a pure function from what was read (objects, texts, the
// clock) to results. Reading is the reader's job (read.ts); a failed read arrives as a `Read`
// with its error, and the check says what could not be known. Nothing here calls the cluster.
import { X509Certificate } from "node:crypto";
import type {
  V1Deployment,
  V1Lease,
  V1MutatingWebhookConfiguration,
  V1Pod,
  V1Secret,
} from "@kubernetes/client-node";
import type { CustomResourceDefinition } from "../../apis/crd-schema.ts";
import { READY_CONDITION } from "../../apis/resources.ts";
import type { Condition } from "../../apis/types.ts";
import { appsFromObjects, type AppObjects } from "../../controller/apps.ts";
import { staleSidecar } from "../../controller/stale-sidecars.ts";
import type { TrustBundle } from "../../controller/trust-bundle.ts";
import { uninjectedPod } from "../../controller/uninjected-pods.ts";
import { certificateTimes, isSignedBy, splitPemBundle } from "../../injector/certs.ts";
import { canonicalJson } from "../../shared/canonical-json.ts";
import { APP_ID_LABEL, MANAGED_BY_LABEL, sidecarConfigSecretName } from "../../sidecar/config-secret.ts";
import type { SidecarDefaults } from "../../sidecar/defaults.ts";
import { SIDECAR_CONTAINER_NAME } from "../../sidecar/resolve.ts";

export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  /** The group it is printed under, e.g. "crds". */
  category: string;
  /** What was checked, phrased as the property that holds when it is ok. */
  name: string;
  status: CheckStatus;
  /** What was found, when it is not ok (or worth saying when it is). */
  message?: string;
  /** What to do about it. */
  hint?: string;
}

/** Something the reader tried to read: the value, or why it could not. */
export type Read<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = (category: string, name: string, message?: string): CheckResult => ({
  category,
  name,
  status: "ok",
  ...(message ? { message } : {}),
});
const bad = (
  status: "warn" | "fail",
  category: string,
  name: string,
  message: string,
  hint?: string,
): CheckResult => ({ category, name, status, message, ...(hint ? { hint } : {}) });

/** The results' exit code: 1 when any failed, else 0 (warnings do not fail). */
export function exitCodeOf(results: readonly CheckResult[]): number {
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

// ---- pre-install ------------------------------------------------------------------------------

/** "v1.36.3+k3s1" -> [1, 36, 3]; undefined when it is no version. */
export function parseKubeVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** The minimum of a chart's `kubeVersion: ">=1.30.0-0"`. */
export function minimumOfConstraint(constraint: string): [number, number, number] | undefined {
  const m = /^\s*>=\s*(\S+)\s*$/.exec(constraint);
  return m?.[1] ? parseKubeVersion(m[1]) : undefined;
}

const atLeast = (v: readonly number[], min: readonly number[]) => {
  for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== (min[i] ?? 0)) return (v[i] ?? 0) > (min[i] ?? 0);
  return true;
};

/** The API server's version against the chart's kubeVersion. */
export function kubernetesVersionCheck(gitVersion: Read<string>, chartKubeVersion: string): CheckResult {
  const name = `Kubernetes version is ${chartKubeVersion}`;
  if (!gitVersion.ok)
    return bad(
      "fail",
      "kubernetes",
      name,
      `cannot read /version: ${gitVersion.error}`,
      "check the kubeconfig",
    );
  const v = parseKubeVersion(gitVersion.value);
  const min = minimumOfConstraint(chartKubeVersion);
  if (!v || !min)
    return bad("fail", "kubernetes", name, `cannot compare ${gitVersion.value} with ${chartKubeVersion}`);
  return atLeast(v, min)
    ? ok("kubernetes", name, `the API server is ${gitVersion.value}`)
    : bad(
        "fail",
        "kubernetes",
        name,
        `the API server is ${gitVersion.value}`,
        `upgrade the cluster to ${min.join(".")} or later`,
      );
}

/** Samples of one metric in Prometheus text format, as label maps with their value. */
export function metricSamples(
  text: string,
  metric: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * The admission plugins the injector needs. Neither can be read from the API server's flags
 * from outside, so the evidence is its own /metrics when readable (admission plugins it has run,
 * feature gates it has on) and else what the version implies.
 */
export function admissionChecks(
  gitVersion: Read<string>,
  admissionApi: Read<boolean>,
  metrics: Read<string>,
): CheckResult[] {
  const cat = "admission";
  const webhook = "MutatingAdmissionWebhook is enabled";
  const sidecars = "native sidecars (SidecarContainers) are on";
  const out: CheckResult[] = [];
  if (!admissionApi.ok || !admissionApi.value) {
    out.push(
      bad(
        "fail",
        cat,
        webhook,
        admissionApi.ok
          ? "the API server does not serve admissionregistration.k8s.io/v1 mutatingwebhookconfigurations"
          : `cannot read API discovery: ${admissionApi.error}`,
        "enable the admissionregistration.k8s.io/v1 API and the MutatingAdmissionWebhook admission plugin",
      ),
    );
  } else if (metrics.ok) {
    const ran = metricSamples(
      metrics.value,
      "apiserver_admission_controller_admission_duration_seconds_count",
    )
      .filter((s) => s.labels.name === "MutatingAdmissionWebhook")
      .some((s) => s.value > 0);
    out.push(
      ran
        ? ok(cat, webhook, "run by the API server, per its /metrics")
        : bad(
            "fail",
            cat,
            webhook,
            "the API server's /metrics show no run of MutatingAdmissionWebhook",
            "remove MutatingAdmissionWebhook from the API server's --disable-admission-plugins",
          ),
    );
  } else {
    out.push(
      ok(
        cat,
        webhook,
        `the webhook API is served; on by default, but the API server's flags cannot be read (/metrics: ${metrics.error})`,
      ),
    );
  }
  const feature = metrics.ok
    ? metricSamples(metrics.value, "kubernetes_feature_enabled").find(
        (s) => s.labels.name === "SidecarContainers",
      )
    : undefined;
  const v = gitVersion.ok ? parseKubeVersion(gitVersion.value) : undefined;
  if (feature)
    out.push(
      feature.value === 1
        ? ok(cat, sidecars, `feature gate on, ${feature.labels.stage || "GA"}`)
        : bad(
            "fail",
            cat,
            sidecars,
            "feature gate SidecarContainers is off",
            'turn the gate on, or inject with dapr.io/sidecar-native: "false" (classic sidecars)',
          ),
    );
  else if (v && atLeast(v, [1, 33, 0])) out.push(ok(cat, sidecars, "GA since Kubernetes 1.33"));
  else if (v && atLeast(v, [1, 29, 0]))
    out.push(ok(cat, sidecars, "beta and on by default in 1.29 to 1.32; the feature gate could not be read"));
  else
    out.push(
      bad(
        "fail",
        cat,
        sidecars,
        v ? `Kubernetes ${v.join(".")} has no native sidecars by default` : "the version could not be read",
        "use Kubernetes 1.29 or later",
      ),
    );
  return out;
}

/** One SelfSubjectAccessReview: may the caller `verb` `resource` (in `namespace`)? */
export interface AccessReview {
  group: string;
  resource: string;
  verb: string;
  namespace?: string;
  allowed: Read<boolean>;
}

/** The installer's permissions, one result per resource (all its verbs). */
export function rbacChecks(reviews: readonly AccessReview[]): CheckResult[] {
  const byResource = new Map<string, AccessReview[]>();
  for (const r of reviews) {
    const key = `${r.resource}${r.group ? `.${r.group}` : ""}${r.namespace ? ` in ${r.namespace}` : ""}`;
    byResource.set(key, [...(byResource.get(key) ?? []), r]);
  }
  return [...byResource].map(([key, rs]) => {
    const verbs = rs.map((r) => r.verb).join(", ");
    const failed = rs.find((r) => !r.allowed.ok);
    if (failed && !failed.allowed.ok)
      return bad("fail", "rbac", `can ${verbs} ${key}`, `cannot ask: ${failed.allowed.error}`);
    const denied = rs.filter((r) => r.allowed.ok && !r.allowed.value).map((r) => r.verb);
    return denied.length === 0
      ? ok("rbac", `can ${verbs} ${key}`)
      : bad(
          "fail",
          "rbac",
          `can ${verbs} ${key}`,
          `not allowed to ${denied.join(", ")}`,
          "install as a cluster admin",
        );
  });
}

// ---- CRDs -------------------------------------------------------------------------------------

/** What of a CRD version must match the package's: a drift here means another version's schema. */
function comparableVersions(crd: CustomResourceDefinition): string {
  return canonicalJson(
    crd.spec.versions.map((v) => ({
      name: v.name,
      served: v.served,
      storage: v.storage,
      schema: v.schema,
      subresources: v.subresources ?? null,
      columns: v.additionalPrinterColumns ?? [],
    })),
  );
}

function conditionOf(crd: unknown, type: string): { status?: string; message?: string } | undefined {
  const conditions = (
    crd as { status?: { conditions?: Array<{ type: string; status?: string; message?: string }> } }
  ).status?.conditions;
  return conditions?.find((c) => c.type === type);
}

/** Each CRD of the package: present, Established and with this version's schemas. */
export function crdChecks(
  expected: readonly CustomResourceDefinition[],
  actual: Read<ReadonlyMap<string, CustomResourceDefinition>>,
): CheckResult[] {
  if (!actual.ok)
    return [
      bad("fail", "crds", "the CRDs can be read", actual.error, "check the kubeconfig and its permissions"),
    ];
  return expected.map((want) => {
    const name = want.metadata.name;
    const title = `CRD ${name} is Established and matches this version`;
    const have = actual.value.get(name);
    if (!have)
      return bad(
        "fail",
        "crds",
        title,
        "not installed",
        "apply the CRDs: kubectl apply --server-side -f crds/",
      );
    const established = conditionOf(have, "Established");
    if (established?.status !== "True")
      return bad(
        "fail",
        "crds",
        title,
        `not Established${established?.message ? `: ${established.message}` : ""}`,
        "kubectl describe crd " + name,
      );
    if (comparableVersions(have) !== comparableVersions(want))
      return bad(
        "fail",
        "crds",
        title,
        "its versions or schemas differ from this version's",
        "apply this version's CRDs: kubectl apply --server-side -f crds/",
      );
    return ok("crds", title);
  });
}

// ---- webhook ----------------------------------------------------------------------------------

/** The injector's serving certificate, as presented over TLS or as stored in its Secret. */
export interface ServingCertificate {
  pem: string;
  source: string;
  /** The names the API server checks it against (the URL's host, or the Service's DNS name). */
  hostname: string;
}

export const MIN_CERT_VALIDITY_DAYS = 30;
const DAY_MS = 86_400_000;

/** Whether the certificate (PEM) is valid for the host name or IP address. */
function certificateNames(pem: string, host: string): boolean {
  try {
    const x = new X509Certificate(pem);
    return Boolean(x.checkHost(host) ?? x.checkIP(host));
  } catch {
    return false;
  }
}

/** The webhook configuration, its caBundle against the injector's certificate, and that certificate's validity. */
export function webhookChecks(
  configName: string,
  config: Read<V1MutatingWebhookConfiguration | undefined>,
  serving: Read<ServingCertificate>,
  now: Date,
): CheckResult[] {
  const cat = "webhook";
  const exists = `MutatingWebhookConfiguration ${configName} exists`;
  if (!config.ok) return [bad("fail", cat, exists, `cannot read it: ${config.error}`)];
  if (!config.value)
    return [bad("fail", cat, exists, "not found", "install the chart, or pass --webhook-config-name")];
  const out = [ok(cat, exists)];
  const hooks = config.value.webhooks ?? [];
  const verifies = "its caBundle verifies the injector's serving certificate";
  const bundles = hooks.map((h) => Buffer.from(h.clientConfig.caBundle ?? "", "base64").toString("utf8"));
  const empty = hooks.filter((_, i) => splitPemBundle(bundles[i] ?? "").length === 0).map((h) => h.name);
  if (hooks.length === 0) out.push(bad("fail", cat, verifies, "it has no webhooks"));
  else if (empty.length > 0)
    out.push(
      bad(
        "fail",
        cat,
        verifies,
        `no caBundle in webhook ${empty.join(", ")}: the API server cannot call the injector`,
        "the injector writes it when it starts and every --resync-interval: check that it runs and its logs",
      ),
    );
  else if (!serving.ok)
    out.push(bad("fail", cat, verifies, `cannot get the serving certificate: ${serving.error}`));
  else {
    const cas = bundles.map(splitPemBundle);
    const unverified = hooks.filter(
      (_, i) => !(cas[i] ?? []).some((ca) => isSignedBy(serving.value.pem, ca)),
    );
    const hostOk = certificateNames(serving.value.pem, serving.value.hostname);
    if (unverified.length > 0)
      out.push(
        bad(
          "fail",
          cat,
          verifies,
          `the certificate (${serving.value.source}) is not signed by the caBundle of ${unverified.map((h) => h.name).join(", ")}`,
          "restart the injector so it publishes its current CA",
        ),
      );
    else if (!hostOk)
      out.push(
        bad(
          "fail",
          cat,
          verifies,
          `the certificate (${serving.value.source}) is not valid for ${serving.value.hostname}`,
        ),
      );
    else out.push(ok(cat, verifies, `certificate from ${serving.value.source}`));
  }
  const validFor = `the serving certificate is valid for at least ${MIN_CERT_VALIDITY_DAYS} days`;
  const times = serving.ok ? certificateTimes(serving.value.pem) : undefined;
  if (!serving.ok || !times) out.push(bad("fail", cat, validFor, "no certificate to read"));
  else {
    const days = Math.floor((times.notAfter.getTime() - now.getTime()) / DAY_MS);
    const until = times.notAfter.toISOString();
    out.push(
      now < times.notBefore
        ? bad("fail", cat, validFor, `not valid before ${times.notBefore.toISOString()}`, "check the clocks")
        : days >= MIN_CERT_VALIDITY_DAYS
          ? ok(cat, validFor, `until ${until}, ${days} days`)
          : bad(
              "warn",
              cat,
              validFor,
              `expires ${until}, in ${Math.max(days, 0)} days`,
              "the injector renews at two thirds of --cert-validity; check that it runs",
            ),
    );
  }
  return out;
}

/** A server-side dry-run of an annotated pod: the answer, or the error. */
export function dryRunCheck(namespace: string, answer: Read<V1Pod>): CheckResult {
  const name = `a dry-run pod in ${namespace} gets the daprd sidecar`;
  if (!answer.ok)
    return bad(
      "fail",
      "webhook",
      name,
      answer.error,
      "check that the injector runs and is reachable from the API server",
    );
  const containers = [...(answer.value.spec?.initContainers ?? []), ...(answer.value.spec?.containers ?? [])];
  return containers.some((c) => c.name === SIDECAR_CONTAINER_NAME)
    ? ok("webhook", name)
    : bad(
        "fail",
        "webhook",
        name,
        "the pod came back without a daprd container",
        `check the webhook's namespaceSelector and objectSelector against namespace ${namespace} (--dry-run-namespace)`,
      );
}

// ---- controller -------------------------------------------------------------------------------

/** A leader whose Lease was renewed within its duration; and the Deployment's readiness, if there is one. */
export function controllerChecks(
  leaseName: string,
  lease: Read<V1Lease | undefined>,
  deployment: Read<V1Deployment | undefined>,
  now: Date,
): CheckResult[] {
  const cat = "controller";
  const leader = `the controller has a leader (Lease ${leaseName})`;
  const out: CheckResult[] = [];
  if (!lease.ok) out.push(bad("fail", cat, leader, `cannot read the Lease: ${lease.error}`));
  else if (!lease.value)
    out.push(bad("fail", cat, leader, "no Lease: no controller has ever led here", "start the controller"));
  else {
    const { holderIdentity, renewTime, leaseDurationSeconds } = lease.value.spec ?? {};
    const renewed = renewTime ? new Date(renewTime as unknown as string).getTime() : NaN;
    const expires = renewed + (leaseDurationSeconds ?? 0) * 1000;
    if (!holderIdentity)
      out.push(
        bad(
          "fail",
          cat,
          leader,
          "the Lease has no holder (released)",
          "start the controller, or check its logs",
        ),
      );
    else if (!(expires >= now.getTime()))
      out.push(
        bad(
          "fail",
          cat,
          leader,
          `${holderIdentity} last renewed ${Number.isNaN(renewed) ? "never" : new Date(renewed).toISOString()}, more than ${leaseDurationSeconds ?? 0} s ago`,
          "the controller is stopped or cannot reach the API server: check its pods and logs",
        ),
      );
    else out.push(ok(cat, leader, `held by ${holderIdentity}`));
  }
  const ready = "the controller Deployment is ready";
  if (!deployment.ok) out.push(bad("fail", cat, ready, `cannot read it: ${deployment.error}`));
  else if (!deployment.value)
    out.push(
      bad(
        "warn",
        cat,
        ready,
        "no Deployment found (a controller run outside the cluster?)",
        "pass --controller-deployment",
      ),
    );
  else {
    const want = deployment.value.spec?.replicas ?? 1;
    const have = deployment.value.status?.readyReplicas ?? 0;
    out.push(
      have >= 1
        ? ok(cat, ready, `${have}/${want} replicas ready`)
        : bad(
            "fail",
            cat,
            ready,
            `0/${want} replicas ready`,
            "kubectl describe deployment " + deployment.value.metadata?.name,
          ),
    );
  }
  return out;
}

// ---- apps and resources -----------------------------------------------------------------------

/** Every app (from the pods and workloads) has its sidecar-config Secret. */
export function appChecks(objects: Read<AppObjects>, secrets: Read<readonly V1Secret[]>): CheckResult {
  const name = "every app has its sidecar config";
  if (!objects.ok) return bad("fail", "apps", name, `cannot list pods and workloads: ${objects.error}`);
  if (!secrets.ok)
    return bad("fail", "apps", name, `cannot list the sidecar-config Secrets: ${secrets.error}`);
  const have = new Set(
    secrets.value
      .filter((s) => s.metadata?.labels?.[MANAGED_BY_LABEL] && s.metadata.labels[APP_ID_LABEL])
      .map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`),
  );
  const { apps } = appsFromObjects(objects.value);
  const missing = apps
    .filter((a) => !have.has(`${a.namespace}/${sidecarConfigSecretName(a.appId)}`))
    .map((a) => `${a.namespace}/${a.appId}`)
    .sort();
  return missing.length === 0
    ? ok("apps", name, `${apps.length} app${apps.length === 1 ? "" : "s"}`)
    : bad(
        "fail",
        "apps",
        name,
        `${missing.length} of ${apps.length} without one: ${listed(missing)}`,
        "check that the controller leads and its logs for these apps",
      );
}

/** A resource as status reads it. */
export interface StatusedResource {
  kind: string;
  metadata?: { namespace?: string; name?: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}

/** Every resource of each kind is Ready for its current generation. */
export function readinessChecks(kind: string, items: Read<readonly StatusedResource[]>): CheckResult {
  const name = `every ${kind} is Ready`;
  if (!items.ok) return bad("fail", "resources", name, `cannot list them: ${items.error}`);
  const notReady = items.value
    .filter((r) => {
      const ready = r.status?.conditions?.find((c) => c.type === READY_CONDITION);
      return ready?.status !== "True" || r.status?.observedGeneration !== r.metadata?.generation;
    })
    .map((r) => {
      const ready = r.status?.conditions?.find((c) => c.type === READY_CONDITION);
      const why = ready ? `${ready.reason}` : "no status yet";
      return `${r.metadata?.namespace}/${r.metadata?.name} (${why})`;
    })
    .sort();
  const n = items.value.length;
  return notReady.length === 0
    ? ok("resources", name, `${n} found`)
    : bad(
        "fail",
        "resources",
        name,
        `${notReady.length} of ${n} not Ready: ${listed(notReady)}`,
        `kubectl describe ${kind.toLowerCase()} -n <namespace> <name> shows why`,
      );
}

/** Stale sidecars and un-injected pods: counted, as warnings (the pods run, on what they had). */
export function podChecks(
  pods: Read<readonly V1Pod[]>,
  defaults: SidecarDefaults,
  excludedNamespaces: ReadonlySet<string>,
  trustBundle?: TrustBundle,
): CheckResult[] {
  if (!pods.ok) return [bad("fail", "pods", "pods can be listed", pods.error)];
  const stale = pods.value
    .flatMap((p) => staleSidecar(p, defaults, undefined, trustBundle) ?? [])
    .map((s) => `${s.namespace}/${s.pod}`);
  const missing = pods.value
    .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
    .filter((p) => {
      const names = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name);
      return !names.includes(SIDECAR_CONTAINER_NAME);
    })
    .flatMap((p) => uninjectedPod(p, excludedNamespaces) ?? [])
    .map((u) => `${u.namespace}/${u.pod}`);
  return [
    stale.length === 0
      ? ok("pods", "no pod runs a stale sidecar")
      : bad(
          "warn",
          "pods",
          "no pod runs a stale sidecar",
          `${stale.length} do: ${listed(stale.sort())}`,
          "restart their workloads (docs/upgrade.md)",
        ),
    missing.length === 0
      ? ok("pods", "every pod that asks for a sidecar has one")
      : bad(
          "warn",
          "pods",
          "every pod that asks for a sidecar has one",
          `${missing.length} do not (the webhook was not called when they were created): ${listed(missing.sort())}`,
          "delete them so their owners recreate them through the webhook",
        ),
  ];
}

function listed(items: readonly string[], max = 5): string {
  const more = items.length > max ? ` and ${items.length - max} more` : "";
  return items.slice(0, max).join(", ") + more;
}
