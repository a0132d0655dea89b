// `outrigger explain pod/<name>` and `explain app/<app-id>`: a thin reader over the cluster; the
// explanation itself is explain.ts. The sidecar defaults come from the injector's flags or, with
// --from-cluster, from the injector Deployment, as for `outrigger inject`.
import type { V1Pod, V1Secret } from "@kubernetes/client-node";
import {
  flagReader,
  stringFlag as str,
  type Command,
  type Flag,
  type FlagValues,
  type Problems,
} from "../shared/command.ts";
import { createKubeHttp, jsonOrUndefined, type KubeHttp } from "../shared/kube-http.ts";
import { KubeconfigError, loadApiEndpoint } from "../shared/kubeconfig.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "../sidecar/flags.ts";
import { resourcePath, resources, type ResourceType } from "../controller/runtime/resource.ts";
import type { AppObjects } from "../controller/apps.ts";
import {
  DELIVERED_KINDS,
  type DeliveredKind,
  type DeliveredResource,
} from "../controller/delivered-kinds.ts";
import { sidecarConfigSecretName } from "../sidecar/config-secret.ts";
import type { Component, Configuration } from "../apis/types.ts";
import { explainApp, explainPod, formatAppExplanation, formatPodExplanation } from "./explain.ts";
import { fromClusterConflicts, sidecarDefaultsOfDeployment } from "./inject-command.ts";

const options: Record<string, Flag> = {
  namespace: {
    ...str("Namespace of the pod or app (default: the kubeconfig context's, else default)"),
    short: "n",
  },
  kubeconfig: str("Path to a kubeconfig (default: $KUBECONFIG, else ~/.kube/config)"),
  "from-cluster": {
    type: "boolean",
    description: "Take the sidecar defaults from the injector Deployment in the cluster",
  },
  "injector-namespace": str("With --from-cluster: namespace of the injector Deployment", "outrigger-system"),
  "injector-deployment": str("With --from-cluster: name of the injector Deployment", "outrigger-injector"),
  ...sidecarDefaultsFlags,
};

export interface ExplainConfig {
  target: { kind: "pod" | "app"; name: string };
  namespace?: string;
  kubeconfig?: string;
  defaults:
    { from: "flags"; settings: SidecarDefaults } | { from: "cluster"; namespace: string; deployment: string };
}

export function explainConfig(
  values: FlagValues,
  positionals: readonly string[] = [],
): ExplainConfig | Problems {
  const problems: string[] = [];
  const { get, need } = flagReader(options, values, problems);
  const settings = sidecarDefaultsFromFlags(values, problems);
  const [what, ...extra] = positionals;
  const m = /^(pod|pods|po|app)\/(.+)$/.exec(what ?? "");
  if (!m || extra.length > 0)
    problems.push(
      `want one pod/<name> or app/<app-id>, got ${JSON.stringify(positionals.join(" ") || "nothing")}`,
    );
  const fromCluster = values["from-cluster"] === true;
  if (fromCluster) problems.push(...fromClusterConflicts(values));
  if (problems.length > 0 || !m) return { problems };
  const namespace = get("namespace");
  const kubeconfig = get("kubeconfig");
  return {
    target: { kind: m[1] === "app" ? "app" : "pod", name: m[2] ?? "" },
    ...(namespace ? { namespace } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    defaults: fromCluster
      ? { from: "cluster", namespace: need("injector-namespace"), deployment: need("injector-deployment") }
      : { from: "flags", settings },
  };
}

/** GET that answers undefined for 404. */
function getOrUndefined<T>(http: KubeHttp, path: string): Promise<T | undefined> {
  return jsonOrUndefined<T>(http, { path, timeoutMs: 30_000 });
}

/** The items of a namespaced list; a kind the cluster does not serve (CRD not installed) is empty. */
async function list<T>(http: KubeHttp, rt: ResourceType, namespace: string): Promise<T[]> {
  const l = await getOrUndefined<{ items?: T[] }>(http, resourcePath(rt, namespace));
  return l?.items ?? [];
}

/** Reads what the explanation needs and prints it; 0 on success, 1 when the pod is not found. */
export async function runExplain(
  config: ExplainConfig,
  http: KubeHttp,
  namespace: string,
  out: (s: string) => void,
): Promise<number> {
  let settings: SidecarDefaults;
  if (config.defaults.from === "cluster") {
    const d = await getOrUndefined(
      http,
      resourcePath(resources.deployments, config.defaults.namespace, config.defaults.deployment),
    );
    const read = sidecarDefaultsOfDeployment(d);
    if (!read.ok) {
      out(
        `outrigger explain: --from-cluster: ${d === undefined ? `Deployment ${config.defaults.namespace}/${config.defaults.deployment} not found` : read.message}\n`,
      );
      return 2;
    }
    settings = read.settings;
  } else settings = config.defaults.settings;

  if (config.target.kind === "pod") {
    const pod = await getOrUndefined<V1Pod>(
      http,
      resourcePath(resources.pods, namespace, config.target.name),
    );
    if (!pod) {
      out(
        `pod ${namespace}/${config.target.name} not found. A pod the webhook denied was never created: ` +
          `its workload's events say why (kubectl describe), and 'outrigger inject -f <manifest>' shows the denial offline.\n`,
      );
      return 1;
    }
    out(formatPodExplanation(explainPod(pod, settings)));
    return 0;
  }

  const appId = config.target.name;
  const [
    pods,
    deployments,
    statefulSets,
    daemonSets,
    replicaSets,
    jobs,
    cronJobs,
    components,
    configurations,
    secret,
  ] = await Promise.all([
    list<V1Pod>(http, resources.pods, namespace),
    list(http, resources.deployments, namespace),
    list(http, resources.statefulSets, namespace),
    list(http, resources.daemonSets, namespace),
    list(http, resources.replicaSets, namespace),
    list(http, resources.jobs, namespace),
    list(http, resources.cronJobs, namespace),
    list<Component>(http, resources.components, namespace),
    list<Configuration>(http, resources.configurations, namespace),
    getOrUndefined<V1Secret>(
      http,
      resourcePath(resources.secrets, namespace, sidecarConfigSecretName(appId)),
    ),
  ]);
  const deliveredRt: Record<DeliveredKind, ResourceType> = {
    Subscription: resources.subscriptions,
    Resiliency: resources.resiliencies,
    HTTPEndpoint: resources.httpEndpoints,
    MCPServer: resources.mcpServers,
    WorkflowAccessPolicy: resources.workflowAccessPolicies,
  };
  const delivered: Partial<Record<DeliveredKind, DeliveredResource[]>> = {};
  for (const k of DELIVERED_KINDS)
    delivered[k.kind] = await list<DeliveredResource>(http, deliveredRt[k.kind], namespace);
  const objects = { pods, deployments, statefulSets, daemonSets, replicaSets, jobs, cronJobs } as AppObjects;
  out(
    formatAppExplanation(
      explainApp({ namespace, appId, objects, components, configurations, delivered, secret, settings }),
    ),
  );
  return 0;
}

export const explainCommand: Command<ExplainConfig> = {
  summary: "Explain why a pod was or was not injected, or what an app receives and why",
  usage: "outrigger explain pod/<name> | app/<app-id> [-n namespace] [flags]",
  options,
  positionals: true,
  config: (values, _env, positionals) => explainConfig(values, positionals),
  async run(config) {
    let endpoint;
    try {
      endpoint = loadApiEndpoint(config.kubeconfig);
    } catch (err) {
      if (!(err instanceof KubeconfigError)) throw err;
      console.error(`outrigger explain: ${err.message}`);
      return 2;
    }
    const namespace = config.namespace ?? endpoint.namespace ?? "default";
    try {
      return await runExplain(config, createKubeHttp(endpoint), namespace, (s) => process.stdout.write(s));
    } catch (err) {
      console.error(`outrigger explain: ${(err as Error).message}`);
      return 1;
    }
  },
};
