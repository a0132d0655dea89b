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
    "With --mtls: the trust bundle (PEM) each sidecar gets, as the injector's --trust-anchors-file",
  ),
  ...sidecarDefaultsFlags,
};

export interface InjectConfig {
  filename: string;
  /** The defaults to inject with, or where to read them. */
  defaults:
    | { from: "flags"; settings: SidecarDefaults }
    | { from: "cluster"; kubeconfig?: string; namespace: string; deployment: string };
  /** With mTLS: the trust bundle file; without it the injector's rule applies (pods are denied). */
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

/**
 * The sidecar defaults an injector Deployment runs with: its `injector` container's args read
 * with the injector's own flag table (flags it does not set keep their defaults, as in the
 * injector). Problems name the Deployment and the flag.
 */
export function sidecarDefaultsOfDeployment(
  deployment: unknown,
): { ok: true; settings: SidecarDefaults } | { ok: false; message: string } {
  const meta = isObject(deployment) && isObject(deployment.metadata) ? deployment.metadata : {};
  const name = `Deployment ${String(meta.namespace ?? "")}/${String(meta.name ?? "")}`;
  const spec = isObject(deployment) && isObject(deployment.spec) ? deployment.spec : {};
  const podSpec = isObject(spec.template) && isObject(spec.template.spec) ? spec.template.spec : {};
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObject) : [];
  for (const c of containers) {
    const argv = [
      ...(Array.isArray(c.command) ? c.command : []),
      ...(Array.isArray(c.args) ? c.args : []),
    ].map(String);
    const at = argv.indexOf("injector");
    if (at < 0) continue;
    const { values } = parseArgs({
      args: argv.slice(at + 1),
      options: sidecarDefaultsFlags,
      strict: false,
      allowPositionals: true,
    });
    const problems: string[] = [];
    const settings = sidecarDefaultsFromFlags(values as FlagValues, problems);
    if (problems.length > 0) return { ok: false, message: `${name}: ${problems.join("; ")}` };
    return { ok: true, settings };
  }
  return { ok: false, message: `${name} has no container that runs \`outrigger injector\`` };
}

/** What `run` does, with its I/O passed in (tests give their own). */
export interface InjectIO {
  readInput(filename: string): string;
  readDeployment(config: Extract<InjectConfig["defaults"], { from: "cluster" }>): Promise<unknown>;
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
  if (config.defaults.from === "cluster") {
    let deployment: unknown;
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

  let trustAnchors: string | undefined;
  if (config.trustAnchorsFile) {
    try {
      trustAnchors = io.readInput(config.trustAnchorsFile);
    } catch (err) {
      io.stderr(`outrigger inject: cannot read ${config.trustAnchorsFile}: ${(err as Error).message}`);
      return 2;
    }
  }
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
      stdout: (t) => process.stdout.write(t),
      stderr: (l) => process.stderr.write(`${l}\n`),
    }),
};
