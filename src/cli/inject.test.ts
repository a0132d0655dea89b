// Golden cases of `outrigger inject`: testdata/inject/<case>.input.{yaml,json} is the input;
// <case>.expected.{yaml,json} is what is written to stdout (absent when nothing is) and
// <case>.stderr.txt the messages and the exit code. UPDATE_GOLDEN=1 rewrites them (review the
// diff). The injector's own golden cases (src/injector/testdata) run through here too: the
// offline injection must be the webhook's, pod for pod.
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as yaml from "js-yaml";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";
import {
  goldenSettingsFor,
  goldenSettingsMtlsOff,
  goldenTrustAnchors,
} from "../injector/golden-settings.testing.ts";
import { outriggerVersion } from "../shared/version.ts";
import { injectManifests, type TemplateOutcome } from "./inject.ts";
import {
  runInject,
  sidecarDefaultsOfDeployment,
  trustBundleOfDeployment,
  type InjectConfig,
} from "./inject-command.ts";
import { parseManifestStream } from "./manifests.ts";

const dir = new URL("./testdata/inject/", import.meta.url);
const injectorDir = new URL("../injector/testdata/", import.meta.url);
const update = process.env.UPDATE_GOLDEN === "1";
// Pinned as in the injector's goldens, so that bumping the default image rewrites nothing.
const settings: SidecarDefaults = { ...builtInSidecarDefaults, sidecarImage: "ghcr.io/dapr/daprd:1.18.3" };
const VERSION_PLACEHOLDER = "OUTRIGGER_VERSION";

/** The package version in the status annotation, as YAML or as escaped JSON, made a placeholder. */
function withVersionPlaceholder(text: string): string {
  const v = outriggerVersion.replaceAll(".", "\\.");
  return text
    .replace(new RegExp(`"version":"${v}"`, "g"), `"version":"${VERSION_PLACEHOLDER}"`)
    .replace(
      new RegExp(`\\\\"version\\\\":\\\\"${v}\\\\"`, "g"),
      `\\"version\\":\\"${VERSION_PLACEHOLDER}\\"`,
    );
}

const ANCHORS_FILE = "trust-bundle.pem";

async function run(
  input: string,
  config: Partial<InjectConfig> = { trustAnchorsFile: ANCHORS_FILE },
  readDeployment: () => Promise<unknown> = async () => undefined,
  readConfigMap: (namespace: string, name: string) => Promise<Record<string, string>> = async () => ({}),
) {
  let stdout: string | undefined;
  const stderr: string[] = [];
  const code = await runInject(
    { filename: "in", defaults: { from: "flags", settings }, ...config },
    {
      readInput: (f) => (f === ANCHORS_FILE ? goldenTrustAnchors : input),
      readDeployment,
      readConfigMap,
      stdout: (t) => (stdout = (stdout ?? "") + t),
      stderr: (l) => stderr.push(l),
    },
  );
  return { code, stdout, stderr };
}

const cases = readdirSync(dir)
  .filter((f) => /\.input\.(yaml|json)$/.test(f))
  .map((f) => ({ name: f.replace(/\.input\.(yaml|json)$/, ""), ext: f.endsWith(".json") ? "json" : "yaml" }))
  .sort((a, b) => (a.name < b.name ? -1 : 1));

describe("outrigger inject golden cases", () => {
  it("has the cases: every kind, a List in JSON, denials, and nothing to do", () => {
    expect(cases.map((c) => c.name)).to.include.members(["workloads", "list", "denied", "skipped"]);
  });

  for (const { name, ext } of cases) {
    it(name, async () => {
      const input = readFileSync(new URL(`${name}.input.${ext}`, dir), "utf8");
      const { code, stdout, stderr } = await run(input);
      const outFile = new URL(`${name}.expected.${ext}`, dir);
      const errFile = new URL(`${name}.stderr.txt`, dir);
      const messages = `${[...stderr, `exit ${code}`].join("\n")}\n`;
      if (update) {
        if (stdout === undefined) rmSync(outFile, { force: true });
        else writeFileSync(outFile, withVersionPlaceholder(stdout));
        writeFileSync(errFile, messages);
      }
      expect(messages).to.equal(readFileSync(errFile, "utf8"));
      if (stdout === undefined) {
        expect(existsSync(outFile), "nothing written, so no expected output").to.equal(false);
        return;
      }
      expect(withVersionPlaceholder(stdout)).to.equal(readFileSync(outFile, "utf8"));

      // A second pass changes nothing: every template now has its daprd.
      const again = await run(stdout);
      expect(again.code).to.equal(0);
      expect(again.stdout).to.equal(stdout);
      // Documents that were not injected come back as their original text.
      const inDocs = parseManifestStream(input);
      const outDocs = parseManifestStream(stdout);
      if (!inDocs.ok || !outDocs.ok) throw new Error("unparseable");
      expect(outDocs.stream.documents.length).to.equal(inDocs.stream.documents.length);
    });
  }

  it("writes an input with nothing to inject back byte for byte", async () => {
    const input = readFileSync(new URL("skipped.input.yaml", dir), "utf8");
    const { code, stdout } = await run(input);
    expect(code).to.equal(0);
    expect(stdout).to.equal(input);
  });

  it("keeps the text of documents it does not change, next to ones it does", async () => {
    const input = readFileSync(new URL("workloads.input.yaml", dir), "utf8");
    const { stdout } = await run(input);
    expect(stdout).to.include("metadata: {name: frontend, namespace: shop}   # flow style stays");
    expect(stdout).to.include('  flag: "on"');
    expect(stdout).to.include("# The cart service: a Deployment with a Dapr app-id and port.");
  });

  it("reports each template: injected, left for the webhook, or denied with the object and the key", async () => {
    const outcomes = (text: string): TemplateOutcome[] => {
      const r = injectManifests(text, settings, goldenTrustAnchors);
      return r.outcomes;
    };
    const workloads = outcomes(readFileSync(new URL("workloads.input.yaml", dir), "utf8"));
    expect(workloads.filter((o) => o.result === "injected").map((o) => o.object)).to.deep.equal([
      "Deployment shop/cart",
      "StatefulSet shop/ledger",
      "DaemonSet shop/node-agent",
      "ReplicaSet shop/worker",
      "Job shop/migrate",
      "CronJob shop/report",
      "Pod shop/debug",
    ]);
    const denied = injectManifests(
      readFileSync(new URL("denied.input.yaml", dir), "utf8"),
      settings,
      goldenTrustAnchors,
    );
    expect(denied.ok).to.equal(false);
    if (denied.ok) return;
    expect(denied.errors).to.have.length(2);
    expect(denied.errors[0]).to.match(/^Deployment shop\/cart: dapr\.io\/app-port: /);
    expect(denied.errors[1]).to.match(/^Job shop\/migrate: dapr\.io\/app-id is required/);
  });

  it("refuses input that is not YAML or JSON, naming the document", async () => {
    const { code, stdout, stderr } = await run("kind: Pod\n---\nmetadata: [unclosed\n");
    expect(code).to.equal(1);
    expect(stdout).to.equal(undefined);
    expect(stderr.join("\n")).to.include("document 2 is not valid YAML");
    const json = await run('{"kind": "Pod",');
    expect(json.code).to.equal(1);
    expect(json.stderr.join("\n")).to.include("not valid JSON");
  });
});

describe("outrigger inject runs the injector's golden cases", () => {
  const injectorCases = readdirSync(injectorDir)
    .filter((f) => f.endsWith(".input.yaml"))
    .map((f) => f.slice(0, -".input.yaml".length))
    .sort();

  it("finds them", () => expect(injectorCases.length).to.be.greaterThan(10));

  for (const name of injectorCases) {
    it(name, () => {
      const input = readFileSync(new URL(`${name}.input.yaml`, injectorDir), "utf8");
      const expected = yaml.load(readFileSync(new URL(`${name}.expected.yaml`, injectorDir), "utf8")) as {
        result: string;
        message?: string;
        warnings?: string[];
        pod?: unknown;
      };
      const result = injectManifests(input, ...goldenSettingsFor(name));
      const pod = yaml.load(input) as { kind?: string };
      if (pod.kind !== "Pod") {
        // Not a Pod document (a malformed object the webhook still answers): passed through.
        expect(result.ok && result.text).to.equal(input);
        return;
      }
      switch (expected.result) {
        case "denied":
          expect(result.ok).to.equal(false);
          if (!result.ok) expect(result.errors[0]).to.match(/: /).and.to.include(expected.message);
          break;
        case "skipped":
          expect(result.ok && result.text).to.equal(input);
          break;
        case "injected": {
          if (!result.ok) throw new Error(result.errors.join("\n"));
          const out = yaml.load(withVersionPlaceholder(result.text));
          expect(out).to.deep.equal(expected.pod);
          const outcome = result.outcomes[0];
          expect(outcome?.result === "injected" && outcome.warnings).to.deep.equal(expected.warnings ?? []);
          break;
        }
        default:
          throw new Error(`unknown result ${expected.result}`);
      }
    });
  }
});

describe("outrigger inject --from-cluster", () => {
  // As the chart renders it: the trust-bundle ConfigMap mounted where --trust-anchors-file points.
  const deployment = (args: string[], trustBundleConfigMap = "outrigger-trust-bundle") => ({
    metadata: { namespace: "outrigger-system", name: "outrigger-injector" },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: "injector",
              image: "x",
              args,
              volumeMounts: [
                { name: "tmp", mountPath: "/tmp" },
                { name: "trust-bundle", mountPath: "/var/run/secrets/outrigger.dev/trust-bundle" },
              ],
            },
          ],
          volumes: [
            { name: "tmp", emptyDir: {} },
            { name: "trust-bundle", configMap: { name: trustBundleConfigMap, optional: true } },
          ],
        },
      },
    },
  });
  const fromCluster: Partial<InjectConfig> = {
    defaults: { from: "cluster", namespace: "outrigger-system", deployment: "outrigger-injector" },
  };

  it("injects with the sidecar defaults of the injector Deployment's args", async () => {
    const read = sidecarDefaultsOfDeployment(
      deployment([
        "injector",
        "--namespace=outrigger-system",
        "--sidecar-image=registry.example/daprd:9.9.9",
        "--native-sidecar=false",
        "--sidecar-log-level",
        "debug",
        "--sidecar-cpu-request=",
      ]),
    );
    expect(read).to.deep.equal({
      ok: true,
      settings: {
        sidecarImage: "registry.example/daprd:9.9.9",
        logLevel: "debug",
        logAsJson: false,
        nativeSidecar: false,
        resources: { memoryRequest: "250Mi", memoryLimit: "1Gi" },
        mtls: {
          sentryAddress: "outrigger-sentry.outrigger-system.svc:443",
          trustDomain: "cluster.local",
          sentryNamespace: "outrigger-system",
        },
      },
    });
    const input = readFileSync(new URL("minimal.input.yaml", injectorDir), "utf8");
    const reads: string[] = [];
    const { code, stdout } = await run(
      input,
      fromCluster,
      async () => deployment(["injector", "--sidecar-image=registry.example/daprd:9.9.9"]),
      async (namespace, name) => {
        reads.push(`${namespace}/${name}`);
        return { "ca.crt": goldenTrustAnchors };
      },
    );
    expect(code).to.equal(0);
    expect(stdout).to.include("image: registry.example/daprd:9.9.9");
    // mTLS is on (the default): the bundle is the ConfigMap the injector Deployment mounts.
    expect(reads).to.deep.equal(["outrigger-system/outrigger-trust-bundle"]);
    expect(stdout).to.include("--enable-mtls");
    expect(stdout).to.include("DAPR_TRUST_ANCHORS");
    expect(stdout).to.include(goldenTrustAnchors.split("\n")[1]);
  });

  it("finds the trust bundle through the Deployment's --trust-anchors-file and its volume items", () => {
    const d = deployment(["injector", "--trust-anchors-file=/anchors/roots.pem"], "my-bundle");
    const c = d.spec.template.spec.containers[0]!;
    c.volumeMounts.push({ name: "roots", mountPath: "/anchors" });
    (d.spec.template.spec.volumes as unknown[]).push({
      name: "roots",
      configMap: { name: "release-roots", items: [{ key: "ca.crt", path: "roots.pem" }] },
    });
    expect(trustBundleOfDeployment(d)).to.deep.equal({
      ok: true,
      ref: { namespace: "outrigger-system", name: "release-roots", key: "ca.crt" },
    });
    const unmounted = trustBundleOfDeployment(
      deployment(["injector", "--trust-anchors-file=/elsewhere/ca.crt"]),
    );
    expect(unmounted).to.deep.equal({
      ok: false,
      message:
        "Deployment outrigger-system/outrigger-injector mounts no ConfigMap at its trust anchors file /elsewhere/ca.crt; give the bundle with --trust-anchors-file",
    });
  });

  it("exits 2 when the cluster's trust bundle is not published yet, naming the ConfigMap", async () => {
    const { code, stdout, stderr } = await run(
      readFileSync(new URL("minimal.input.yaml", injectorDir), "utf8"),
      fromCluster,
      async () => deployment(["injector"]),
      async () => ({}),
    );
    expect(code).to.equal(2);
    expect(stdout).to.equal(undefined);
    expect(stderr).to.deep.equal([
      "outrigger inject: the trust bundle in ConfigMap outrigger-system/outrigger-trust-bundle (key ca.crt) holds no certificate (outrigger sentry publishes it when it first starts)",
    ]);
  });

  it("needs no trust bundle when the injector runs with --mtls=false", async () => {
    const { code, stdout } = await run(
      readFileSync(new URL("minimal.input.yaml", injectorDir), "utf8"),
      fromCluster,
      async () => deployment(["injector", "--mtls=false"]),
      async () => {
        throw new Error("no ConfigMap read expected");
      },
    );
    expect(code).to.equal(0);
    expect(stdout).to.not.include("--enable-mtls");
  });

  it("names the Deployment and the flag when its args are wrong, or when it runs no injector", () => {
    const bad = sidecarDefaultsOfDeployment(deployment(["injector", "--sidecar-log-level=loud"]));
    expect(bad).to.deep.equal({
      ok: false,
      message:
        'Deployment outrigger-system/outrigger-injector: --sidecar-log-level "loud": want debug, info, warn, error, fatal',
    });
    const none = sidecarDefaultsOfDeployment(deployment(["controller"]));
    expect(none.ok).to.equal(false);
    expect(!none.ok && none.message).to.include("has no container that runs `outrigger injector`");
  });

  it("exits 2 without output when the Deployment cannot be read", async () => {
    const { code, stdout, stderr } = await run("kind: Pod\n", fromCluster, async () => {
      throw new Error('deployments.apps "outrigger-injector" not found');
    });
    expect(code).to.equal(2);
    expect(stdout).to.equal(undefined);
    expect(stderr).to.deep.equal([
      'outrigger inject: --from-cluster: cannot read Deployment outrigger-system/outrigger-injector: deployments.apps "outrigger-injector" not found',
    ]);
  });
});

describe("outrigger inject with mTLS on (the default)", () => {
  const input = () => readFileSync(new URL("minimal.input.yaml", injectorDir), "utf8");

  it("needs the trust bundle: without --trust-anchors-file or --from-cluster it exits 2 naming the flags", async () => {
    const { code, stdout, stderr } = await run(input(), {});
    expect(code).to.equal(2);
    expect(stdout).to.equal(undefined);
    expect(stderr).to.have.length(1);
    expect(stderr[0]).to.match(/^outrigger inject: mTLS is on \(--mtls, the default\)/);
    expect(stderr[0])
      .to.include("--trust-anchors-file")
      .and.include("--from-cluster")
      .and.include("--mtls=false");
  });

  it("injects with the bundle of --trust-anchors-file, and refuses a file without certificates", async () => {
    const ok = await run(input());
    expect(ok.code).to.equal(0);
    expect(ok.stdout).to.include("--enable-mtls").and.include("DAPR_TRUST_ANCHORS");
    const empty = await run(input(), { trustAnchorsFile: "in" });
    expect(empty.code).to.equal(2);
    expect(empty.stderr[0]).to.equal(
      "outrigger inject: the trust bundle in in holds no certificate (outrigger sentry publishes it when it first starts)",
    );
  });

  it("with --mtls=false injects a plaintext sidecar and needs no bundle", async () => {
    const { code, stdout } = await run(input(), {
      defaults: { from: "flags", settings: goldenSettingsMtlsOff },
    });
    expect(code).to.equal(0);
    expect(stdout).to.include("daprd").and.not.include("--enable-mtls");
  });
});
