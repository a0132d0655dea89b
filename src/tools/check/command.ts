// `outrigger check [--pre] [-o json]`: checks an installation (or, with --pre, a cluster before
// one) and prints one line per check, ✓ ok, ‼ warning, ✗ failure with a hint, like `linkerd
// check`. Exits 1 on any failure. The checks are pure (checks.ts); read.ts gathers their inputs.
import {
  flagReader,
  stringFlag as str,
  type Command,
  type Flag,
  type FlagValues,
  type Problems,
} from "../../shared/command.ts";
import { createKubeHttp, type KubeHttp } from "../../shared/kube-http.ts";
import { KubeconfigError, loadApiEndpoint } from "../../shared/kubeconfig.ts";
import type { SidecarDefaults } from "../../sidecar/defaults.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "../../sidecar/flags.ts";
import { TRUST_BUNDLE_CONFIGMAP } from "../../sidecar/identity.ts";
import { trustBundleOf, type TrustBundle } from "../../controller/trust-bundle.ts";
import {
  admissionChecks,
  appChecks,
  controllerChecks,
  crdChecks,
  dryRunCheck,
  exitCodeOf,
  kubernetesVersionCheck,
  podChecks,
  rbacChecks,
  readinessChecks,
  webhookChecks,
  type CheckResult,
} from "./checks.ts";
import {
  chartKubeVersion,
  packagedCrds,
  readAdmissionApi,
  readApiServerMetrics,
  readAppObjects,
  readCrds,
  readDeployment,
  readDryRunPod,
  readInstallerAccess,
  readConfigMap,
  readLease,
  readServingCertificate,
  readSidecarConfigSecrets,
  readStatused,
  readVersion,
  readWebhookConfig,
  STATUSED_KINDS,
} from "./read.ts";

const options: Record<string, Flag> = {
  kubeconfig: str("Path to a kubeconfig (default: $KUBECONFIG, else ~/.kube/config)"),
  pre: {
    type: "boolean",
    default: false,
    description: "Check the cluster before an install instead of the installation",
  },
  output: { type: "string", short: "o", default: "text", description: "text, or json (the results as data)" },
  namespace: str("Namespace Outrigger is installed in", "outrigger-system"),
  "webhook-config-name": str("The injector's MutatingWebhookConfiguration", "outrigger-injector"),
  "cert-secret-name": str("The injector's certificate Secret", "outrigger-injector-tls"),
  "controller-lease-name": str("The controller's leader-election Lease", "outrigger-controller"),
  "controller-deployment": str("The controller's Deployment", "outrigger-controller"),
  "dry-run-namespace": str("Namespace of the dry-run pod (one the webhook sees)", "default"),
  "app-namespace": str("Check the apps, resources and pods of this namespace only (default: all)"),
  // Stale sidecars are judged against the same defaults as the controller's.
  ...sidecarDefaultsFlags,
};

export interface CheckConfig {
  kubeconfig?: string;
  pre: boolean;
  output: "text" | "json";
  namespace: string;
  webhookConfigName: string;
  certSecretName: string;
  leaseName: string;
  controllerDeployment: string;
  dryRunNamespace: string;
  appNamespace?: string;
  sidecarDefaults: SidecarDefaults;
}

export function checkConfig(values: FlagValues): CheckConfig | Problems {
  const problems: string[] = [];
  const { get, need, oneOf } = flagReader(options, values, problems);
  const output = oneOf("output", ["text", "json"] as const);
  const sidecarDefaults = sidecarDefaultsFromFlags(values, problems);
  if (problems.length > 0) return { problems };
  const kubeconfig = get("kubeconfig");
  const appNamespace = get("app-namespace");
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    pre: values.pre === true,
    output,
    namespace: need("namespace"),
    webhookConfigName: need("webhook-config-name"),
    certSecretName: need("cert-secret-name"),
    leaseName: need("controller-lease-name"),
    controllerDeployment: need("controller-deployment"),
    dryRunNamespace: need("dry-run-namespace"),
    ...(appNamespace ? { appNamespace } : {}),
    sidecarDefaults,
  };
}

/**
 * With mTLS, Sentry's trust bundle, to report pods whose trust anchors lack one of its roots;
 * unreadable or absent, those pods are not judged (the other checks say why Sentry is missing).
 */
async function readTrustBundle(http: KubeHttp, defaults: SidecarDefaults): Promise<TrustBundle | undefined> {
  if (!defaults.mtls) return undefined;
  const cm = await readConfigMap(http, defaults.mtls.sentryNamespace, TRUST_BUNDLE_CONFIGMAP);
  return cm.ok ? trustBundleOf(cm.value) : undefined;
}

/** The checks before an install: version, admission plugins, the installer's RBAC. */
export async function preInstallResults(http: KubeHttp, c: CheckConfig): Promise<CheckResult[]> {
  const version = await readVersion(http);
  return [
    kubernetesVersionCheck(version, chartKubeVersion()),
    ...admissionChecks(version, await readAdmissionApi(http), await readApiServerMetrics(http)),
    ...rbacChecks(await readInstallerAccess(http, c.namespace)),
  ];
}

/** The checks of an installation. */
export async function installationResults(
  http: KubeHttp,
  c: CheckConfig,
  now: () => Date,
): Promise<CheckResult[]> {
  const expected = packagedCrds();
  const webhook = await readWebhookConfig(http, c.webhookConfigName);
  const objects = await readAppObjects(http, c.appNamespace);
  const statused = [];
  for (const [kind, rt] of STATUSED_KINDS)
    statused.push(readinessChecks(kind, await readStatused(http, rt, c.appNamespace)));
  return [
    ...crdChecks(
      expected,
      await readCrds(
        http,
        expected.map((crd) => crd.metadata.name),
      ),
    ),
    ...webhookChecks(
      c.webhookConfigName,
      webhook,
      await readServingCertificate(http, webhook, c.namespace, c.certSecretName),
      now(),
    ),
    dryRunCheck(c.dryRunNamespace, await readDryRunPod(http, c.dryRunNamespace)),
    ...controllerChecks(
      c.leaseName,
      await readLease(http, c.namespace, c.leaseName),
      await readDeployment(http, c.namespace, c.controllerDeployment),
      now(),
    ),
    appChecks(objects, await readSidecarConfigSecrets(http, c.appNamespace)),
    ...statused,
    ...podChecks(
      objects.ok ? { ok: true, value: objects.value.pods } : objects,
      c.sidecarDefaults,
      new Set(["kube-system", c.namespace]),
      await readTrustBundle(http, c.sidecarDefaults),
    ),
  ];
}

const MARK = { ok: "✓", warn: "‼", fail: "✗" } as const;

/** The results as lines under their category, linkerd-style. Pure. */
export function renderText(results: readonly CheckResult[]): string {
  const out: string[] = [];
  let category: string | undefined;
  for (const r of results) {
    if (r.category !== category) {
      if (category !== undefined) out.push("");
      out.push(r.category, "-".repeat(r.category.length));
      category = r.category;
    }
    out.push(`${MARK[r.status]} ${r.name}${r.status === "ok" && r.message ? ` (${r.message})` : ""}`);
    if (r.status !== "ok") {
      if (r.message) out.push(`    ${r.message}`);
      if (r.hint) out.push(`    hint: ${r.hint}`);
    }
  }
  const count = (s: CheckResult["status"]) => results.filter((r) => r.status === s).length;
  out.push(
    "",
    `Status check results: ${count("ok")} ok, ${count("warn")} warning${count("warn") === 1 ? "" : "s"}, ${count("fail")} failed`,
  );
  return out.join("\n");
}

export const checkCommand: Command<CheckConfig> = {
  summary: "Check a cluster before an install (--pre), or an installation",
  usage: "outrigger check [--pre] [-o json] [flags]",
  options,
  config: checkConfig,
  async run(c) {
    let http: KubeHttp;
    try {
      http = createKubeHttp(loadApiEndpoint(c.kubeconfig));
    } catch (err) {
      if (!(err instanceof KubeconfigError)) throw err;
      console.error(`outrigger check: ${err.message}`);
      return 2;
    }
    const results = c.pre
      ? await preInstallResults(http, c)
      : await installationResults(http, c, () => new Date());
    if (c.output === "json") console.log(JSON.stringify({ results, ok: exitCodeOf(results) === 0 }, null, 2));
    else console.log(renderText(results));
    return exitCodeOf(results);
  },
};
