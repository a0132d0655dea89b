// The Helm chart, rendered by the pinned helm: it lints, its CRDs are crds/ plus the keep
// annotation, its values are checked, and what it wires together (flags, names, RBAC) matches
// the binaries it runs. The server-side dry-run and the install are in test/e2e/deploy.e2e.ts.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { expect } from "chai";
import { YAML11_SCHEMA, load } from "js-yaml";
import type { Command } from "../../src/shared/command.ts";
import { controllerCommand } from "../../src/controller/command.ts";
import { injectorCommand } from "../../src/injector/command.ts";
import { resources } from "../../src/controller/runtime/resource.ts";
import { CONVERSION_CRD } from "../../src/injector/crd-conversion.ts";
import { DEFAULT_SIDECAR_IMAGE, builtInSidecarDefaults } from "../../src/sidecar/defaults.ts";
import { sidecarDefaultsOfDeployment } from "../../src/cli/inject-command.ts";
import { KEEP_ANNOTATION, chartCrdDrift, crdSourceDir } from "../../hack/sync-chart-crds.ts";
import {
  chartDir,
  haValuesFile,
  helm,
  parseManifests,
  render,
  repoRoot,
  runHelm,
  template,
  type KubeObject,
  type Rendering,
} from "./helm.ts";

const RELEASE_NS = "outrigger-system";

function container(deployment: KubeObject): KubeObject {
  return deployment.spec.template.spec.containers[0];
}

/** Parses a container's args with the subcommand's own flag table, as the binary will. */
function parseContainerArgs(cmd: Command, args: string[]): Record<string, unknown> {
  return parseArgs({ args, options: cmd.options, strict: true, allowPositionals: false }).values;
}

describe("the Helm chart", function () {
  // Each test runs helm, a separate process: on a busy 2-core machine one call took over 10 s.
  this.timeout(60_000);
  let defaults: Rendering;
  let ha: Rendering;

  before(async function () {
    this.timeout(30 * 60_000); // the first run builds helm
    await helm();
    [defaults, ha] = await Promise.all([render(), render({ valuesFiles: [haValuesFile] })]);
  });

  it("passes helm lint --strict with the default and the HA values", async function () {
    for (const extra of [[], ["-f", haValuesFile]]) {
      const r = await runHelm(["lint", "--strict", chartDir, "--kube-version", "1.30.0", ...extra]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.include("0 chart(s) failed");
    }
  });

  it("renders without --kube-version: the pinned helm defaults to the pinned Kubernetes version", async function () {
    const plain = await runHelm(["template", "outrigger", chartDir, "--namespace", RELEASE_NS]);
    expect(plain.code, plain.stderr).to.equal(0);
    expect(parseManifests(plain.stdout).length).to.equal(defaults.objects.length);
    // What helm assumes: the minor of hack/versions.sh's KUBE_VERSION, set by build-components.sh.
    const pinned = /KUBE_VERSION="\$\{KUBE_VERSION:-v1\.(\d+)\.\d+\}"/.exec(
      readFileSync(join(repoRoot, "hack/versions.sh"), "utf8"),
    );
    const dir = mkdtempSync(join(tmpdir(), "outrigger-kube-version-"));
    try {
      mkdirSync(join(dir, "templates"));
      writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: probe\nversion: 0.0.1\n");
      writeFileSync(
        join(dir, "templates", "v.yaml"),
        "kubeVersion: {{ .Capabilities.KubeVersion.Version }}\n",
      );
      const probe = await runHelm(["template", "probe", dir]);
      expect(probe.code, probe.stderr).to.equal(0);
      expect(probe.stdout).to.include(`kubeVersion: v1.${pinned?.[1]}.0`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the injector with the defaults `outrigger inject --from-cluster` reads back", async function () {
    expect(sidecarDefaultsOfDeployment(defaults.get("Deployment", "outrigger-injector"))).to.deep.equal({
      ok: true,
      settings: builtInSidecarDefaults,
    });
    const custom = await render({
      values: { injector: { sidecar: { image: "registry.example/daprd:1.2.3", logLevel: "debug" } } },
    });
    const read = sidecarDefaultsOfDeployment(custom.get("Deployment", "outrigger-injector"));
    expect(read.ok && read.settings).to.deep.include({
      sidecarImage: "registry.example/daprd:1.2.3",
      logLevel: "debug",
    });
  });

  describe("CRDs", function () {
    it("are the templates hack/sync-chart-crds.ts makes from crds/", function () {
      expect(chartCrdDrift(), "run `node hack/sync-chart-crds.ts`").to.deep.equal([]);
    });

    it("render as crds/ plus helm.sh/resource-policy: keep, and nothing else", function () {
      const sources = readdirSync(crdSourceDir).map(
        (f) => load(readFileSync(join(crdSourceDir, f), "utf8"), { schema: YAML11_SCHEMA }) as KubeObject,
      );
      const rendered = defaults.ofKind("CustomResourceDefinition");
      expect(rendered.map((c) => c.metadata.name).sort()).to.deep.equal(
        sources.map((c) => c.metadata.name).sort(),
      );
      for (const source of sources) {
        const expected = structuredClone(source);
        expected.metadata.annotations = { ...expected.metadata.annotations, [KEEP_ANNOTATION]: "keep" };
        expect(defaults.get("CustomResourceDefinition", source.metadata.name)).to.deep.equal(expected);
      }
    });

    it("send Subscription conversions to /convert of the release's injector Service", async function () {
      const r = await render({ namespace: "dapr-cp", values: { injector: { service: { port: 8443 } } } });
      const crd = r.get("CustomResourceDefinition", "subscriptions.dapr.io");
      expect(crd.spec.conversion).to.deep.equal({
        strategy: "Webhook",
        webhook: {
          conversionReviewVersions: ["v1"],
          clientConfig: {
            service: { namespace: "dapr-cp", name: "outrigger-injector", path: "/convert", port: 8443 },
          },
        },
      });
    });

    it("are left out with crds.install=false", async function () {
      const r = await render({ values: { crds: { install: false } } });
      expect(r.ofKind("CustomResourceDefinition")).to.have.length(0);
      expect(r.ofKind("Deployment")).to.have.length(3);
    });
  });

  describe("the webhook configuration", function () {
    it("sends pod CREATEs to /mutate of the injector Service, failing closed, with a short timeout", function () {
      const config = defaults.get("MutatingWebhookConfiguration", "outrigger-injector");
      expect(config.webhooks).to.have.length(1);
      const [hook] = config.webhooks;
      expect(hook.clientConfig).to.deep.equal({
        service: { name: "outrigger-injector", namespace: RELEASE_NS, path: "/mutate", port: 443 },
      });
      expect(hook.rules).to.deep.equal([
        {
          apiGroups: [""],
          apiVersions: ["v1"],
          resources: ["pods"],
          operations: ["CREATE"],
          scope: "Namespaced",
        },
      ]);
      expect(hook.sideEffects).to.equal("None");
      expect(hook.admissionReviewVersions).to.deep.equal(["v1"]);
      expect(hook.reinvocationPolicy).to.equal("IfNeeded");
      expect(hook.failurePolicy).to.equal("Fail");
      expect(hook.timeoutSeconds).to.be.within(1, 10);
      expect(hook.clientConfig.caBundle, "the injector publishes the CA bundle").to.equal(undefined);
      const service = defaults.get("Service", "outrigger-injector");
      expect(service.spec.ports).to.deep.equal([
        { name: "https", port: 443, targetPort: "https", protocol: "TCP" },
      ]);
      expect(service.spec.selector).to.deep.equal(
        defaults.get("Deployment", "outrigger-injector").spec.selector.matchLabels,
      );
    });

    it("skips the release namespace, kube-system and the excluded namespaces, ANDed with the user's selector", async function () {
      const r = await render({
        namespace: "dapr-cp",
        values: {
          webhook: {
            excludedNamespaces: ["monitoring"],
            namespaceSelector: {
              matchLabels: { team: "a" },
              matchExpressions: [{ key: "outrigger.dev/e2e", operator: "Exists" }],
            },
          },
        },
      });
      const sel = r.get("MutatingWebhookConfiguration", "outrigger-injector").webhooks[0].namespaceSelector;
      expect(sel).to.deep.equal({
        matchLabels: { team: "a" },
        matchExpressions: [
          {
            key: "kubernetes.io/metadata.name",
            operator: "NotIn",
            values: ["dapr-cp", "kube-system", "monitoring"],
          },
          { key: "outrigger.dev/e2e", operator: "Exists" },
        ],
      });
    });

    it("takes failurePolicy and the development URL from values", async function () {
      const r = await render({
        values: { webhook: { failurePolicy: "Ignore", url: "https://10.0.0.5:8443/mutate" } },
      });
      const [hook] = r.get("MutatingWebhookConfiguration", "outrigger-injector").webhooks;
      expect(hook.failurePolicy).to.equal("Ignore");
      expect(hook.clientConfig).to.deep.equal({ url: "https://10.0.0.5:8443/mutate" });
    });
  });

  describe("the Deployments", function () {
    for (const name of ["outrigger-controller", "outrigger-injector"]) {
      it(`${name} runs restricted, with probes on its ops port and a roll that never lowers capacity`, function () {
        const d = defaults.get("Deployment", name);
        const pod = d.spec.template.spec;
        const c = container(d);
        expect(pod.serviceAccountName).to.equal(name);
        expect(pod.securityContext).to.deep.include({
          runAsNonRoot: true,
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(c.securityContext).to.deep.equal({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        expect(c.image).to.equal("ghcr.io/outrigger-dev/outrigger:0.1.0");
        expect(c.resources.requests).to.have.keys("cpu", "memory");
        expect(c.resources.limits).to.have.key("memory");
        const ops = c.ports.find((p: { name: string }) => p.name === "ops");
        expect(ops, "an ops port").to.not.equal(undefined);
        expect(c.livenessProbe.httpGet).to.deep.equal({ path: "/healthz", port: "ops" });
        expect(c.readinessProbe.httpGet).to.deep.equal({ path: "/readyz", port: "ops" });
        const opsFlag = c.args.find((a: string) => a.startsWith("--ops-address="));
        expect(opsFlag).to.equal(`--ops-address=0.0.0.0:${ops.containerPort}`);
        expect(d.spec.strategy.rollingUpdate).to.deep.equal({ maxUnavailable: 0, maxSurge: 1 });
        expect(pod.volumes).to.deep.include({ name: "tmp", emptyDir: { sizeLimit: "64Mi" } });
      });
    }

    it("pass only flags that `outrigger controller` and `outrigger injector` accept", function () {
      for (const [name, cmd, sub] of [
        ["outrigger-controller", controllerCommand, "controller"],
        ["outrigger-injector", injectorCommand, "injector"],
      ] as const) {
        const [first, ...args] = container(defaults.get("Deployment", name)).args as string[];
        expect(first).to.equal(sub);
        let error = "";
        try {
          parseContainerArgs(cmd, args);
        } catch (err) {
          error = (err as Error).message;
        }
        expect(error, `outrigger ${sub} ${args.join(" ")}`).to.equal("");
      }
    });

    it("wire the injector to the names its RBAC allows: certificate Secret, webhook configuration, Service", function () {
      const args = parseContainerArgs(
        injectorCommand,
        container(defaults.get("Deployment", "outrigger-injector")).args.slice(1),
      );
      expect(args["webhook-config-name"]).to.equal("outrigger-injector");
      expect(args["service-name"]).to.equal("outrigger-injector");
      expect(args["namespace"]).to.equal(RELEASE_NS);
      expect(args["sidecar-image"]).to.equal(DEFAULT_SIDECAR_IMAGE);
      const role = defaults.get("Role", "outrigger-injector");
      const named = role.rules.find((r: { resourceNames?: string[] }) => r.resourceNames);
      expect(named.resourceNames).to.deep.equal([args["cert-secret-name"]]);
      const clusterRole = defaults.get("ClusterRole", "outrigger-injector");
      expect(clusterRole.rules[0].resourceNames).to.deep.equal([args["webhook-config-name"]]);
    });

    it("inject by default the sidecar a bare `outrigger injector` injects", function () {
      const args = parseContainerArgs(
        injectorCommand,
        container(defaults.get("Deployment", "outrigger-injector")).args.slice(1),
      );
      const d = builtInSidecarDefaults;
      expect(args["sidecar-image"]).to.equal(DEFAULT_SIDECAR_IMAGE);
      expect({
        image: args["sidecar-image"],
        logLevel: args["sidecar-log-level"],
        logAsJson: args["sidecar-log-as-json"],
        nativeSidecar: args["native-sidecar"],
        cpuRequest: args["sidecar-cpu-request"],
        cpuLimit: args["sidecar-cpu-limit"],
        memoryRequest: args["sidecar-memory-request"],
        memoryLimit: args["sidecar-memory-limit"],
        pullPolicy: args["sidecar-image-pull-policy"],
        runAsUser: args["sidecar-run-as-user"],
      }).to.deep.equal({
        image: d.sidecarImage,
        logLevel: d.logLevel,
        logAsJson: String(d.logAsJson),
        nativeSidecar: String(d.nativeSidecar),
        cpuRequest: d.resources.cpuRequest ?? "",
        cpuLimit: d.resources.cpuLimit ?? "",
        memoryRequest: d.resources.memoryRequest ?? "",
        memoryLimit: d.resources.memoryLimit ?? "",
        pullPolicy: d.sidecarImagePullPolicy,
        runAsUser: d.runAsUser,
      });
    });

    it("pass the sidecar settings from values", async function () {
      const r = await render({
        values: {
          injector: {
            sidecar: {
              imagePullPolicy: "Always",
              nativeSidecar: false,
              runAsUser: 1000,
              resources: { limits: { cpu: "2" } },
            },
          },
        },
      });
      const args = parseContainerArgs(
        injectorCommand,
        container(r.get("Deployment", "outrigger-injector")).args.slice(1),
      );
      expect(args).to.include({
        "sidecar-image-pull-policy": "Always",
        "native-sidecar": "false",
        "sidecar-run-as-user": "1000",
        "sidecar-cpu-limit": "2",
        "sidecar-memory-limit": "1Gi",
      });
    });

    it("give the controller the injector's sidecar settings, for each sidecar flag it accepts", async function () {
      // The controller compares running sidecars with what the injector would inject now; with
      // other settings than the injector's it would report the wrong pods as stale.
      const r = await render({
        values: {
          injector: {
            sidecar: { image: "example.com/daprd:x", logAsJson: true, resources: { limits: { cpu: "3" } } },
          },
        },
      });
      const isSidecarFlag = (f: string) => f.startsWith("sidecar-") || f === "native-sidecar";
      const injectorArgs = parseContainerArgs(
        injectorCommand,
        container(r.get("Deployment", "outrigger-injector")).args.slice(1),
      );
      const controllerArgs = parseContainerArgs(
        controllerCommand,
        container(r.get("Deployment", "outrigger-controller")).args.slice(1),
      );
      expect(Object.keys(injectorCommand.options).filter(isSidecarFlag)).to.have.length.at.least(9);
      expect(injectorArgs).to.include({ "sidecar-image": "example.com/daprd:x", "sidecar-cpu-limit": "3" });
      for (const flag of Object.keys(controllerCommand.options).filter(isSidecarFlag)) {
        expect(controllerArgs[flag], `controller --${flag}`).to.equal(injectorArgs[flag]);
      }
    });

    it("wire the controller to the Lease its Role allows, in the release namespace", function () {
      const args = parseContainerArgs(
        controllerCommand,
        container(defaults.get("Deployment", "outrigger-controller")).args.slice(1),
      );
      expect(args["leader-election-namespace"]).to.equal(RELEASE_NS);
      const role = defaults.get("Role", "outrigger-controller");
      const named = role.rules.find((r: { resourceNames?: string[] }) => r.resourceNames);
      expect(named.resourceNames).to.deep.equal([args["leader-election-name"]]);
      expect(named.verbs).to.deep.equal(["get", "update"]);
    });

    it("size the controller's young generation through NODE_OPTIONS, the benchmark's default too", async function () {
      const env = (r: Rendering) =>
        (
          container(r.get("Deployment", "outrigger-controller")).env as Array<{
            name: string;
            value?: string;
          }>
        ).find((e) => e.name === "NODE_OPTIONS");
      const values = load(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
        controller: { nodeOptions: string };
      };
      expect(values.controller.nodeOptions).to.match(/^--max-semi-space-size=\d+$/);
      expect(env(defaults)?.value).to.equal(values.controller.nodeOptions);
      const none = await render({ values: { controller: { nodeOptions: "" } } });
      expect(env(none)).to.equal(undefined);
    });

    it("use the package version as appVersion, so the image tag follows releases", function () {
      const pkg = JSON.parse(readFileSync(join(chartDir, "../../../package.json"), "utf8")) as {
        version: string;
      };
      const chart = load(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as { appVersion: string };
      expect(chart.appVersion).to.equal(pkg.version);
    });

    it("take the image from [registry/]repository with a tag or a digest", async function () {
      const digest = `sha256:${"ab".repeat(32)}`;
      const r = await render({
        values: {
          image: { registry: "registry.example:5000", repository: "mirror/outrigger", tag: "v9", digest },
        },
      });
      expect(container(r.get("Deployment", "outrigger-controller")).image).to.equal(
        `registry.example:5000/mirror/outrigger@${digest}`,
      );
      const t = await render({ values: { image: { repository: "me/outrigger", tag: "dev" } } });
      expect(container(t.get("Deployment", "outrigger-injector")).image).to.equal("me/outrigger:dev");
    });
  });

  describe("HA values", function () {
    it("run 2 controllers and 3 injectors, spread over nodes and zones, with PDBs", function () {
      for (const [name, replicas, minAvailable] of [
        ["outrigger-controller", 2, 1],
        ["outrigger-injector", 3, 2],
      ] as const) {
        const d = ha.get("Deployment", name);
        expect(d.spec.replicas).to.equal(replicas);
        const pod = d.spec.template.spec;
        expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).to.have.length(
          1,
        );
        const spread = pod.topologySpreadConstraints as KubeObject[];
        expect(spread.map((s) => s.topologyKey)).to.deep.equal([
          "topology.kubernetes.io/zone",
          "kubernetes.io/hostname",
        ]);
        for (const s of spread) {
          expect(s.labelSelector.matchLabels).to.deep.equal(d.spec.selector.matchLabels);
          expect(s.matchLabelKeys).to.deep.equal(["pod-template-hash"]);
        }
        const pdb = ha.get("PodDisruptionBudget", name);
        expect(pdb.spec.minAvailable).to.equal(minAvailable);
        expect(pdb.spec).to.not.have.property("maxUnavailable");
        expect(pdb.spec.selector.matchLabels).to.deep.equal(d.spec.selector.matchLabels);
      }
    });

    it("hard anti-affinity makes the spread over nodes required", async function () {
      const r = await render({ values: { injector: { podAntiAffinity: "hard" } } });
      const affinity = r.get("Deployment", "outrigger-injector").spec.template.spec.affinity;
      expect(affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).to.equal(
        "kubernetes.io/hostname",
      );
    });
  });

  describe("metrics", function () {
    it("expose each ops port through a Service, and ServiceMonitors on request", async function () {
      for (const [component, port] of [
        ["controller", 8080],
        ["injector", 8081],
        ["sentry", 8082],
      ] as const) {
        const svc = defaults.get("Service", `outrigger-${component}-metrics`);
        expect(svc.spec.ports).to.deep.equal([{ name: "ops", port, targetPort: "ops", protocol: "TCP" }]);
      }
      expect(defaults.ofKind("ServiceMonitor")).to.have.length(0);
      const r = await render({
        values: { metrics: { serviceMonitor: { enabled: true, labels: { release: "prom" } } } },
      });
      const monitors = r.ofKind("ServiceMonitor");
      expect(monitors.map((m) => m.metadata.name)).to.deep.equal([
        "outrigger-controller",
        "outrigger-injector",
        "outrigger-sentry",
      ]);
      expect(monitors[0]!.metadata.labels.release).to.equal("prom");
      expect(monitors[0]!.spec.endpoints[0]).to.include({ port: "ops", path: "/metrics" });
    });
  });

  describe("RBAC", function () {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
    const rulesOf = (r: Rendering, kind: string, name: string): Rule[] => r.get(kind, name).rules as Rule[];
    const grants = (rules: Rule[], group: string, resource: string, verb: string): Rule[] =>
      rules.filter(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );

    it("never grants wildcards, escalate, bind, impersonate or deletecollection", function () {
      for (const o of [...defaults.ofKind("ClusterRole"), ...defaults.ofKind("Role")]) {
        for (const rule of o.rules as Rule[]) {
          for (const field of [rule.apiGroups, rule.resources, rule.verbs]) expect(field).to.not.include("*");
          for (const verb of ["escalate", "bind", "impersonate", "deletecollection"]) {
            expect(rule.verbs, `${o.kind}/${o.metadata.name}`).to.not.include(verb);
          }
        }
      }
    });

    it("lets sentry review tokens and get pods, and write only its own Secret and ConfigMap", function () {
      const cluster = rulesOf(defaults, "ClusterRole", "outrigger-sentry");
      expect(grants(cluster, "authentication.k8s.io", "tokenreviews", "create")).to.have.length(1);
      expect(grants(cluster, "", "pods", "get")).to.have.length(1);
      for (const verb of ["list", "watch", "update", "delete"])
        expect(grants(cluster, "", "pods", verb)).to.deep.equal([]);
      expect(grants(cluster, "", "secrets", "get")).to.deep.equal([]);
      const ns = rulesOf(defaults, "Role", "outrigger-sentry");
      expect(grants(ns, "", "secrets", "update").map((r) => r.resourceNames)).to.deep.equal([
        ["outrigger-sentry-ca"],
      ]);
      expect(grants(ns, "", "configmaps", "update").map((r) => r.resourceNames)).to.deep.equal([
        ["outrigger-trust-bundle"],
      ]);
      expect(grants(ns, "", "secrets", "list")).to.deep.equal([]);
    });

    it("lets the controller read and watch only Sentry's trust bundle, the ConfigMap its flag names", function () {
      const args = parseContainerArgs(
        controllerCommand,
        container(defaults.get("Deployment", "outrigger-controller")).args.slice(1),
      );
      const ns = rulesOf(defaults, "Role", "outrigger-controller");
      for (const verb of ["get", "list", "watch"])
        expect(grants(ns, "", "configmaps", verb).map((r) => r.resourceNames)).to.deep.equal([
          [args["trust-bundle-configmap"]],
        ]);
      expect(args["trust-bundle-configmap"]).to.equal("outrigger-trust-bundle");
      expect(args["sentry-namespace"]).to.equal(RELEASE_NS);
      expect(grants(ns, "", "configmaps", "update")).to.deep.equal([]);
      const cluster = rulesOf(defaults, "ClusterRole", "outrigger-controller");
      expect(grants(cluster, "", "configmaps", "get")).to.deep.equal([]);
    });

    it("gives the injector the trust bundle and the same --mtls switch as the controller", function () {
      const args = (name: string) =>
        (defaults.get("Deployment", name).spec.template.spec.containers[0].args as string[]).filter((a) =>
          /^--(mtls|trust-domain|sentry-)/.test(a),
        );
      expect(args("outrigger-injector")).to.deep.equal(args("outrigger-controller"));
      // On by default, as in Dapr.
      expect(args("outrigger-injector")).to.include("--mtls=true");
      const volumes = defaults.get("Deployment", "outrigger-injector").spec.template.spec.volumes as Array<{
        name: string;
        configMap?: { name: string; optional: boolean };
      }>;
      expect(volumes.find((v) => v.name === "trust-bundle")?.configMap).to.deep.equal({
        name: "outrigger-trust-bundle",
        optional: true,
      });
    });

    it("lets the controller read workloads but not change them", function () {
      const rules = rulesOf(defaults, "ClusterRole", "outrigger-controller");
      for (const resource of ["deployments", "statefulsets", "daemonsets", "replicasets"]) {
        expect(grants(rules, "apps", resource, "watch")).to.have.length(1);
        for (const verb of ["create", "update", "patch", "delete"])
          expect(grants(rules, "apps", resource, verb)).to.deep.equal([]);
      }
      expect(grants(rules, "", "pods", "delete")).to.deep.equal([]);
    });

    it("lets the controller read exactly the dapr.io kinds its informers list, and patch only their status", function () {
      const rules = rulesOf(defaults, "ClusterRole", "outrigger-controller");
      const read = Object.values(resources)
        .filter((rt) => rt.group === "dapr.io")
        .map((rt) => rt.plural)
        .sort();
      expect(read).to.include.members([
        "subscriptions",
        "resiliencies",
        "httpendpoints",
        "mcpservers",
        "workflowaccesspolicies",
      ]);
      const daprRules = rules.filter((r) => r.apiGroups.includes("dapr.io"));
      const granted = (verb: string) =>
        daprRules
          .filter((r) => r.verbs.includes(verb))
          .flatMap((r) => r.resources)
          .sort();
      expect(granted("watch")).to.deep.equal(read);
      expect(granted("list")).to.deep.equal(read);
      expect(granted("patch")).to.deep.equal(read.map((p) => `${p}/status`).sort());
      for (const verb of ["create", "update", "delete"]) expect(granted(verb)).to.deep.equal([]);
    });

    it("gives the injector nothing cluster-wide but its own webhook configuration and the Subscription CRD", function () {
      const rules = rulesOf(defaults, "ClusterRole", "outrigger-injector");
      expect(rules).to.have.length(2);
      expect(rules[0]!.resources).to.deep.equal(["mutatingwebhookconfigurations"]);
      expect(rules[0]!.resourceNames).to.deep.equal(["outrigger-injector"]);
      expect(rules[1]!.resources).to.deep.equal(["customresourcedefinitions"]);
      expect(rules[1]!.resourceNames).to.deep.equal([CONVERSION_CRD]);
      for (const r of rules) expect(r.verbs).to.deep.equal(["get", "update"]);
    });

    it("names the cluster-scoped objects after the release, so two releases can coexist", async function () {
      const other = await render({ release: "second", namespace: "other" });
      const clusterScoped = [
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
      ];
      const names = (r: Rendering) =>
        r.objects.filter((o) => clusterScoped.includes(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`);
      const shared = names(other).filter((n) => names(defaults).includes(n));
      expect(shared).to.deep.equal([]);
    });

    it("guards the controller's writes to Outrigger-labelled Opaque Secrets and ClusterIP Services", function () {
      const policy = defaults.get("ValidatingAdmissionPolicy", "outrigger-write-guard-controller");
      expect(policy.spec.matchConditions[0].expression).to.equal(
        'request.userInfo.username == "system:serviceaccount:outrigger-system:outrigger-controller"',
      );
      const binding = defaults.get("ValidatingAdmissionPolicyBinding", "outrigger-write-guard-controller");
      expect(binding.spec).to.deep.equal({ policyName: policy.metadata.name, validationActions: ["Deny"] });
      const injectorPolicy = defaults.get("ValidatingAdmissionPolicy", "outrigger-write-guard-injector");
      expect(injectorPolicy.spec.validations[0].expression).to.equal(
        "object.metadata.name == 'outrigger-injector-tls'",
      );
    });
  });

  describe("values.schema.json", function () {
    const rejected: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        "an unknown key (a typo)",
        { controller: { replica: 2 } },
        /\/controller.*additional properties 'replica'/,
      ],
      [
        "a failurePolicy Kubernetes does not know",
        { webhook: { failurePolicy: "Never" } },
        /failurePolicy.*'Fail', 'Ignore'/,
      ],
      [
        "a timeout above the API server's 30s",
        { webhook: { timeoutSeconds: 60 } },
        /timeoutSeconds.*maximum/,
      ],
      [
        "a plain-http webhook URL",
        { webhook: { url: "http://127.0.0.1:8443/mutate" } },
        /webhook\/url.*https/,
      ],
      ["a digest that is not sha256", { image: { digest: "latest" } }, /image\/digest.*sha256/],
      ["a pull policy that does not exist", { image: { pullPolicy: "Sometimes" } }, /pullPolicy.*'Always'/],
      ["a negative replica count", { injector: { replicas: -1 } }, /injector\/replicas.*minimum/],
      [
        "an unknown anti-affinity mode",
        { injector: { podAntiAffinity: "strict" } },
        /podAntiAffinity.*'soft', 'hard', 'none'/,
      ],
      [
        "a malformed quantity",
        { controller: { resources: { limits: { memory: "lots" } } } },
        /memory.*does not match/,
      ],
      [
        "imagePullSecrets as objects",
        { imagePullSecrets: [{ name: "regcred" }] },
        /imagePullSecrets\/0.*want string/,
      ],
      [
        "a non-string pod annotation",
        { injector: { podAnnotations: { "a/b": 1 } } },
        /podAnnotations.*want string/,
      ],
      ["a log level pino does not have", { controller: { logLevel: "verbose" } }, /logLevel.*'info'/],
      [
        "an extra arg that is not a flag",
        { injector: { extraArgs: ["debug"] } },
        /extraArgs\/0.*does not match/,
      ],
      [
        "node options that are not flags",
        { controller: { nodeOptions: "--max-semi-space-size=8; rm -rf /" } },
        /nodeOptions.*does not match/,
      ],
    ];
    for (const [what, values, message] of rejected) {
      it(`rejects ${what}`, async function () {
        const r = await template({ values });
        expect(r.code).to.not.equal(0);
        expect(r.stderr).to.match(message);
      });
    }

    it("explains why no injector replica with failurePolicy Fail is refused", async function () {
      const r = await template({ values: { injector: { replicas: 0 } } });
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include("injector.replicas is 0 while webhook.failurePolicy is Fail");
      const dev = await template({
        values: { injector: { replicas: 0 }, webhook: { url: "https://127.0.0.1:9443/mutate" } },
      });
      expect(dev.code, dev.stderr).to.equal(0);
    });

    it("accepts the default and the HA values", function () {
      expect(defaults.objects.length).to.be.greaterThan(20);
      expect(ha.objects.length).to.equal(defaults.objects.length);
    });
  });

  it("renders no document twice and every namespaced object into the release namespace", async function () {
    const r = await render({ namespace: "elsewhere" });
    const ids = r.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
    expect(new Set(ids).size).to.equal(ids.length);
    const clusterScoped = new Set([
      "CustomResourceDefinition",
      "ClusterRole",
      "ClusterRoleBinding",
      "MutatingWebhookConfiguration",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
    ]);
    for (const o of r.objects) {
      if (clusterScoped.has(o.kind))
        expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).to.equal(undefined);
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).to.equal("elsewhere");
    }
  });
});
