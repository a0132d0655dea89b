// `outrigger inject -f <file|->`: writes workload manifests back with the daprd sidecar injected,
// offline. The sidecar defaults come from the injector's own flags, or with --from-cluster from
// the args of the injector Deployment running in the cluster. The work is in inject.ts.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  flagReader,
  stringFlag as str,
  type Command,
  type Flag,
  type FlagValues,
  type Problems,
} from "../shared/command.ts";
import { createKubeHttp } from "../shared/kube-http.ts";
import { loadApiEndpoint } from "../shared/kubeconfig.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "../sidecar/flags.ts";
import { isObject } from "../injector/decide.ts";
import { INJECTOR_TRUST_ANCHORS_FILE, hasTrustAnchors } from "../sidecar/identity.ts";
import { injectManifests, type InjectResult } from "./inject.ts";

const options: Record<string, Flag> = {
  filename: { ...str("Manifests to inject (YAML, several documents, or JSON); - reads stdin"), short: "f" },
  "from-cluster": {
    type: "boolean",
    description: "Take the sidecar defaults from the injector Deployment in the cluster (needs a kubeconfig)",
  },
  kubeconfig: str("With --from-cluster: path to a kubeconfig (default: $KUBECONFIG)"),
  "injector-namespace": str("With --from-cluster: namespace of the injector Deployment", "outrigger-system"),
  "injector-deployment": str("With --from-cluster: name of the injector Deployment", "outrigger-injector"),
  "trust-anchors-file": str(
    "With mTLS on: the trust bundle (PEM) each sidecar gets, as the injector's --trust-anchors-file (default with --from-cluster: the ConfigMap the injector Deployment mounts there)",
  ),
  ...sidecarDefaultsFlags,
};

export interface InjectConfig {
  filename: string;
  /** The defaults to inject with, or where to read them. */
  defaults:
    | { from: "flags"; settings: SidecarDefaults }
    | { from: "cluster"; kubeconfig?: string; namespace: string; deployment: string };
  /** With mTLS: the trust bundle file (else, with --from-cluster, the injector's ConfigMap). */
  trustAnchorsFile?: string;
}

function injectConfig(values: FlagValues): InjectConfig | Problems {
  const problems: string[] = [];
  const { get, need } = flagReader(options, values, problems);
  const filename = get("filename");
  if (filename === undefined || filename === "") problems.push("-f/--filename is required (- reads stdin)");
  const settings = sidecarDefaultsFromFlags(values, problems);
  const fromCluster = values["from-cluster"] === true;
  if (fromCluster) problems.push(...fromClusterConflicts(values));
  if (problems.length > 0) return { problems };
  const kubeconfig = get("kubeconfig");
  const trustAnchorsFile = get("trust-anchors-file");
  return {
    filename: filename ?? "-",
    ...(trustAnchorsFile ? { trustAnchorsFile } : {}),
    defaults: fromCluster
      ? {
          from: "cluster",
          ...(kubeconfig ? { kubeconfig } : {}),
          namespace: need("injector-namespace"),
          deployment: need("injector-deployment"),
        }
      : { from: "flags", settings },
  };
}

/**
 * Sidecar flags given beside --from-cluster: two sources for one setting would leave the reader
 * guessing which one won. (parseArgs fills in defaults, so a flag set to its default passes.)
 */
export function fromClusterConflicts(values: FlagValues): string[] {
  return Object.entries(sidecarDefaultsFlags)
    .filter(([flag, opt]) => values[flag] !== undefined && values[flag] !== opt.default)
    .map(
      ([flag]) =>
        `--${flag} cannot be combined with --from-cluster, which reads the sidecar defaults from the injector`,
    );
}

/** The container of an injector Deployment that runs `outrigger injector`, with its args after the verb. */
interface InjectorContainer {
  /** "Deployment <namespace>/<name>", for messages. */
  name: string;
  namespace: string;
  container: Record<string, unknown>;
  args: string[];
  volumes: Record<string, unknown>[];
}

function injectorContainerOf(deployment: unknown): InjectorContainer | { missing: string } {
  const meta = isObject(deployment) && isObject(deployment.metadata) ? deployment.metadata : {};
  const namespace = String(meta.namespace ?? "");
  const name = `Deployment ${namespace}/${String(meta.name ?? "")}`;
  const spec = isObject(deployment) && isObject(deployment.spec) ? deployment.spec : {};
  const podSpec = isObject(spec.template) && isObject(spec.template.spec) ? spec.template.spec : {};
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObject) : [];
  const volumes = Array.isArray(podSpec.volumes) ? podSpec.volumes.filter(isObject) : [];
  for (const container of containers) {
    const argv = [
      ...(Array.isArray(container.command) ? container.command : []),
      ...(Array.isArray(container.args) ? container.args : []),
    ].map(String);
    const at = argv.indexOf("injector");
    if (at >= 0) return { name, namespace, container, args: argv.slice(at + 1), volumes };
  }
  return { missing: `${name} has no container that runs \`outrigger injector\`` };
}

/**
 * The sidecar defaults an injector Deployment runs with: its `injector` container's args read
 * with the injector's own flag table (flags it does not set keep their defaults, as in the
 * injector). Problems name the Deployment and the flag.
 */
export function sidecarDefaultsOfDeployment(
  deployment: unknown,
): { ok: true; settings: SidecarDefaults } | { ok: false; message: string } {
  const injector = injectorContainerOf(deployment);
  if ("missing" in injector) return { ok: false, message: injector.missing };
  const { values } = parseArgs({
    args: injector.args,
    options: sidecarDefaultsFlags,
    strict: false,
    allowPositionals: true,
  });
  const problems: string[] = [];
  const settings = sidecarDefaultsFromFlags(values as FlagValues, problems);
  if (problems.length > 0) return { ok: false, message: `${injector.name}: ${problems.join("; ")}` };
  return { ok: true, settings };
}

/** Where an injector Deployment's trust bundle comes from: a ConfigMap key. */
export interface TrustBundleRef {
  namespace: string;
  name: string;
  key: string;
}

/**
 * The ConfigMap key an injector Deployment reads its trust bundle from: its --trust-anchors-file
 * (or the injector's default path), under the mount of a ConfigMap volume. The chart mounts
 * `<release>-trust-bundle` there; a file the Deployment does not mount from a ConfigMap is named.
 */
export function trustBundleOfDeployment(
  deployment: unknown,
): { ok: true; ref: TrustBundleRef } | { ok: false; message: string } {
  const injector = injectorContainerOf(deployment);
  if ("missing" in injector) return { ok: false, message: injector.missing };
  const { name, namespace, container, volumes } = injector;
  const { values } = parseArgs({
    args: injector.args,
    options: { "trust-anchors-file": { type: "string" } },
    strict: false,
    allowPositionals: true,
  });
  const flag = values["trust-anchors-file"];
  const file = typeof flag === "string" ? flag : INJECTOR_TRUST_ANCHORS_FILE;
  const mounts = Array.isArray(container.volumeMounts) ? container.volumeMounts.filter(isObject) : [];
  const mount = mounts.find((m) => typeof m.mountPath === "string" && file.startsWith(`${m.mountPath}/`));
  const volume = mount && volumes.find((v) => v.name === mount.name);
  const configMap = volume && isObject(volume.configMap) ? volume.configMap : undefined;
  if (!mount || typeof configMap?.name !== "string")
    return {
      ok: false,
      message: `${name} mounts no ConfigMap at its trust anchors file ${file}; give the bundle with --trust-anchors-file`,
    };
  const path = file.slice(String(mount.mountPath).length + 1);
  const items = Array.isArray(configMap.items) ? configMap.items.filter(isObject) : undefined;
  const key = items ? items.find((i) => i.path === path)?.key : path;
  if (typeof key !== "string")
    return { ok: false, message: `${name}: its trust-bundle ConfigMap volume has no item at ${path}` };
  return { ok: true, ref: { namespace, name: configMap.name, key } };
}

/** What `run` does, with its I/O passed in (tests give their own). */
export interface InjectIO {
  readInput(filename: string): string;
  readDeployment(config: Extract<InjectConfig["defaults"], { from: "cluster" }>): Promise<unknown>;
  /** The data of a ConfigMap (with --from-cluster: the injector's trust bundle). */
  readConfigMap(namespace: string, name: string): Promise<Record<string, string>>;
  stdout(text: string): void;
  stderr(line: string): void;
}

/** The result and its messages: one stderr line per injected, left or denied template. */
export async function runInject(config: InjectConfig, io: InjectIO): Promise<number> {
  let text: string;
  try {
    text = io.readInput(config.filename);
  } catch (err) {
    io.stderr(`outrigger inject: cannot read ${config.filename}: ${(err as Error).message}`);
    return 2;
  }
  let settings: SidecarDefaults;
  let deployment: unknown;
  if (config.defaults.from === "cluster") {
    try {
      deployment = await io.readDeployment(config.defaults);
    } catch (err) {
      io.stderr(
        `outrigger inject: --from-cluster: cannot read Deployment ${config.defaults.namespace}/${config.defaults.deployment}: ${(err as Error).message}`,
      );
      return 2;
    }
    const read = sidecarDefaultsOfDeployment(deployment);
    if (!read.ok) {
      io.stderr(`outrigger inject: --from-cluster: ${read.message}`);
      return 2;
    }
    settings = read.settings;
  } else settings = config.defaults.settings;

  const anchors = settings.mtls ? await trustAnchorsFor(config, deployment, io) : { ok: true as const };
  if (!anchors.ok) {
    io.stderr(`outrigger inject: ${anchors.message}`);
    return 2;
  }
  const trustAnchors = anchors.pem;
  const result: InjectResult = injectManifests(text, settings, trustAnchors);
  for (const o of result.outcomes) {
    if (o.result === "injected") {
      io.stderr(`${o.object}: injected (app-id ${o.appId})`);
      for (const w of o.warnings) io.stderr(`${o.object}: warning: ${w}`);
    } else if (o.result === "skipped" && o.reason !== "not-enabled") {
      io.stderr(`${o.object}: not injected (${o.reason})${o.message ? `: ${o.message}` : ""}`);
    }
  }
  if (!result.ok) {
    for (const e of result.errors) io.stderr(`outrigger inject: ${e}`);
    return 1;
  }
  io.stdout(result.text);
  return 0;
}

/**
 * The trust bundle each sidecar gets with mTLS on: --trust-anchors-file, else (with
 * --from-cluster) the ConfigMap the injector Deployment reads it from. A bundle is required up
 * front: without one the webhook would deny every Dapr pod (no-trust-anchors), and manifests
 * written without it would be of no use.
 */
async function trustAnchorsFor(
  config: InjectConfig,
  deployment: unknown,
  io: InjectIO,
): Promise<{ ok: true; pem?: string } | { ok: false; message: string }> {
  let pem: string;
  let from: string;
  if (config.trustAnchorsFile) {
    from = config.trustAnchorsFile;
    try {
      pem = io.readInput(config.trustAnchorsFile);
    } catch (err) {
      return { ok: false, message: `cannot read --trust-anchors-file ${from}: ${(err as Error).message}` };
    }
  } else if (config.defaults.from === "cluster") {
    const found = trustBundleOfDeployment(deployment);
    if (!found.ok) return { ok: false, message: `--from-cluster: ${found.message}` };
    const { namespace, name, key } = found.ref;
    from = `ConfigMap ${namespace}/${name} (key ${key})`;
    try {
      pem = (await io.readConfigMap(namespace, name))[key] ?? "";
    } catch (err) {
      return {
        ok: false,
        message: `--from-cluster: cannot read the trust bundle, ${from}: ${(err as Error).message}`,
      };
    }
  } else
    return {
      ok: false,
      message:
        "mTLS is on (--mtls, the default), so each sidecar needs outrigger sentry's trust bundle: give it with --trust-anchors-file, or read it from the cluster with --from-cluster, or inject without mTLS with --mtls=false",
    };
  if (!hasTrustAnchors(pem))
    return {
      ok: false,
      message: `the trust bundle in ${from} holds no certificate (outrigger sentry publishes it when it first starts)`,
    };
  return { ok: true, pem };
}

export const injectCommand: Command<InjectConfig> = {
  summary: "Write workload manifests back with the daprd sidecar injected, offline",
  usage: "outrigger inject -f <file|-> [flags] > injected.yaml",
  options,
  config: injectConfig,
  run: (config) =>
    runInject(config, {
      readInput: (f) => readFileSync(f === "-" ? 0 : f, "utf8"),
      readDeployment: async (c) => {
        const http = createKubeHttp(loadApiEndpoint(c.kubeconfig));
        return http.json({
          path: `/apis/apps/v1/namespaces/${encodeURIComponent(c.namespace)}/deployments/${encodeURIComponent(c.deployment)}`,
          timeoutMs: 30_000,
        });
      },
      readConfigMap: async (namespace, name) => {
        const http = createKubeHttp(
          loadApiEndpoint(config.defaults.from === "cluster" ? config.defaults.kubeconfig : undefined),
        );
        const cm = await http.json<{ data?: Record<string, string> }>({
          path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`,
          timeoutMs: 30_000,
        });
        return cm.data ?? {};
      },
      stdout: (t) => process.stdout.write(t),
      stderr: (l) => process.stderr.write(`${l}\n`),
    }),
};
