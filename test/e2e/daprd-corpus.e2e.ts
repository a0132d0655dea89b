// Dapr's documentation against the real daprd: every Configuration of the conformance corpus,
// rendered by the real controller, starts daprd; every Component is parsed by daprd without a
// parse-level error. The corpus is found as crds.e2e.ts finds it (src/apis/conformance.testing.ts,
// $OUTRIGGER_DAPR_DOCS_CORPUS overrides).
//
// Names: corpus files repeat names (statestore) and use placeholders (<NAME>), so each resource
// is applied under a name made from its file number; nothing else of it changes, except that
// Components get `ignoreErrors: true` (see the Component spec for why).
import { CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { loadAll } from "js-yaml";
import { corpusFiles, type CorpusFile } from "../../src/apis/conformance.testing.ts";
import { COMPONENTS_KEY, sidecarConfigSecretName } from "../../src/sidecar/config-secret.ts";
import { cluster } from "./harness/cluster.ts";
import {
  DAPRD_NAMESPACE_LABELS,
  apply,
  createDaprPod,
  deleteComponent,
  secretObject,
  useDaprdEnvironment,
  waitForSidecarConfig,
  type DaprdEnvironment,
} from "./harness/daprd-env.ts";
import { E2E_NAMESPACE_LABEL, dumpNamespace, useNamespace } from "./harness/namespace.ts";
import type { Sidecar } from "./harness/sidecar-runner.ts";
import { eventually, sleep } from "./harness/util.ts";

type Obj = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
  scopes?: string[];
};

const CONCURRENCY = 3;
const core = () => cluster().kc.makeApiClient(CoreV1Api);

/** "042" from "042-operations-configuration-secret-scope.yaml". */
const fileNumber = (f: CorpusFile) => f.name.slice(0, 3);

function corpusObject(file: CorpusFile): Obj {
  const docs = (loadAll(file.text) as Obj[]).filter((d) => d && typeof d === "object");
  expect(docs, `${file.name}: one document`).to.have.length(1);
  return docs[0]!;
}

/** Every {secretKeyRef: {name, key}} in an object, wherever it sits. */
function secretRefs(value: unknown, out: Array<{ name: string; key: string }> = []) {
  if (Array.isArray(value)) for (const v of value) secretRefs(v, out);
  else if (value && typeof value === "object") {
    const ref = (value as { secretKeyRef?: { name?: unknown; key?: unknown } }).secretKeyRef;
    if (ref && typeof ref.name === "string" && typeof ref.key === "string")
      out.push({ name: ref.name, key: ref.key });
    for (const v of Object.values(value)) secretRefs(v, out);
  }
  return out;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * A copy of `value` whose secretKeyRefs name Secrets that can exist: the docs use placeholders
 * (<SECRET>, [your_k8s_secret_name], asbNsConnString) that no API server accepts as a name. The
 * controller replaces every reference by its value anyway, so daprd parses the same thing.
 */
function withValidSecretRefs(value: unknown, renamed: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => withValidSecretRefs(v, renamed));
  if (!value || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withValidSecretRefs(v, renamed);
  const ref = out.secretKeyRef as { name?: unknown; key?: unknown } | undefined;
  if (ref && typeof ref.name === "string" && typeof ref.key === "string") {
    const sanitize = (s: string) =>
      s
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "") || "x";
    const name = DNS_SUBDOMAIN.test(ref.name) ? ref.name : `placeholder-${sanitize(ref.name)}`;
    const key = SECRET_KEY.test(ref.key) ? ref.key : sanitize(ref.key);
    if (name !== ref.name || key !== ref.key) renamed.add(`${ref.name}/${ref.key}`);
    out.secretKeyRef = { ...ref, name, key };
  }
  return out;
}

/** The Secrets the controller needs to resolve these objects' references, with made-up values. */
function secretsFor(objects: Obj[]): object[] {
  const byName = new Map<string, Record<string, string>>();
  for (const o of objects)
    for (const ref of secretRefs(o.spec))
      byName.set(ref.name, { ...byName.get(ref.name), [ref.key]: `e2e-${ref.key}` });
  return [...byName].map(([name, data]) => secretObject(name, data));
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

interface LogLine {
  level: string;
  msg: string;
  component?: string;
}

/** daprd's JSON log lines (dapr.io/log-as-json). */
function logLines(sidecar: Sidecar): LogLine[] {
  return sidecar
    .logs()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return { level: "unparsed", msg: l };
      }
    });
}

/**
 * The component daprd was initialising when it ended: the one a fatal line names, else the
 * last one the (sequential) processor started loading. Not "the last found": the loader logs
 * the next component while the processor still works on the one before.
 */
function componentInProgress(lines: LogLine[]): string | undefined {
  const fatal = lines.findLast((l) => l.level === "fatal" && typeof l.component === "string");
  if (fatal) return fatal.component!.split(" ")[0];
  return lines.map((l) => /^Loading component: (\S+) \(/.exec(l.msg)?.[1]).findLast((n) => n !== undefined);
}

/** Components daprd finished with (loaded or failed) in these lines. */
function componentsDone(lines: LogLine[]): string[] {
  return lines
    .map((l) => /^(?:Component loaded: |Failed to init component )(\S+) \(/.exec(l.msg)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Runs the app's daprd until it is initialized or exits (4 min at most). */
async function runUntilInitialized(env: DaprdEnvironment, namespace: string, app: string) {
  let sidecar: Sidecar;
  try {
    sidecar = await env.runner.start(namespace, app, { verbose: false });
  } catch (err) {
    return { lines: [] as LogLine[], exit: `not run: ${(err as Error).message}`, crash: "" };
  }
  try {
    const t0 = performance.now();
    while (performance.now() - t0 < 240_000) {
      if (sidecar.exitedWith() !== undefined) break;
      if (sidecar.logs().includes("dapr initialized. Status: Running")) break;
      await sleep(250);
    }
    const exit = sidecar.exitedWith();
    const raw = sidecar.logs().split("\n");
    const crash =
      raw.find((l) => l.startsWith("panic:")) ??
      logLines(sidecar).findLast((l) => l.level === "fatal")?.msg ??
      raw.filter((l) => l.trim()).slice(-1)[0] ??
      "";
    return { lines: logLines(sidecar), exit, crash: crash.slice(0, 300) };
  } finally {
    await sidecar.stop();
  }
}

/** The last error-level lines of daprd, for a report. */
function errorLines(sidecar: Sidecar, n = 3): string[] {
  return logLines(sidecar)
    .filter((l) => l.level === "error" || l.level === "fatal")
    .slice(-n)
    .map((l) => l.msg.slice(0, 400));
}

/** Polls the readiness probe's endpoint until it passes, daprd exits, or the time is up. */
async function waitReady(
  sidecar: Sidecar,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string; ms: number }> {
  const started = performance.now();
  let last = "";
  while (performance.now() - started < timeoutMs) {
    const exit = sidecar.exitedWith();
    if (exit !== undefined)
      return { ok: false, detail: `daprd exited ${exit}`, ms: performance.now() - started };
    const r = await sidecar.probe("readiness");
    if (r.ok) return { ok: true, detail: r.detail, ms: performance.now() - started };
    last = r.detail;
    await sleep(200);
  }
  return { ok: false, detail: `not ready after ${timeoutMs} ms (${last})`, ms: performance.now() - started };
}

async function createLabelledNamespace(name: string): Promise<void> {
  await core().createNamespace({
    body: { metadata: { name, labels: { [E2E_NAMESPACE_LABEL]: "true", ...DAPRD_NAMESPACE_LABELS } } },
  });
}

async function renderedComponentNames(namespace: string, appId: string): Promise<string[]> {
  const s = await core().readNamespacedSecret({ namespace, name: sidecarConfigSecretName(appId) });
  const text = Buffer.from(s.data?.[COMPONENTS_KEY] ?? "", "base64").toString();
  return (loadAll(text) as Obj[]).filter((d) => d?.metadata?.name).map((d) => d.metadata!.name!);
}

describe("daprd (real runtime) with Dapr's documentation", function () {
  const env: DaprdEnvironment = useDaprdEnvironment();
  const ns = useNamespace("daprd-corpus", DAPRD_NAMESPACE_LABELS);
  afterEach(async function () {
    this.timeout(60_000);
    await env.runner.stopAll();
  });

  it("starts daprd with every Configuration of the corpus", async function () {
    this.timeout(10 * 60_000);
    const files = corpusFiles("Configuration");
    expect(files.length, "corpus Configurations").to.be.greaterThan(0);
    const cases = files.map((file) => {
      const original = corpusObject(file);
      const name = `cfg-${fileNumber(file)}`;
      return { file, name, object: { ...original, metadata: { name } } as Obj };
    });
    await apply(ns.name, ...secretsFor(cases.map((c) => c.object)), ...cases.map((c) => c.object));
    for (const c of cases) await createDaprPod(ns.name, c.name, c.name, { "dapr.io/config": c.name });

    const started = performance.now();
    const results = await pool(cases, CONCURRENCY, async (c) => {
      let sidecar: Sidecar | undefined;
      try {
        await waitForSidecarConfig(ns.name, c.name, 60_000);
        sidecar = await env.runner.start(ns.name, c.name, { verbose: false });
        const ready = await waitReady(sidecar, 60_000);
        return {
          ...c,
          ...ready,
          errors: ready.ok ? [] : errorLines(sidecar),
          tail: sidecar.logs().slice(-1500),
        };
      } catch (err) {
        // One that cannot even be run is a failure of its own, not the end of the others.
        return { ...c, ok: false, detail: `not run: ${(err as Error).message}`, ms: 0, errors: [], tail: "" };
      } finally {
        await sidecar?.stop();
      }
    });
    const ok = results.filter((r) => r.ok);
    console.log(
      `      configurations that start daprd: ${ok.length}/${results.length} (${Math.round((performance.now() - started) / 1000)} s, ${CONCURRENCY} at a time; median ready ${Math.round(ok.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(ok.length / 2)] ?? 0)} ms)`,
    );
    const failed = results.filter((r) => !r.ok);
    for (const f of failed)
      console.log(
        `      - ${f.file.name}: ${f.detail}\n          ${(f.errors.length ? f.errors : [f.tail]).join("\n          ")}`,
      );
    expect(
      failed.map((f) => `${f.file.name}: ${f.detail}`),
      "Configurations with which daprd does not start",
    ).to.deep.equal([]);
  });

  it("parses every Component of the corpus with 0 parse-level errors", async function () {
    this.timeout(15 * 60_000);
    const files = corpusFiles("Component");
    expect(files.length, "corpus Components").to.be.greaterThan(0);
    // ignoreErrors: a component without it that fails to init (its backend is absent here) makes
    // daprd exit, and the components after it would never be seen. It changes nothing in parsing.
    const renamedRefs = new Set<string>();
    const all = files.map((file) => {
      const original = corpusObject(file);
      const name = `c-${fileNumber(file)}`;
      const spec = withValidSecretRefs(original.spec, renamedRefs) as Record<string, unknown>;
      const object = { ...original, metadata: { name }, spec: { ...spec, ignoreErrors: true } } as Obj;
      return { file, name, object };
    });

    if (renamedRefs.size > 0)
      console.log(`      placeholder Secret references given valid names: ${[...renamedRefs].join(", ")}`);
    // Scoped components go to an app named in their scopes; the others are spread over a few
    // namespaces with one app each, so that several daprds share the work.
    const groups: Array<{ namespace: string; apps: string[]; items: typeof all }> = [];
    const scoped = all.filter((c) => c.object.scopes?.length);
    const unscoped = all.filter((c) => !c.object.scopes?.length);
    const chunks = 4;
    for (let i = 0; i < chunks; i++) {
      const items = unscoped.filter((_, j) => j % chunks === i);
      if (items.length > 0)
        groups.push({ namespace: i === 0 ? ns.name : `${ns.name}-${i}`, apps: ["corpus"], items });
    }
    if (scoped.length > 0)
      groups.push({
        namespace: `${ns.name}-scoped`,
        apps: [...new Set(scoped.map((c) => c.object.scopes![0]!))],
        items: scoped,
      });
    const extra = groups.map((g) => g.namespace).filter((n) => n !== ns.name);
    for (const n of extra) await createLabelledNamespace(n);
    try {
      for (const g of groups) {
        await apply(
          g.namespace,
          ...secretsFor(g.items.map((c) => c.object)),
          ...g.items.map((c) => c.object),
        );
        for (const app of g.apps)
          await createDaprPod(g.namespace, app, app, {
            "dapr.io/log-level": "debug",
            "dapr.io/log-as-json": "true",
          });
      }
      const runs = groups.flatMap((g) => g.apps.map((app) => ({ namespace: g.namespace, app })));
      const started = performance.now();
      const outcomes = await pool(runs, CONCURRENCY, async (r) => {
        await waitForSidecarConfig(r.namespace, r.app, 60_000);
        // Delivered: what the controller rendered for this app (it waits for the last
        // components to be reconciled before the count is taken).
        const delivered = await eventually(
          async () => {
            const names = await renderedComponentNames(r.namespace, r.app);
            const expected = groups
              .find((g) => g.namespace === r.namespace)!
              .items.filter((c) => !c.object.scopes?.length || c.object.scopes.includes(r.app)).length;
            expect(names.length, `components rendered for ${r.namespace}/${r.app}`).to.equal(expected);
            return names;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        ).catch(() => renderedComponentNames(r.namespace, r.app));
        // A few components end the process whatever ignoreErrors says (a log.Fatal or a panic
        // in their Init). As the kubelet would, the runner starts daprd again, without that
        // component and without those it already went through (deleted from the cluster, so the
        // controller renders the file without them), until daprd gets through the rest.
        const lines: LogLine[] = [];
        const crashed: Array<{ name: string; why: string }> = [];
        const t0 = performance.now();
        let exit: number | string | undefined;
        for (let restarts = 0; ; restarts++) {
          const run = await runUntilInitialized(env, r.namespace, r.app);
          lines.push(...run.lines);
          exit = run.exit;
          if (exit === undefined || restarts >= 20) break;
          const culprit = componentInProgress(run.lines);
          if (!culprit) break;
          crashed.push({ name: culprit, why: run.crash });
          const gone = new Set([culprit, ...componentsDone(run.lines)]);
          for (const name of gone) await deleteComponent(r.namespace, name).catch(() => undefined);
          await eventually(
            async () => {
              const left = await renderedComponentNames(r.namespace, r.app);
              expect(left.filter((n) => gone.has(n))).to.deep.equal([]);
            },
            { timeoutMs: 30_000, intervalMs: 250 },
          );
        }
        return { ...r, delivered, lines, exit, crashed, ms: performance.now() - t0 };
      });

      const parsed = new Set<string>();
      const loaded = new Set<string>();
      const initFailed = new Map<string, string>();
      const parseErrors: string[] = [];
      const notFound: string[] = [];
      const ofName = (re: RegExp, msg: string) => re.exec(msg)?.[1];
      for (const o of outcomes) {
        for (const l of o.lines) {
          const found = ofName(/^Found component: (\S+) \(/, l.msg);
          if (found) parsed.add(found);
          const ok = ofName(/^Component loaded: (\S+) \(/, l.msg);
          if (ok) loaded.add(ok);
          const failed =
            ofName(/^Failed to init component (\S+) \(/, l.msg) ??
            ofName(/^Ignoring error processing component: process component (\S+) error/, l.msg);
          if (failed && !initFailed.has(failed)) initFailed.set(failed, l.msg.slice(0, 300));
          if (/error when parsing manifests yaml resource|duplicate definition of Component/.test(l.msg))
            parseErrors.push(`${o.namespace}/${o.app}: ${l.msg.slice(0, 600)}`);
        }
        for (const name of o.delivered)
          if (!o.lines.some((l) => l.msg.startsWith(`Found component: ${name} (`)))
            notFound.push(`${o.namespace}/${o.app}: ${name}`);
        for (const c of o.crashed) initFailed.set(c.name, `ended daprd: ${c.why}`);
        console.log(
          `      ${o.namespace}/${o.app}: ${o.delivered.length} delivered, daprd ${o.exit === undefined ? "initialized" : `exited ${o.exit}`} after ${Math.round(o.ms / 1000)} s${o.crashed.length ? `, restarted without ${o.crashed.map((c) => c.name).join(", ")}` : ""}`,
        );
      }
      const crashes = outcomes.flatMap((o) => o.crashed);
      const undelivered = all
        .filter((c) => !outcomes.some((o) => o.delivered.includes(c.name)))
        .map((c) => `${c.name} (${c.file.name})`);
      console.log(
        `      components: ${parsed.size} parsed, ${parseErrors.length} parse errors, ${initFailed.size} init failures, ${loaded.size} loaded (of ${all.length}; ${Math.round((performance.now() - started) / 1000)} s)`,
      );
      const fileOf = (name: string) => all.find((c) => c.name === name)?.file.name ?? "?";
      const waiting = [...parsed].filter((n) => !loaded.has(n) && !initFailed.has(n));
      if (waiting.length)
        console.log(
          `        found, not initialised (waiting on a secret store that never loads): ${waiting.sort().join(" ")}`,
        );
      for (const c of crashes)
        console.log(`        ${c.name} (${fileOf(c.name)}) ended daprd in its init: ${c.why.slice(0, 200)}`);
      console.log(`        init failures: ${[...initFailed.keys()].sort().join(" ")}`);
      expect(undelivered, "corpus Components the controller delivered to no app").to.deep.equal([]);
      expect(parseErrors, "daprd's parse-level errors").to.deep.equal([]);
      expect(notFound, "delivered Components daprd did not report as found").to.deep.equal([]);
      expect(parsed.size).to.equal(all.length);
    } catch (err) {
      for (const n of extra) await dumpNamespace(n);
      throw err;
    } finally {
      for (const n of extra)
        await core()
          .deleteNamespace({ name: n })
          .catch(() => undefined);
    }
  });
});
