// Runs the pinned helm against the chart for the deploy tests: render, lint, and the objects of
// a rendering looked up by kind and name.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { YAML11_SCHEMA, loadAll } from "js-yaml";

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const chartDir = join(repoRoot, "deploy/helm/outrigger");
export const haValuesFile = join(chartDir, "values-ha.yaml");
/** The chart's minimum Kubernetes version, which `helm template` needs to be told. */
export const KUBE_VERSION = "1.30.0";

let helmPath: Promise<string> | undefined;

/** The helm binary of hack/versions.sh, built on first use by hack/build-components.sh. */
export function helm(): Promise<string> {
  helmPath ??= run(join(repoRoot, "hack/build-components.sh"), ["helm"], { maxBuffer: 1 << 24 }).then(
    ({ stdout }) => `${stdout.trim().split("\n").pop()}/helm`,
  );
  return helmPath;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runHelm(args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(await helm(), args, { maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export interface RenderOptions {
  /** Values, written to a file and passed with -f after valuesFiles. */
  values?: Record<string, unknown>;
  valuesFiles?: string[];
  release?: string;
  namespace?: string;
  extraArgs?: string[];
}

/** `helm template` with the given values; the raw result, so that failures can be asserted on. */
export async function template(opts: RenderOptions = {}): Promise<HelmResult> {
  const dir = mkdtempSync(join(tmpdir(), "outrigger-chart-"));
  try {
    const args = [
      "template",
      opts.release ?? "outrigger",
      chartDir,
      "--namespace",
      opts.namespace ?? "outrigger-system",
      "--kube-version",
      KUBE_VERSION,
    ];
    for (const f of opts.valuesFiles ?? []) args.push("-f", f);
    if (opts.values) {
      const file = join(dir, "values.json");
      writeFileSync(file, JSON.stringify(opts.values)); // JSON is YAML
      args.push("-f", file);
    }
    return await runHelm([...args, ...(opts.extraArgs ?? [])]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Kubernetes object as parsed from YAML: untyped below the envelope, as the tests reach into any kind. */
/* eslint-disable @typescript-eslint/no-explicit-any */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: any };
  [k: string]: any;
};
/* eslint-enable @typescript-eslint/no-explicit-any */

export function parseManifests(text: string): KubeObject[] {
  return loadAll(text, { schema: YAML11_SCHEMA }).filter(
    (d): d is KubeObject => d !== null && typeof d === "object",
  );
}

/** Renders and parses; throws with helm's message when the rendering fails. */
export async function render(opts: RenderOptions = {}): Promise<Rendering> {
  const r = await template(opts);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return new Rendering(parseManifests(r.stdout), r.stdout);
}

export class Rendering {
  readonly objects: KubeObject[];
  readonly text: string;
  constructor(objects: KubeObject[], text: string) {
    this.objects = objects;
    this.text = text;
  }

  /** The one object of this kind and name; throws when it is missing. */
  get(kind: string, name: string): KubeObject {
    const found = this.objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) {
      const have = this.objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ");
      throw new Error(`no ${kind}/${name} in the rendering (have: ${have})`);
    }
    return found;
  }

  ofKind(kind: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }
}
