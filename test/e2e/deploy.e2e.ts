// The Helm chart on a real API server: the rendered objects pass a server-side dry run (default
// and HA values), an install becomes Available on the simulated node, the webhook (pointed at
// an injector process through the development value) injects an annotated pod, the service
// accounts can do what they must and nothing more, an upgrade from the previous chart version
// upgrades the CRDs and rolls both Deployments, and an uninstall keeps the CRDs and Components.
//
// The webhook fails closed. So that it can never block pods of other specs in the shared
// cluster, its namespaceSelector matches only this run's app namespace, and after() removes
// it whatever happened.
import { corpusFiles } from "../../src/apis/conformance.testing.ts";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { YAML11_SCHEMA, dump, load } from "js-yaml";
import { chartCrdTemplate } from "../../hack/sync-chart-crds.ts";
import { SIDECAR_STATUS_ANNOTATION } from "../../src/sidecar/status.ts";
import {
  chartDir,
  haValuesFile,
  helm,
  KUBE_VERSION,
  parseManifests,
  runHelm,
  type KubeObject,
} from "../deploy/helm.ts";
import { cluster, repoRoot } from "./harness/cluster.ts";
import { dumpNamespace } from "./harness/namespace.ts";
import { STATIC_TRUST_ANCHORS_FILE, startOutrigger, type OutriggerProcess } from "./harness/outrigger.ts";
import { eventually, freePort, kubectl } from "./harness/util.ts";
import { localInjectorArgs } from "../../hack/local-injector.ts";

/** Every CRD the chart installs (crds/): the suite may have applied any of them without Helm. */
const CRDS = readdirSync(join(repoRoot, "crds"))
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length));
const SIDECAR_IMAGE = "ghcr.io/dapr/daprd:1.18.3";
const NEW_SIDECAR_IMAGE = "ghcr.io/dapr/daprd:1.18.4";
const PREVIOUS_MARKER = "Outrigger e2e: the previous chart version";
const MANAGED_BY = "app.kubernetes.io/managed-by";
const RELEASE_NAME = "meta.helm.sh/release-name";
const RELEASE_NAMESPACE = "meta.helm.sh/release-namespace";

/**
 * On the local cluster (kwok: pods are never really run) the webhook goes to an injector process
 * started by this spec, through the chart's development URL. On kind the chart's own injector
 * runs, from the image hack/kind-e2e.sh built and loaded.
 */
const inClusterInjector = () => cluster().provider === "kind";

async function getJson(args: string[], namespace?: string): Promise<KubeObject> {
  const r = await kubectl(["get", ...args, "-o", "json"], namespace ? { namespace } : {});
  return JSON.parse(r.stdout) as KubeObject;
}

/** `helm <args>` against the test cluster; throws with helm's output on failure. */
async function helmOk(args: string[]): Promise<string> {
  const r = await runHelm([...args, "--kubeconfig", cluster().kubeconfigPath]);
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * A copy of the chart as the previous release would have shipped it: an older version whose
 * Component CRD has another schema description, so the upgrade shows whether CRDs move.
 */
function previousChart(): string {
  const dir = mkdtempSync(join(tmpdir(), "outrigger-previous-chart-"));
  const chart = join(dir, "outrigger");
  cpSync(chartDir, chart, { recursive: true });
  const chartYaml = join(chart, "Chart.yaml");
  writeFileSync(
    chartYaml,
    readFileSync(chartYaml, "utf8").replace(/^version: .*$/m, "version: 0.0.1-previous"),
  );
  const crd = load(readFileSync(join(repoRoot, "crds/components.dapr.io.yaml"), "utf8"), {
    schema: YAML11_SCHEMA,
  }) as KubeObject;
  crd.spec.versions[0].schema.openAPIV3Schema.description = PREVIOUS_MARKER;
  writeFileSync(
    join(chart, "templates/crds/components.dapr.io.yaml"),
    chartCrdTemplate("components.dapr.io.yaml", dump(crd, { lineWidth: -1 })),
  );
  return chart;
}

function relabelled(obj: KubeObject, labels: Record<string, string>): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, labels: { ...obj.metadata.labels, ...labels } } };
}

/** Asks RBAC; `resource` may name a subresource after a colon, e.g. "components.dapr.io:status". */
async function canI(user: string, verb: string, resource: string, namespace?: string): Promise<boolean> {
  const [res, sub] = resource.split(":") as [string, string | undefined];
  const args = ["auth", "can-i", verb, res, `--as=${user}`, ...(namespace ? ["-n", namespace] : ["-A"])];
  if (sub) args.push(`--subresource=${sub}`);
  const r = await kubectl(args, { allowFail: true });
  const answer = r.stdout.trim();
  if (answer !== "yes" && answer !== "no") throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return answer === "yes";
}

describe("deploying Outrigger with the Helm chart", function () {
  this.timeout(10 * 60_000);
  const id = `${process.pid}`;
  const release = `e2e-${id}`;
  const fullname = `${release}-outrigger`;
  const releaseNs = `outrigger-deploy-${id}`;
  const appNs = `deploy-apps-${id}`;
  const scopeLabel = "outrigger.dev/deploy-e2e";
  const controllerSa = `system:serviceaccount:${releaseNs}:${fullname}-controller`;
  const injectorSa = `system:serviceaccount:${releaseNs}:${fullname}-injector`;
  const sentrySa = `system:serviceaccount:${releaseNs}:${fullname}-sentry`;
  const webhookConfig = `${fullname}-injector`;
  const certSecret = `${fullname}-injector-tls`;
  const cleanups: Array<() => Promise<unknown>> = [];
  let previous = "";
  let injector: OutriggerProcess | undefined;
  let webhookUrl = "";
  let failed = false;
  const crdOwnership = new Map<string, Record<string, string | undefined>>();

  /** Values of this run: the webhook only sees the app namespace. */
  function values(extra: string[] = []): string[] {
    const target = inClusterInjector()
      ? ["--set", `image.repository=${process.env.OUTRIGGER_E2E_IMAGE_REPOSITORY ?? "outrigger"}`]
          .concat(["--set", `image.tag=${process.env.OUTRIGGER_E2E_IMAGE_TAG ?? "e2e"}`])
          .concat(["--set", "image.pullPolicy=IfNotPresent"])
      : ["--set", `webhook.url=${webhookUrl}`];
    return [
      "--namespace",
      releaseNs,
      ...target,
      "--set-string",
      `webhook.namespaceSelector.matchLabels.${scopeLabel.replaceAll(".", "\\.")}=${id}`,
      ...extra,
    ];
  }

  before(async function () {
    this.timeout(30 * 60_000); // the first run builds helm
    await helm();
    webhookUrl = `https://127.0.0.1:${await freePort()}/mutate`;
    previous = previousChart();
    cleanups.push(async () => rmSync(join(previous, ".."), { recursive: true, force: true }));
    // The release namespace enforces the restricted Pod Security Standard: the chart's pods must pass it.
    for (const [name, labels] of [
      [releaseNs, ["pod-security.kubernetes.io/enforce=restricted"]],
      [appNs, [`${scopeLabel}=${id}`]],
    ] as const) {
      await kubectl(["create", "namespace", name]);
      await kubectl(["label", "namespace", name, "outrigger.dev/e2e=true", ...labels]);
      cleanups.push(() => kubectl(["delete", "namespace", name, "--wait=false"], { allowFail: true }));
    }
    // The suite applied crds/ without Helm (or another release owns them); hand the CRDs to
    // this release as docs/install.md says, and give them back in after().
    for (const crd of CRDS) {
      const exists = await kubectl(["get", "crd", crd, "-o", "json"], { allowFail: true });
      if (exists.code !== 0) continue;
      const meta = (JSON.parse(exists.stdout) as KubeObject).metadata;
      crdOwnership.set(crd, {
        [MANAGED_BY]: meta.labels?.[MANAGED_BY],
        [RELEASE_NAME]: meta.annotations?.[RELEASE_NAME],
        [RELEASE_NAMESPACE]: meta.annotations?.[RELEASE_NAMESPACE],
      });
      await kubectl(["label", "crd", crd, `${MANAGED_BY}=Helm`, "--overwrite"]);
      await kubectl([
        "annotate",
        "crd",
        crd,
        "--overwrite",
        `${RELEASE_NAME}=${release}`,
        `${RELEASE_NAMESPACE}=${releaseNs}`,
      ]);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") failed = true;
  });

  after(async function () {
    this.timeout(5 * 60_000);
    if (failed) {
      await dumpNamespace(releaseNs);
      await dumpNamespace(appNs);
    }
    await injector?.stop();
    // Never leave a fail-closed webhook behind, whatever state the release is in.
    await runHelm([
      "uninstall",
      release,
      "-n",
      releaseNs,
      "--kubeconfig",
      cluster().kubeconfigPath,
      "--wait",
    ]);
    await kubectl(["delete", "mutatingwebhookconfiguration", webhookConfig, "--ignore-not-found"], {
      allowFail: true,
    });
    // The CRDs stay (that is the point); give them back to their previous owner.
    for (const [crd, previous] of crdOwnership) {
      const set = (key: string) => (previous[key] === undefined ? `${key}-` : `${key}=${previous[key]}`);
      await kubectl(["label", "crd", crd, "--overwrite", set(MANAGED_BY)], { allowFail: true });
      await kubectl(["annotate", "crd", crd, "--overwrite", set(RELEASE_NAME), set(RELEASE_NAMESPACE)], {
        allowFail: true,
      });
    }
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("renders objects the API server accepts (server-side dry run), with the default and the HA values", async function () {
    for (const extra of [[], ["-f", haValuesFile]]) {
      const rendered = await helmOk([
        "template",
        release,
        chartDir,
        "--namespace",
        releaseNs,
        "--kube-version",
        KUBE_VERSION,
        ...extra,
      ]);
      const objects = parseManifests(rendered);
      expect(objects.length).to.be.greaterThan(20);
      const r = await kubectl(
        [
          "apply",
          "--dry-run=server",
          "--server-side",
          "--force-conflicts",
          "--field-manager=outrigger-e2e",
          "-f",
          "-",
        ],
        { input: rendered },
      );
      const accepted = r.stdout.split("\n").filter((l) => l.endsWith("(server dry run)"));
      expect(accepted, r.stdout + r.stderr).to.have.length(objects.length);
    }
    const webhooks = await kubectl(["get", "mutatingwebhookconfiguration", webhookConfig], {
      allowFail: true,
    });
    expect(webhooks.code, "a dry run creates nothing").to.not.equal(0);
  });

  it("installs the previous chart version: both Deployments become Available on the simulated node", async function () {
    await helmOk([
      "install",
      release,
      previous,
      ...values(["--set", "controller.logLevel=info"]),
      "--wait",
      "--timeout",
      "5m",
    ]);
    // Sentry is deployed with mTLS off too, so that its trust bundle exists before the switch.
    const replicas = { controller: 1, injector: 2, sentry: 2 };
    for (const [component, want] of Object.entries(replicas)) {
      const d = await getJson(["deployment", `${fullname}-${component}`], releaseNs);
      const available = d.status.conditions.find((c: { type: string }) => c.type === "Available");
      expect(available?.status, `${component} Available`).to.equal("True");
      expect(d.status.readyReplicas).to.equal(want);
    }
    const pods = await getJson(["pods", "-l", `app.kubernetes.io/instance=${release}`], releaseNs);
    expect(pods.items).to.have.length(5);
    for (const pod of pods.items as KubeObject[]) {
      if (cluster().provider === "local") expect(pod.spec.nodeName).to.equal("kwok-node-0");
      expect(pod.status.phase).to.equal("Running");
    }
    const crd = await getJson(["crd", "components.dapr.io"]);
    expect(crd.spec.versions[0].schema.openAPIV3Schema.description).to.equal(PREVIOUS_MARKER);
    expect(crd.metadata.annotations["helm.sh/resource-policy"]).to.equal("keep");
  });

  it("injects an annotated pod (local cluster: through the development webhook URL)", async function () {
    if (!inClusterInjector()) await startLocalInjector();
    await eventually(
      async () => {
        const hook = (await getJson(["mutatingwebhookconfiguration", webhookConfig])).webhooks[0];
        expect(hook.clientConfig.caBundle, "the injector published its CA")
          .to.be.a("string")
          .and.not.equal("");
        // Still scoped to this run's namespace: the injector must not widen the chart's selector.
        expect(hook.namespaceSelector.matchLabels).to.deep.equal({ [scopeLabel]: id });
        if (!inClusterInjector()) expect(hook.clientConfig.url).to.equal(webhookUrl);
      },
      { timeoutMs: 60_000 },
    );
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web",
        annotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "web", "dapr.io/app-port": "8080" },
      },
      spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
    };
    // The API server may still hold the old CA bundle for a moment; creating is retried until admitted.
    const created = await eventually(
      async () => {
        await kubectl(["create", "-f", "-", "-o", "json"], { namespace: appNs, input: JSON.stringify(pod) });
        return getJson(["pod", "web"], appNs);
      },
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    const all = [...(created.spec.initContainers ?? []), ...created.spec.containers] as KubeObject[];
    expect(
      all.map((c) => c.image),
      "the daprd sidecar",
    ).to.include(SIDECAR_IMAGE);
    expect(
      created.metadata.annotations[SIDECAR_STATUS_ANNOTATION],
      "the injector's status annotation",
    ).to.be.a("string");
    // mTLS on, as the chart defaults it: daprd asks the release's Sentry for its SVID.
    const daprd = all.find((c) => c.name === "daprd");
    expect(daprd?.args).to.include.members(["--enable-mtls", `${fullname}-sentry.${releaseNs}.svc:443`]);
    expect(created.spec.volumes.map((v: KubeObject) => v.name)).to.include("dapr-identity-token");
  });

  async function startLocalInjector(): Promise<void> {
    const port = new URL(webhookUrl).port;
    const ops = await freePort();
    injector = startOutrigger(
      "injector",
      localInjectorArgs(
        { namespace: releaseNs, port, opsPort: ops, register: false },
        // No --webhook-url: that would register a configuration of its own. The chart's
        // configuration already points at this URL; the injector only publishes its CA into it.
        // Its certificate always covers 127.0.0.1.
        "--webhook-config-name",
        webhookConfig,
        "--cert-secret-name",
        certSecret,
        "--sidecar-image",
        SIDECAR_IMAGE,
        // The chart's identity args (mTLS on by default): its Sentry, in the release namespace.
        "--sentry-namespace",
        releaseNs,
        "--sentry-address",
        `${fullname}-sentry.${releaseNs}.svc:443`,
        // The chart mounts Sentry's bundle; kwok runs no Sentry, so a fixed root stands in.
        "--trust-anchors-file",
        STATIC_TRUST_ANCHORS_FILE,
      ),
    );
    await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${ops}/readyz`);
        expect(res.status, injector?.logs().slice(-2000)).to.equal(200);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  }

  // Plain its, not a nested describe: mocha runs a describe's own its before its nested
  // describes, and these must run while the release is installed.
  {
    const cases: Array<
      [
        who: "controller" | "injector" | "sentry",
        verb: string,
        resource: string,
        ns: string,
        allowed: boolean,
      ]
    > = [];
    const must = (who: "controller" | "injector" | "sentry", verb: string, resource: string, ns: string) =>
      cases.push([who, verb, resource, ns, true]);
    const mustNot = (who: "controller" | "injector" | "sentry", verb: string, resource: string, ns: string) =>
      cases.push([who, verb, resource, ns, false]);
    // "" = all namespaces; "release"/"app" are replaced below.
    must("controller", "watch", "components.dapr.io", "");
    must("controller", "watch", "configurations.dapr.io", "");
    must("controller", "patch", "components.dapr.io:status", "app");
    must("controller", "patch", "configurations.dapr.io:status", "app");
    for (const kind of [
      "subscriptions",
      "resiliencies",
      "httpendpoints",
      "mcpservers",
      "workflowaccesspolicies",
    ]) {
      must("controller", "watch", `${kind}.dapr.io`, "");
      must("controller", "patch", `${kind}.dapr.io:status`, "app");
      mustNot("controller", "update", `${kind}.dapr.io`, "app");
    }
    must("controller", "create", "secrets", "app");
    must("controller", "delete", "secrets", "app");
    must("controller", "watch", "secrets", "");
    must("controller", "create", "services", "app");
    must("controller", "watch", "pods", "");
    must("controller", "watch", "deployments.apps", "");
    must("controller", "list", "statefulsets.apps", "");
    must("controller", "list", "daemonsets.apps", "");
    must("controller", "list", "replicasets.apps", "");
    must("controller", "list", "jobs.batch", "");
    must("controller", "list", "cronjobs.batch", "");
    must("controller", "create", "events", "app");
    must("controller", "create", "leases.coordination.k8s.io", "release");
    mustNot("controller", "delete", "deployments.apps", "app");
    mustNot("controller", "update", "deployments.apps", "app");
    mustNot("controller", "patch", "statefulsets.apps", "app");
    mustNot("controller", "delete", "pods", "app");
    mustNot("controller", "create", "pods", "app");
    mustNot("controller", "update", "components.dapr.io", "app");
    mustNot("controller", "delete", "components.dapr.io", "app");
    mustNot("controller", "update", "leases.coordination.k8s.io/someone-elses", "release");
    mustNot("controller", "create", "leases.coordination.k8s.io", "app");
    mustNot("controller", "deletecollection", "secrets", "app");
    mustNot("controller", "patch", "mutatingwebhookconfigurations", "");
    mustNot("controller", "create", "clusterrolebindings", "");
    mustNot("controller", "patch", "customresourcedefinitions", "");
    // Sentry's trust bundle, by name only (the named cases are below).
    mustNot("controller", "list", "configmaps", "release");
    mustNot("controller", "get", "configmaps/some-other-configmap", "release");
    mustNot("controller", "watch", "configmaps", "app");
    mustNot("controller", "update", "configmaps", "release");
    mustNot("injector", "get", "secrets/some-other-secret", "release");
    mustNot("injector", "list", "secrets", "release");
    mustNot("injector", "get", "secrets", "app");
    mustNot("injector", "list", "pods", "");
    mustNot("injector", "list", "components.dapr.io", "");
    mustNot("injector", "patch", "mutatingwebhookconfigurations/someone-elses", "");
    // Sentry: TokenReview, the pods tokens are bound to, its own Secret and ConfigMap (docs/rbac.md).
    must("sentry", "create", "tokenreviews.authentication.k8s.io", "");
    must("sentry", "get", "pods", "app");
    must("sentry", "create", "secrets", "release");
    must("sentry", "create", "configmaps", "release");
    mustNot("sentry", "list", "pods", "");
    mustNot("sentry", "watch", "pods", "");
    mustNot("sentry", "get", "secrets", "app");
    mustNot("sentry", "get", "secrets/some-other-secret", "release");
    mustNot("sentry", "list", "secrets", "release");
    mustNot("sentry", "create", "secrets", "app");
    mustNot("sentry", "update", "configmaps/some-other-configmap", "release");
    mustNot("sentry", "create", "serviceaccounts/token", "app");
    mustNot("sentry", "create", "pods", "app");
    mustNot("injector", "list", "mutatingwebhookconfigurations", "");
    mustNot("injector", "patch", "validatingwebhookconfigurations", "");
    mustNot("injector", "create", "pods", "release");

    it("RBAC (kubectl auth can-i): the controller, the injector and sentry can do what they must, and nothing the test names they must not", async function () {
      const nsOf = (ns: string) => (ns === "release" ? releaseNs : ns === "app" ? appNs : undefined);
      const wrong: string[] = [];
      const extra: Array<[string, boolean]> = [
        // Named resources need the release's names, known only here.
        [`injector get secrets/${certSecret} release`, true],
        [`injector update secrets/${certSecret} release`, true],
        [`injector create secrets release`, true],
        [`injector update mutatingwebhookconfigurations/${webhookConfig} `, true],
        [`injector get mutatingwebhookconfigurations/${webhookConfig} `, true],
        [`controller update leases.coordination.k8s.io/${fullname}-controller release`, true],
        [`controller get leases.coordination.k8s.io/${fullname}-controller release`, true],
        [`sentry get secrets/${fullname}-sentry-ca release`, true],
        [`sentry update secrets/${fullname}-sentry-ca release`, true],
        [`sentry get configmaps/${fullname}-trust-bundle release`, true],
        [`sentry update configmaps/${fullname}-trust-bundle release`, true],
        [`controller get configmaps/${fullname}-trust-bundle release`, true],
        [`controller list configmaps/${fullname}-trust-bundle release`, true],
        [`controller watch configmaps/${fullname}-trust-bundle release`, true],
        [`controller update configmaps/${fullname}-trust-bundle release`, false],
      ];
      const all: Array<[string, boolean]> = [
        ...cases.map(([who, verb, res, ns, ok]) => [`${who} ${verb} ${res} ${ns}`, ok] as [string, boolean]),
        ...extra,
      ];
      for (const [line, allowed] of all) {
        const [who, verb, resource, ns] = line.split(" ") as [string, string, string, string];
        const user = who === "controller" ? controllerSa : who === "sentry" ? sentrySa : injectorSa;
        const got = await canI(user, verb, resource, nsOf(ns));
        if (got !== allowed)
          wrong.push(`${who} ${allowed ? "must" : "must not"}: ${verb} ${resource} in ${ns || "all"}`);
      }
      expect(wrong).to.deep.equal([]);
      expect(all.length).to.be.greaterThan(40);
    });

    it("the write guard stops the controller's writes to objects that are not Outrigger's", async function () {
      const as = ["--as", controllerSa];
      const secret = (name: string, labels: Record<string, string>, type = "Opaque") =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name, labels },
          type,
          stringData: { a: "b" },
        });
      const ours = { "app.kubernetes.io/managed-by": "outrigger" };

      const unlabelled = await kubectl(["create", "-f", "-", ...as], {
        namespace: appNs,
        input: secret("not-ours", {}),
        allowFail: true,
      });
      expect(unlabelled.code).to.not.equal(0);
      expect(unlabelled.stderr).to.include(
        "must label what it writes app.kubernetes.io/managed-by=outrigger",
      );

      await kubectl(["create", "-f", "-", ...as], { namespace: appNs, input: secret("ours", ours) });
      // The controller updates (PUT) what it owns; it has no patch.
      await kubectl(["replace", "-f", "-", ...as], {
        namespace: appNs,
        input: JSON.stringify(relabelled(await getJson(["secret", "ours"], appNs), { extra: "1" })),
      });
      await kubectl(["delete", "secret", "ours", ...as], { namespace: appNs });

      const token = await kubectl(["create", "-f", "-", ...as], {
        namespace: appNs,
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Secret",
          type: "kubernetes.io/service-account-token",
          metadata: {
            name: "token",
            labels: ours,
            annotations: { "kubernetes.io/service-account.name": "default" },
          },
        }),
        allowFail: true,
      });
      expect(token.code).to.not.equal(0);
      expect(token.stderr).to.include("may write only Opaque Secrets");

      await kubectl(["create", "secret", "generic", "users-secret", "--from-literal=a=b"], {
        namespace: appNs,
      });
      const takeOver = relabelled(await getJson(["secret", "users-secret"], appNs), ours);
      for (const [what, args, input] of [
        ["delete", ["delete", "secret", "users-secret"], undefined],
        ["take over", ["replace", "-f", "-"], JSON.stringify(takeOver)],
      ] as const) {
        const r = await kubectl([...args, ...as], {
          namespace: appNs,
          allowFail: true,
          ...(input ? { input } : {}),
        });
        expect(r.code, what).to.not.equal(0);
        expect(r.stderr, what).to.include("may change or delete only objects labelled");
      }

      const lb = await kubectl(["create", "-f", "-", ...as], {
        namespace: appNs,
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "web-dapr", labels: ours },
          spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
        }),
        allowFail: true,
      });
      expect(lb.code).to.not.equal(0);
      expect(lb.stderr).to.include("may write only ClusterIP Services");
    });

    it("the write guard lets the injector create only its certificate Secret", async function () {
      const r = await kubectl(
        ["create", "secret", "generic", "elsewhere", "--from-literal=a=b", "--as", injectorSa],
        { namespace: releaseNs, allowFail: true },
      );
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include("may write only its certificate Secret");
    });
  }

  it("upgrades to this chart with changed values: CRDs upgraded, both Deployments rolled, CA bundle kept", async function () {
    const before: Record<string, { generation: number; hash: string }> = {};
    for (const c of ["controller", "injector"]) {
      const d = await getJson(["deployment", `${fullname}-${c}`], releaseNs);
      const rs = await getJson(
        ["replicasets", "-l", `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${c}`],
        releaseNs,
      );
      expect(rs.items).to.have.length(1);
      before[c] = {
        generation: d.metadata.generation,
        hash: rs.items[0].metadata.labels["pod-template-hash"],
      };
    }
    const caBefore = (await getJson(["mutatingwebhookconfiguration", webhookConfig])).webhooks[0].clientConfig
      .caBundle;

    await helmOk([
      "upgrade",
      release,
      chartDir,
      ...values([
        "--set",
        "controller.logLevel=debug",
        "--set",
        `injector.sidecar.image=${NEW_SIDECAR_IMAGE}`,
        "--wait",
        "--timeout",
        "5m",
      ]),
    ]);

    const crd = await getJson(["crd", "components.dapr.io"]);
    const source = load(readFileSync(join(repoRoot, "crds/components.dapr.io.yaml"), "utf8"), {
      schema: YAML11_SCHEMA,
    }) as KubeObject;
    expect(crd.spec.versions[0].schema.openAPIV3Schema.description).to.equal(
      source.spec.versions[0].schema.openAPIV3Schema.description,
    );
    expect(crd.metadata.labels["app.kubernetes.io/managed-by"]).to.equal("Helm");

    for (const c of ["controller", "injector"]) {
      const name = `${fullname}-${c}`;
      await kubectl(["rollout", "status", `deployment/${name}`, "--timeout=120s"], { namespace: releaseNs });
      const d = await getJson(["deployment", name], releaseNs);
      expect(d.metadata.generation, `${c} generation`).to.be.greaterThan(before[c]!.generation);
      expect(d.status.updatedReplicas).to.equal(d.spec.replicas);
      const rs = await getJson(
        ["replicasets", "-l", `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${c}`],
        releaseNs,
      );
      const current = (rs.items as KubeObject[]).filter((r) => r.spec.replicas > 0);
      expect(current, `${c}: one ReplicaSet with replicas`).to.have.length(1);
      expect(current[0]!.metadata.labels["pod-template-hash"], `${c}: a new ReplicaSet`).to.not.equal(
        before[c]!.hash,
      );
      const available = d.status.conditions.find((x: { type: string }) => x.type === "Available");
      expect(available?.status).to.equal("True");
    }
    const controller = await getJson(["deployment", `${fullname}-controller`], releaseNs);
    expect(controller.spec.template.spec.containers[0].args).to.include("--log-level=debug");
    const injectorDeployment = await getJson(["deployment", `${fullname}-injector`], releaseNs);
    expect(injectorDeployment.spec.template.spec.containers[0].args).to.include(
      `--sidecar-image=${NEW_SIDECAR_IMAGE}`,
    );

    const hook = (await getJson(["mutatingwebhookconfiguration", webhookConfig])).webhooks[0];
    expect(hook.clientConfig.caBundle, "helm upgrade keeps the injector's CA bundle").to.equal(caBefore);
    expect(hook.namespaceSelector.matchLabels).to.deep.equal({ [scopeLabel]: id });
  });

  it("uninstalls, keeping the CRDs and the users' Components", async function () {
    const file = corpusFiles("Component").find((f) => f.name.includes("howto-share-state"));
    expect(file, "a Component of Dapr's docs").to.not.equal(undefined);
    const component = file!.text.replace(/^\s+namespace: .*$/m, "");
    await kubectl(["apply", "-f", "-"], { namespace: appNs, input: component });

    await helmOk(["uninstall", release, "-n", releaseNs, "--wait"]);

    for (const crd of CRDS) {
      const got = await getJson(["crd", crd]);
      expect(got.metadata.deletionTimestamp, crd).to.equal(undefined);
    }
    const kept = await getJson(["components.dapr.io", "statestore"], appNs);
    expect(kept.spec.type).to.equal("state.redis");
    const gone = await kubectl(["get", "mutatingwebhookconfiguration", webhookConfig], { allowFail: true });
    expect(gone.code, "the webhook configuration is removed").to.not.equal(0);
    const deployments = await getJson(["deployments"], releaseNs);
    expect(deployments.items).to.deep.equal([]);
    const policies = await kubectl(
      ["get", "validatingadmissionpolicy", `${fullname}-write-guard-controller`],
      {
        allowFail: true,
      },
    );
    expect(policies.code).to.not.equal(0);
  });
});
