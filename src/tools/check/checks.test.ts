import type { V1MutatingWebhookConfiguration, V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import { readCrd, type CustomResourceDefinition } from "../../apis/crd-schema.ts";
import { generateCa, generateServingCertificate } from "../../injector/certs.ts";
import { builtInSidecarDefaults } from "../../sidecar/defaults.ts";
import { expectedSidecarStatus } from "../../sidecar/status.ts";
import {
  admissionChecks,
  appChecks,
  controllerChecks,
  crdChecks,
  dryRunCheck,
  exitCodeOf,
  kubernetesVersionCheck,
  metricSamples,
  podChecks,
  rbacChecks,
  readinessChecks,
  webhookChecks,
  type CheckResult,
  type Read,
} from "./checks.ts";
import { renderText } from "./command.ts";

const NOW = new Date("2026-03-01T12:00:00Z");
const DAY = 86_400_000;
const yes = <T>(value: T): Read<T> => ({ ok: true, value });
const no = (error: string): Read<never> => ({ ok: false, error });
const statuses = (rs: readonly CheckResult[]) => rs.map((r) => `${r.status} ${r.name}`);

describe("check: pre-install", () => {
  it("compares the API server's version with the chart's kubeVersion", () => {
    expect(kubernetesVersionCheck(yes("v1.36.3"), ">=1.30.0-0").status).to.equal("ok");
    expect(kubernetesVersionCheck(yes("v1.30.0+k3s1"), ">=1.30.0-0").status).to.equal("ok");
    const old = kubernetesVersionCheck(yes("v1.29.9"), ">=1.30.0-0");
    expect(old).to.deep.include({ status: "fail", hint: "upgrade the cluster to 1.30.0 or later" });
    expect(kubernetesVersionCheck(no("connection refused"), ">=1.30.0-0").message).to.contain(
      "connection refused",
    );
  });

  const metrics = [
    "# HELP kubernetes_feature_enabled ...",
    'kubernetes_feature_enabled{name="SidecarContainers",stage=""} 1',
    'kubernetes_feature_enabled{name="Other",stage="BETA"} 0',
    'apiserver_admission_controller_admission_duration_seconds_count{name="MutatingAdmissionWebhook",operation="CREATE",rejected="false",type="admit"} 42',
  ].join("\n");

  it("reads the admission plugin and the sidecar feature gate from the API server's metrics", () => {
    expect(metricSamples(metrics, "kubernetes_feature_enabled")).to.deep.equal([
      { labels: { name: "SidecarContainers", stage: "" }, value: 1 },
      { labels: { name: "Other", stage: "BETA" }, value: 0 },
    ]);
    expect(statuses(admissionChecks(yes("v1.36.3"), yes(true), yes(metrics)))).to.deep.equal([
      "ok MutatingAdmissionWebhook is enabled",
      "ok native sidecars (SidecarContainers) are on",
    ]);
    const off = metrics.replace('"SidecarContainers",stage=""} 1', '"SidecarContainers",stage="BETA"} 0');
    const noWebhook = off.replace('name="MutatingAdmissionWebhook"', 'name="Other"');
    expect(
      statuses(admissionChecks(yes("v1.30.1"), yes(true), yes(noWebhook))).map((s) => s.split(" ")[0]),
    ).to.deep.equal(["fail", "fail"]);
  });

  it("falls back on the version when the metrics cannot be read, and fails without the webhook API", () => {
    const forbidden = no("403 Forbidden");
    expect(admissionChecks(yes("v1.31.0"), yes(true), forbidden).map((r) => r.status)).to.deep.equal([
      "ok",
      "ok",
    ]);
    expect(admissionChecks(yes("v1.28.0"), yes(true), forbidden)[1]?.status).to.equal("fail");
    expect(admissionChecks(yes("v1.31.0"), yes(false), forbidden)[0]?.status).to.equal("fail");
  });

  it("groups the access reviews by resource and names the denied verbs", () => {
    const review = (resource: string, verb: string, allowed: Read<boolean>, namespace?: string) => ({
      group: "",
      resource,
      verb,
      allowed,
      ...(namespace ? { namespace } : {}),
    });
    const results = rbacChecks([
      review("services", "get", yes(true), "ns"),
      review("services", "create", yes(true), "ns"),
      review("namespaces", "get", yes(true)),
      review("namespaces", "delete", yes(false)),
      review("secrets", "get", no("timeout")),
    ]);
    expect(results.map((r) => `${r.status} ${r.name}: ${r.message ?? ""}`)).to.deep.equal([
      "ok can get, create services in ns: ",
      "fail can get, delete namespaces: not allowed to delete",
      "fail can get secrets: cannot ask: timeout",
    ]);
  });
});

describe("check: CRDs", () => {
  const component = readCrd("Component");
  const established = (crd: CustomResourceDefinition) =>
    ({
      ...crd,
      status: { conditions: [{ type: "Established", status: "True" }] },
    }) as CustomResourceDefinition;

  it("wants each packaged CRD installed, Established and with the same versions and schemas", () => {
    const drifted = structuredClone(component);
    drifted.spec.versions[0]!.schema.openAPIV3Schema.description = "an older version";
    const cases: Array<[string, Map<string, CustomResourceDefinition>, string]> = [
      ["same", new Map([[component.metadata.name, established(component)]]), "ok"],
      ["missing", new Map(), "not installed"],
      ["not established", new Map([[component.metadata.name, component]]), "not Established"],
      [
        "drifted",
        new Map([[component.metadata.name, established(drifted)]]),
        "its versions or schemas differ from this version's",
      ],
    ];
    for (const [what, actual, want] of cases) {
      const [r] = crdChecks([component], yes(actual));
      expect(r?.message ?? r?.status, what).to.equal(want);
    }
  });
});

describe("check: webhook", function () {
  this.timeout(30_000); // RSA key generation
  const ca = generateCa("test CA", new Date(NOW.getTime() - DAY), 3650 * DAY);
  const otherCa = generateCa("other CA", new Date(NOW.getTime() - DAY), 3650 * DAY);
  const serving = generateServingCertificate(
    ca,
    { dnsNames: ["outrigger-injector.outrigger-system.svc"], ipAddresses: ["127.0.0.1"] },
    new Date(NOW.getTime() - DAY),
    365 * DAY,
  );
  const config = (caPem: string | undefined): V1MutatingWebhookConfiguration => ({
    metadata: { name: "outrigger-injector" },
    webhooks: [
      {
        name: "sidecar-injector.outrigger.dev",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        clientConfig: caPem ? { caBundle: Buffer.from(caPem).toString("base64") } : {},
      },
    ],
  });
  const cert = (hostname = "127.0.0.1") =>
    yes({ pem: serving.certPem, source: "TLS at 127.0.0.1:8443", hostname });

  it("passes a caBundle that verifies the served certificate, valid for long enough", () => {
    expect(statuses(webhookChecks("outrigger-injector", yes(config(ca.certPem)), cert(), NOW))).to.deep.equal(
      [
        "ok MutatingWebhookConfiguration outrigger-injector exists",
        "ok its caBundle verifies the injector's serving certificate",
        "ok the serving certificate is valid for at least 30 days",
      ],
    );
    // The Secret's certificate, checked against the Service's DNS name.
    const viaService = webhookChecks(
      "outrigger-injector",
      yes(config(`${otherCa.certPem}${ca.certPem}`)),
      cert("outrigger-injector.outrigger-system.svc"),
      NOW,
    );
    expect(viaService.map((r) => r.status)).to.deep.equal(["ok", "ok", "ok"]);
  });

  it("fails without a caBundle, with another CA, or for another host; warns before expiry", () => {
    const [, noBundle] = webhookChecks("outrigger-injector", yes(config(undefined)), cert(), NOW);
    expect(noBundle).to.deep.include({ status: "fail" });
    expect(noBundle?.message).to.contain("no caBundle in webhook sidecar-injector.outrigger.dev");
    const [, other] = webhookChecks("outrigger-injector", yes(config(otherCa.certPem)), cert(), NOW);
    expect(other?.message).to.contain("is not signed by the caBundle");
    const [, host] = webhookChecks("outrigger-injector", yes(config(ca.certPem)), cert("evil.example"), NOW);
    expect(host?.message).to.contain("is not valid for evil.example");
    const late = new Date(NOW.getTime() + 350 * DAY);
    const [, , soon] = webhookChecks("outrigger-injector", yes(config(ca.certPem)), cert(), late);
    expect(soon).to.deep.include({ status: "warn" });
    expect(soon?.message).to.match(/in 1[34] days$/);
    expect(statuses(webhookChecks("outrigger-injector", yes(undefined), cert(), NOW))).to.deep.equal([
      "fail MutatingWebhookConfiguration outrigger-injector exists",
    ]);
  });

  it("wants the dry-run pod back with a daprd container", () => {
    const pod = (names: string[]): V1Pod => ({
      spec: { containers: [{ name: "app" }], initContainers: names.map((name) => ({ name })) },
    });
    expect(dryRunCheck("default", yes(pod(["daprd"]))).status).to.equal("ok");
    expect(dryRunCheck("default", yes(pod([]))).status).to.equal("fail");
    expect(dryRunCheck("default", no("Internal error occurred: failed calling webhook")).message).to.contain(
      "failed calling webhook",
    );
  });
});

describe("check: controller, apps, resources, pods", () => {
  const lease = (holder: string | undefined, renewedSecondsAgo: number) => ({
    spec: {
      ...(holder ? { holderIdentity: holder } : {}),
      leaseDurationSeconds: 15,
      renewTime: new Date(NOW.getTime() - renewedSecondsAgo * 1000) as never,
    },
  });

  it("wants a leader that renewed within the Lease duration and a ready Deployment", () => {
    const ready = yes({
      metadata: { name: "c" },
      spec: { replicas: 2 },
      status: { readyReplicas: 1 },
    } as never);
    expect(statuses(controllerChecks("l", yes(lease("c-1", 3)), ready, NOW))).to.deep.equal([
      "ok the controller has a leader (Lease l)",
      "ok the controller Deployment is ready",
    ]);
    const stale = controllerChecks("l", yes(lease("c-1", 20)), yes(undefined), NOW);
    expect(stale.map((r) => r.status)).to.deep.equal(["fail", "warn"]);
    expect(stale[0]?.message).to.contain("more than 15 s ago");
    expect(controllerChecks("l", yes(lease(undefined, 1)), ready, NOW)[0]?.message).to.contain("no holder");
    expect(controllerChecks("l", yes(undefined), ready, NOW)[0]?.message).to.contain("no Lease");
  });

  const pod = (
    name: string,
    annotations: Record<string, string>,
    labels: Record<string, string> = {},
  ): V1Pod => ({
    kind: "Pod",
    metadata: { name, namespace: "shop", uid: name, annotations, labels },
    spec: { containers: [{ name: "app" }] },
    status: { phase: "Running" },
  });
  const enabled = (appId: string) => ({ "dapr.io/enabled": "true", "dapr.io/app-id": appId });

  it("wants a sidecar-config Secret for every app", () => {
    const secret = (appId: string) => ({
      metadata: {
        name: `${appId}-dapr-sidecar`,
        namespace: "shop",
        labels: { "app.kubernetes.io/managed-by": "outrigger", "dapr.io/app-id": appId },
      },
    });
    const objects = yes({ pods: [pod("a-1", enabled("a")), pod("b-1", enabled("b"))] });
    expect(appChecks(objects, yes([secret("a"), secret("b")]))).to.deep.include({
      status: "ok",
      message: "2 apps",
    });
    expect(appChecks(objects, yes([secret("a")])).message).to.equal("1 of 2 without one: shop/b");
  });

  it("wants every resource Ready for its current generation", () => {
    const res = (name: string, generation: number, observed: number, ready: "True" | "False") => ({
      kind: "Component",
      metadata: { namespace: "shop", name, generation },
      status: {
        observedGeneration: observed,
        conditions: [
          {
            type: "Ready",
            status: ready,
            reason: ready === "True" ? "Ready" : "SecretNotFound",
            message: "",
            lastTransitionTime: "",
          },
        ],
      },
    });
    expect(readinessChecks("Component", yes([res("a", 1, 1, "True")])).status).to.equal("ok");
    const r = readinessChecks(
      "Component",
      yes([res("a", 1, 1, "True"), res("b", 2, 2, "False"), res("c", 3, 2, "True")]),
    );
    expect(r.message).to.equal("2 of 3 not Ready: shop/b (SecretNotFound), shop/c (Ready)");
  });

  it("counts stale sidecars and un-injected pods as warnings", () => {
    const stale = pod(
      "old-1",
      {
        ...enabled("old"),
        "outrigger.dev/sidecar-status": JSON.stringify({
          version: "0",
          image: "daprd:0.1",
          settingsHash: "x",
        }),
      },
      { "dapr.io/sidecar-injected": "true" },
    );
    stale.spec!.initContainers = [{ name: "daprd" }];
    const handWritten = pod("own-1", enabled("own"));
    handWritten.spec!.containers.push({ name: "daprd" });
    const results = podChecks(
      yes([stale, pod("bare-1", enabled("bare")), handWritten, pod("plain", {})]),
      builtInSidecarDefaults,
      new Set(["kube-system"]),
    );
    expect(results.map((r) => `${r.status} ${r.message}`)).to.deep.equal([
      "warn 1 do: shop/old-1",
      "warn 1 do not (the webhook was not called when they were created): shop/bare-1",
    ]);
    expect(exitCodeOf(results)).to.equal(0);
  });
});

describe("check: pods a root rotation leaves behind", () => {
  it("counts a pod whose trust anchors lack a root of Sentry's bundle as stale, only when the bundle is known", () => {
    const annotations = { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" };
    const expected = expectedSidecarStatus(annotations, "orders-1", builtInSidecarDefaults);
    if (!expected.ok) throw new Error("test pod must be injectable");
    const [oldRoot, successor] = ["a".repeat(64), "b".repeat(64)];
    const pod = (anchors: string): V1Pod => ({
      metadata: {
        name: `orders-${anchors.length}`,
        namespace: "shop",
        labels: { "dapr.io/app-id": "orders" },
        annotations: {
          ...annotations,
          "outrigger.dev/sidecar-status": JSON.stringify({ version: "x", ...expected }),
          "outrigger.dev/trust-anchors": anchors,
        },
      },
      spec: { containers: [{ name: "app" }], initContainers: [{ name: "daprd" }] },
      status: { phase: "Running" },
    });
    const pods = { ok: true as const, value: [pod(oldRoot), pod(`${oldRoot},${successor}`)] };
    const bundle = { source: "outrigger-system/outrigger-trust-bundle", fingerprints: [oldRoot, successor] };
    const [stale] = podChecks(pods, builtInSidecarDefaults, new Set(), bundle);
    expect(`${stale!.status} ${stale!.message}`).to.equal("warn 1 do: shop/orders-64");
    expect(podChecks(pods, builtInSidecarDefaults, new Set())[0]!.status).to.equal("ok");
  });
});

describe("check: output", () => {
  it("prints one line per check under its category, failures with their message and hint", () => {
    const results: CheckResult[] = [
      { category: "crds", name: "CRD a is Established", status: "ok" },
      {
        category: "webhook",
        name: "caBundle verifies",
        status: "fail",
        message: "no caBundle",
        hint: "start the injector",
      },
      { category: "webhook", name: "valid 30 days", status: "warn", message: "12 days" },
    ];
    expect(renderText(results)).to.equal(
      [
        "crds",
        "----",
        "✓ CRD a is Established",
        "",
        "webhook",
        "-------",
        "✗ caBundle verifies",
        "    no caBundle",
        "    hint: start the injector",
        "‼ valid 30 days",
        "    12 days",
        "",
        "Status check results: 1 ok, 1 warning, 1 failed",
      ].join("\n"),
    );
    expect(exitCodeOf(results)).to.equal(1);
    expect(exitCodeOf(results.filter((r) => r.status !== "fail"))).to.equal(0);
  });
});
