// Golden cases of the controller's pure core: testdata/<case>.input.yaml is a stream of
// Kubernetes objects (workloads, pods, Components, Configurations, Secrets; `stringData` is
// accepted for readability). A document `kind: GoldenPhase` ends a phase: everything is
// rendered, the sidecar config Secrets are kept as the "previous" ones, and the next phase's
// objects replace or (listed under `delete:`) remove earlier ones. <case>.expected.yaml holds
// the apps, conflicts and the sidecar config of every app after the last phase.
// UPDATE_GOLDEN=1 rewrites the expected files (review the diff).

import type { V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dump, load } from "js-yaml";
import { parseManifests } from "../apis/crd-schema.ts";
import { appKey, appsFromObjects } from "./apps.ts";
import { desiredAppService } from "./app-service.ts";
import { appObjects, cachesOf } from "./caches.ts";
import { renderSidecarConfig } from "./reconcile-sidecar-config.ts";
import { trimmedByKind } from "./trim.ts";

const dir = new URL("./testdata/", import.meta.url);
const update = process.env.UPDATE_GOLDEN === "1";

interface KubeObject {
  apiVersion?: string;
  kind: string;
  metadata?: { name?: string; namespace?: string };
  [field: string]: unknown;
}

interface GoldenPhase {
  kind: "GoldenPhase";
  delete?: Array<{ kind: string; name: string; namespace?: string }>;
}

const objectKey = (kind: string, namespace: string | undefined, name: string | undefined) =>
  `${kind}/${namespace ?? "default"}/${name ?? ""}`;

/** What the API server would store: a namespace, and `stringData` folded into base64 `data`. */
function stored(obj: KubeObject): KubeObject {
  const out: KubeObject = {
    ...obj,
    metadata: { ...obj.metadata, namespace: obj.metadata?.namespace ?? "default" },
  };
  if (obj.kind === "Secret" && obj.stringData) {
    const data = { ...(obj.data as Record<string, string> | undefined) };
    for (const [k, v] of Object.entries(obj.stringData as Record<string, string>)) {
      data[k] = Buffer.from(v, "utf8").toString("base64");
    }
    delete out.stringData;
    out.data = data;
  }
  return out;
}

/** What the reconcilers render from caches holding `state` (the same pure functions they call). */
function render(state: Map<string, KubeObject>, previous: Map<string, V1Secret>) {
  const caches = cachesOf(state.values());
  const result = appsFromObjects(appObjects(caches));
  const rendered = result.apps.map((app) => {
    const { config, secret } = renderSidecarConfig(
      app,
      caches,
      previous.get(appKey(app.namespace, app.appId)),
    );
    return { app, config, secret };
  });
  return { result, rendered };
}

function runCase(text: string, trim = false) {
  const state = new Map<string, KubeObject>();
  let previous = new Map<string, V1Secret>();
  const phases: KubeObject[][] = [[]];
  for (const doc of parseManifests(text) as KubeObject[]) {
    if (doc.kind === "GoldenPhase") phases.push([doc]);
    else phases[phases.length - 1]?.push(doc);
  }
  let last: ReturnType<typeof render> | undefined;
  for (const phase of phases) {
    for (const doc of phase) {
      if (doc.kind === "GoldenPhase") {
        for (const d of (doc as unknown as GoldenPhase).delete ?? [])
          state.delete(objectKey(d.kind, d.namespace, d.name));
        continue;
      }
      const full = stored(doc);
      const obj = trim ? (trimmedByKind[full.kind]?.(full) ?? full) : full;
      state.set(objectKey(obj.kind, obj.metadata?.namespace, obj.metadata?.name), obj);
    }
    last = render(state, previous);
    previous = new Map(last.rendered.map((r) => [appKey(r.app.namespace, r.app.appId), r.secret]));
  }
  const { result, rendered } = last!;
  return {
    apps: rendered.map(({ app, config, secret }) => ({
      app: appKey(app.namespace, app.appId),
      configName: app.configName ?? null,
      sources: app.sources.map((s) => `${s.kind}/${s.name}`),
      serviceSelector: desiredAppService(app).spec?.selector,
      secret: secret.metadata?.name,
      hash: config.hash,
      components: config.components,
      configuration: config.configuration,
      resources: config.resources,
      files: config.data,
    })),
    conflicts: result.conflicts.map((c) => c.message),
    ignored: result.ignored.map((i) => `${i.kind}/${i.namespace}/${i.name}: ${i.reason}: ${i.message}`),
  };
}

const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".input.yaml"))
  .map((f) => f.slice(0, -".input.yaml".length))
  .sort();

describe("controller golden cases", () => {
  it("has cases", () => {
    expect(cases).to.include.members(["basic", "last-good", "apps-and-defaults", "delivered-kinds"]);
  });

  for (const name of cases) {
    it(name, () => {
      const actual = runCase(readFileSync(new URL(`${name}.input.yaml`, dir), "utf8"));
      // Round trip through YAML so `undefined` fields compare like the file.
      const normalized = load(dump(actual, { lineWidth: -1, noRefs: true, skipInvalid: true }));
      const expectedFile = new URL(`${name}.expected.yaml`, dir);
      if (update) {
        const header =
          "# Generated by `UPDATE_GOLDEN=1 npx mocha src/controller/golden.test.ts`; review the diff.\n";
        writeFileSync(expectedFile, header + dump(normalized, { lineWidth: -1, noRefs: true }));
      }
      expect(normalized).to.deep.equal(load(readFileSync(expectedFile, "utf8")));
    });

    it(`${name}, from objects trimmed as the informers keep them`, () => {
      const text = readFileSync(new URL(`${name}.input.yaml`, dir), "utf8");
      expect(runCase(text, true)).to.deep.equal(runCase(text));
    });
  }
});
