// The injector on a real API server: a real `outrigger injector` process registers itself with
// --webhook-url, and pods go through the real admission chain (MutatingAdmissionWebhook,
// PodSecurity) and kube-controller-manager. Certificates are short-lived here (30s serving, 2m
// CA), so renewals and a CA rotation happen while the specs run.
//
// The webhook only sees namespaces labelled for this run, so a failing spec cannot block pod
// creation elsewhere in the shared cluster; after() removes it in any case.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import tls from "node:tls";
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { expect } from "chai";
import forge from "node-forge";
import { SECRET_KEYS, syncCertificateSecret } from "../../src/injector/certificate-sources.ts";
import { LOOPBACK_HOSTS, splitPemBundle } from "../../src/injector/certs.ts";
import { cluster } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { STATIC_TRUST_ANCHORS_FILE, startOutrigger, type OutriggerProcess } from "./harness/outrigger.ts";
import { eventually, freePort, kubectl, sleep } from "./harness/util.ts";
import { localInjectorArgs } from "../../hack/local-injector.ts";

const SCOPE_LABEL = "outrigger.dev/injector-e2e";
const SCOPE = String(process.pid);
const SYSTEM_NAMESPACE = `injector-e2e-system-${process.pid}`;
const CONFIG_NAME = `outrigger-injector-e2e-${process.pid}`;
const SECRET_NAME = "outrigger-injector-tls";
const WEBHOOK = "sidecar-injector.outrigger.dev";

const api = {
  core: () => cluster().kc.makeApiClient(CoreV1Api),
  apps: () => cluster().kc.makeApiClient(AppsV1Api),
  admission: () => cluster().kc.makeApiClient(AdmissionregistrationV1Api),
};

async function certSecret(): Promise<Record<string, string>> {
  const s = await api.core().readNamespacedSecret({ name: SECRET_NAME, namespace: SYSTEM_NAMESPACE });
  return Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );
}

async function publishedBundle(): Promise<string> {
  const c = await api.admission().readMutatingWebhookConfiguration({ name: CONFIG_NAME });
  return Buffer.from(c.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString();
}

/** The certificate the injector presents, verified against `ca` for the name 127.0.0.1. */
function servedCertificate(port: number, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const cert = socket.getPeerCertificate();
      const err = tls.checkServerIdentity("127.0.0.1", cert);
      socket.end();
      if (err) reject(err);
      else resolve(cert);
    });
    socket.on("error", reject);
  });
}

/** A pod that passes the restricted Pod Security Standard by itself. */
function podManifest(
  name: string,
  annotations: Record<string, string>,
  labels: Record<string, string> = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: name, ...labels }, annotations },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "app",
          image: "registry.k8s.io/pause:3.10",
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
    },
  });
}

const dapr = (appId: string) => ({
  "dapr.io/enabled": "true",
  "dapr.io/app-id": appId,
  "dapr.io/app-port": "8080",
});

function sidecarOf(pod: V1Pod) {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === "daprd",
  );
}

describe("injector", function () {
  let injector: OutriggerProcess;
  let port: number;
  let opsPort: number;
  const ops = (path: string) => fetch(`http://127.0.0.1:${opsPort}${path}`);

  before(async function () {
    this.timeout(120_000);
    await api.core().createNamespace({ body: { metadata: { name: SYSTEM_NAMESPACE } } });
    port = await freePort();
    opsPort = await freePort();
    injector = startOutrigger(
      "injector",
      localInjectorArgs(
        { namespace: SYSTEM_NAMESPACE, port, opsPort },
        "--webhook-config-name",
        CONFIG_NAME,
        "--webhook-namespace-selector",
        `${SCOPE_LABEL}=${SCOPE}`,
        "--cert-validity",
        "30s",
        "--ca-validity",
        "2m",
        "--resync-interval",
        "5s",
        "--trust-anchors-file",
        STATIC_TRUST_ANCHORS_FILE,
      ),
    );
    await eventually(
      async () => {
        const res = await ops("/readyz");
        expect(res.status, "the injector becomes ready").to.equal(200);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  after(async function () {
    this.timeout(150_000);
    await injector?.stop();
    // Never leave a failurePolicy=Fail webhook behind that points at a stopped process, even if
    // the shared API server is briefly away (other specs restart it).
    await eventually(
      () => kubectl(["delete", "mutatingwebhookconfiguration", CONFIG_NAME, "--ignore-not-found"]),
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    await api
      .core()
      .deleteNamespace({ name: SYSTEM_NAMESPACE })
      .catch(() => undefined);
  });

  describe("in a labelled namespace", function () {
    const ns = useNamespace("injector", { [SCOPE_LABEL]: SCOPE });

    it("registers the webhook with the caBundle of its own CA", async function () {
      const config = await api.admission().readMutatingWebhookConfiguration({ name: CONFIG_NAME });
      expect(config.metadata?.labels?.["app.kubernetes.io/managed-by"]).to.equal("outrigger");
      const [webhook] = config.webhooks ?? [];
      expect(webhook?.name).to.equal(WEBHOOK);
      expect(webhook?.clientConfig.url).to.equal(`https://127.0.0.1:${port}/mutate`);
      expect(webhook).to.deep.include({
        failurePolicy: "Fail",
        sideEffects: "None",
        reinvocationPolicy: "IfNeeded",
        admissionReviewVersions: ["v1"],
      });
      expect(webhook?.rules).to.deep.equal([
        {
          apiGroups: [""],
          apiVersions: ["v1"],
          operations: ["CREATE"],
          resources: ["pods"],
          scope: "Namespaced",
        },
      ]);
      await eventually(async () => {
        const secret = await certSecret();
        const bundle = await publishedBundle();
        // The published bundle is the Secret's, and holds the CA that signs the serving certificate.
        expect(splitPemBundle(bundle)).to.deep.equal(splitPemBundle(secret[SECRET_KEYS.caBundle]!));
        expect(splitPemBundle(bundle)).to.include(splitPemBundle(secret[SECRET_KEYS.caCert]!)[0]);
        const ca = forge.pki.certificateFromPem(secret[SECRET_KEYS.caCert]!);
        expect(ca.verify(forge.pki.certificateFromPem(secret[SECRET_KEYS.servingCert]!))).to.equal(true);
        // And the injector serves a certificate that this bundle verifies, for 127.0.0.1.
        await servedCertificate(port, bundle);
      });
    });

    it("converts Subscriptions through the API server at its /convert: create as v1alpha1, read as v2alpha1, and back", async function () {
      // crds/ points the conversion at the chart's Service; this spec points it at the local
      // injector (which writes only the caBundle), and puts the Service back afterwards.
      const crdJson = async () =>
        JSON.parse((await kubectl(["get", "crd", "subscriptions.dapr.io", "-o", "json"])).stdout) as {
          spec: {
            conversion: { webhook: { clientConfig: { url?: string; service?: object; caBundle?: string } } };
          };
        };
      const original = (await crdJson()).spec.conversion.webhook.clientConfig;
      const pointAt = (clientConfig: object) =>
        kubectl([
          "patch",
          "crd",
          "subscriptions.dapr.io",
          "--type=merge",
          "-p",
          JSON.stringify({ spec: { conversion: { webhook: { clientConfig } } } }),
        ]);
      await pointAt({ service: null, url: `https://127.0.0.1:${port}/convert` });
      try {
        // The injector writes its CA into the CRD (the same bundle as the webhook configuration's).
        await eventually(
          async () => {
            const cc = (await crdJson()).spec.conversion.webhook.clientConfig;
            expect(splitPemBundle(Buffer.from(cc.caBundle ?? "", "base64").toString())).to.deep.equal(
              splitPemBundle(await publishedBundle()),
            );
          },
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        const v1 = {
          apiVersion: "dapr.io/v1alpha1",
          kind: "Subscription",
          metadata: { name: "orders-v1" },
          spec: { pubsubname: "pubsub", topic: "orders", route: "/orders", deadLetterTopic: "dead" },
          scopes: ["checkout"],
        };
        const v2 = {
          apiVersion: "dapr.io/v2alpha1",
          kind: "Subscription",
          metadata: { name: "orders-v2" },
          spec: {
            pubsubname: "pubsub",
            topic: "orders",
            routes: { rules: [{ match: 'event.type == "big"', path: "/big" }], default: "/orders" },
          },
        };
        // The API server converts to the stored v2alpha1 on create: through the webhook.
        await eventually(
          () =>
            kubectl(["apply", "-f", "-"], {
              namespace: ns.name,
              input: [v1, v2].map((o) => JSON.stringify(o)).join("\n"),
            }),
          { timeoutMs: 30_000, intervalMs: 1000 },
        );
        const get = async (version: string, name: string) =>
          JSON.parse(
            (
              await kubectl(["get", `subscriptions.${version}.dapr.io`, name, "-o", "json"], {
                namespace: ns.name,
              })
            ).stdout,
          ) as { apiVersion: string; spec: Record<string, unknown>; scopes?: string[] };
        const asV2 = await get("v2alpha1", "orders-v1");
        console.log(`      created as v1alpha1, read as v2alpha1: ${JSON.stringify(asV2.spec)}`);
        expect(asV2.apiVersion).to.equal("dapr.io/v2alpha1");
        expect(asV2.spec).to.deep.include({ routes: { default: "/orders" }, deadLetterTopic: "dead" });
        expect(asV2.scopes).to.deep.equal(["checkout"]);
        const back = await get("v1alpha1", "orders-v1");
        expect(back.apiVersion).to.equal("dapr.io/v1alpha1");
        expect(back.spec).to.deep.include({ route: "/orders", topic: "orders", pubsubname: "pubsub" });
        // v2alpha1 rules survive a trip through v1alpha1 (kept in an annotation there).
        const v2AsV1 = await get("v1alpha1", "orders-v2");
        console.log(`      created as v2alpha1 with rules, read as v1alpha1: ${JSON.stringify(v2AsV1.spec)}`);
        expect(v2AsV1.spec.route).to.equal("/orders");
        expect((await get("v2alpha1", "orders-v2")).spec.routes).to.deep.equal(v2.spec.routes);
        expect(injector.logs()).to.contain('"msg":"conversion"');
      } finally {
        await pointAt({ url: null, service: original.service ?? null });
      }
    });

    it("injects the sidecar into the pods kube-controller-manager creates for a Deployment", async function () {
      await api.apps().createNamespacedDeployment({
        namespace: ns.name,
        body: {
          metadata: { name: "checkout" },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: "checkout" } },
            template: {
              metadata: { labels: { app: "checkout" }, annotations: dapr("checkout") },
              spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
            },
          },
        },
      });
      const pods = await eventually(
        async () => {
          const list = await api
            .core()
            .listNamespacedPod({ namespace: ns.name, labelSelector: "app=checkout" });
          expect(list.items.filter((p) => p.status?.phase === "Running")).to.have.length(2);
          return list.items;
        },
        { timeoutMs: 60_000 },
      );
      for (const pod of pods) {
        expect(pod.metadata?.ownerReferences?.[0]?.kind).to.equal("ReplicaSet");
        const sidecar = pod.spec?.initContainers?.find((c) => c.name === "daprd");
        expect(sidecar, "daprd is a native sidecar").to.not.equal(undefined);
        expect(sidecar?.restartPolicy).to.equal("Always");
        expect(sidecar?.args).to.include.members(["--mode", "standalone", "--app-id", "checkout"]);
        expect(pod.metadata?.labels).to.include({
          "dapr.io/sidecar-injected": "true",
          "dapr.io/app-id": "checkout",
        });
        const app = pod.spec?.containers?.find((c) => c.name === "app");
        expect(app?.env?.map((e) => e.name)).to.include.members(["DAPR_HTTP_PORT", "DAPR_GRPC_PORT"]);
      }
    });

    it("leaves a pod without the annotation untouched", async function () {
      const manifest = podManifest("plain", {});
      await kubectl(["apply", "-f", "-"], { input: manifest, namespace: ns.name });
      const pod = await api.core().readNamespacedPod({ name: "plain", namespace: ns.name });
      expect(pod.spec?.initContainers ?? []).to.have.length(0);
      expect(pod.spec?.containers?.map((c) => c.name)).to.deep.equal(["app"]);
      expect(pod.metadata?.labels).to.deep.equal({ app: "plain" });
      expect(
        Object.keys(pod.metadata?.annotations ?? {}).filter((k) => !k.startsWith("kubectl.kubernetes.io/")),
      ).to.deep.equal([]);
      expect(pod.spec?.volumes?.map((v) => v.name) ?? []).to.not.include("outrigger-sidecar-config");
      // It went through the webhook and was skipped, not missed.
      await eventually(async () =>
        expect(injector.logs()).to.match(
          new RegExp(`"namespace":"${ns.name}","name":"plain".*"decision":"skipped"`),
        ),
      );
    });

    it("denies an invalid annotation with a message kubectl apply shows", async function () {
      const manifest = podManifest("bad-port", { ...dapr("bad-port"), "dapr.io/app-port": "http" });
      const res = await kubectl(["apply", "-f", "-"], {
        input: manifest,
        namespace: ns.name,
        allowFail: true,
      });
      expect(res.code).to.not.equal(0);
      expect(res.stderr).to.contain(`admission webhook "${WEBHOOK}" denied the request`);
      expect(res.stderr).to.contain('dapr.io/app-port: "http" is not a port number (1-65535)');
      const get = await kubectl(["get", "pod", "bad-port"], { namespace: ns.name, allowFail: true });
      expect(get.stderr).to.contain("NotFound");
    });

    it("works with kubectl create --dry-run=server, without creating anything", async function () {
      const manifest = podManifest("dry", dapr("dry"));
      const res = await kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], {
        input: manifest,
        namespace: ns.name,
      });
      const pod = JSON.parse(res.stdout) as V1Pod;
      expect(sidecarOf(pod), "the dry-run answer carries the sidecar").to.not.equal(undefined);
      const get = await kubectl(["get", "pod", "dry"], { namespace: ns.name, allowFail: true });
      expect(get.stderr).to.contain("NotFound");
      await eventually(async () => {
        expect(injector.logs()).to.match(/"dryRun":true,"decision":"injected"/);
        const metrics = await (await ops("/metrics")).text();
        expect(metrics).to.match(/outrigger_injector_injections_total\{dry_run="true"\} [1-9]/);
      });
    });

    it("keeps admitting pods across serving-certificate renewals and a CA rotation", async function () {
      this.timeout(240_000);
      const startCa = (await certSecret())[SECRET_KEYS.caCert]!;
      const servingSeen = new Set<string>();
      const casSeen = new Set<string>();
      let maxBundle = 0;
      let created = 0;
      const deadline = Date.now() + 200_000;
      // Until the CA itself has been replaced (and two serving renewals at least), one pod every few seconds.
      while (Date.now() < deadline) {
        const secret = await certSecret();
        const ca = secret[SECRET_KEYS.caCert]!;
        servingSeen.add(secret[SECRET_KEYS.servingCert]!);
        casSeen.add(ca);
        maxBundle = Math.max(maxBundle, splitPemBundle(secret[SECRET_KEYS.caBundle]!).length);
        const name = `renewal-${created}`;
        await kubectl(["apply", "-f", "-"], { input: podManifest(name, dapr(name)), namespace: ns.name });
        const pod = await api.core().readNamespacedPod({ name, namespace: ns.name });
        expect(sidecarOf(pod), `${name} has the sidecar`).to.not.equal(undefined);
        created++;
        if (servingSeen.size >= 3 && ca !== startCa) break;
        await sleep(3000);
      }
      console.log(
        `      ${created} pods admitted; ${servingSeen.size} serving certificates, ${casSeen.size} CAs, ` +
          `up to ${maxBundle} CAs in the bundle`,
      );
      expect(servingSeen.size, "the serving certificate was renewed").to.be.at.least(3);
      expect(casSeen.size, "the CA was rotated").to.be.at.least(2);
      expect(maxBundle, "old and new CA were trusted together").to.be.at.least(2);
      // And the published bundle still matches the Secret.
      await eventually(async () =>
        expect(splitPemBundle(await publishedBundle())).to.deep.equal(
          splitPemBundle((await certSecret())[SECRET_KEYS.caBundle]!),
        ),
      );
    });
  });

  describe("in a namespace that enforces the restricted Pod Security Standard", function () {
    const ns = useNamespace("injector-restricted", {
      [SCOPE_LABEL]: SCOPE,
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
    });

    it("admits the injected pod through the real PodSecurity admission", async function () {
      // Control: PodSecurity really is enforcing here.
      const root = JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "root" },
        spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
      });
      const rejected = await kubectl(["apply", "-f", "-"], {
        input: root,
        namespace: ns.name,
        allowFail: true,
      });
      expect(rejected.stderr).to.contain("violates PodSecurity");

      const res = await kubectl(["apply", "-f", "-"], {
        input: podManifest("restricted", dapr("restricted")),
        namespace: ns.name,
        allowFail: true,
      });
      expect(res.code, res.stderr).to.equal(0);
      const pod = await api.core().readNamespacedPod({ name: "restricted", namespace: ns.name });
      const sidecar = sidecarOf(pod);
      expect(sidecar).to.not.equal(undefined);
      expect(sidecar?.securityContext).to.deep.include({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      // With mTLS on (the default): the identity flags and the projected token volume, which
      // PodSecurity restricted allows.
      expect(sidecar?.args).to.include("--enable-mtls");
      expect(sidecar?.env?.map((e) => e.name)).to.include.members([
        "DAPR_TRUST_ANCHORS",
        "DAPR_SENTRY_TOKEN_FILE",
      ]);
      const token = pod.spec?.volumes?.find((v) => v.name === "dapr-identity-token");
      expect(token?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds).to.equal(3600);
      expect(res.stderr, "no PodSecurity warning either").to.not.contain("PodSecurity");
    });
  });

  describe("two replicas starting at once", function () {
    it("converge on one CA and serving certificate in the Secret", async function () {
      const name = `race-${Date.now()}`;
      const policy = {
        ...LOOPBACK_HOSTS,
        caCommonName: "race",
        caValidityMs: 3_600_000,
        servingValidityMs: 600_000,
      };
      const replicas = await Promise.all(
        Array.from({ length: 4 }, () =>
          syncCertificateSecret({
            core: api.core(),
            namespace: SYSTEM_NAMESPACE,
            name,
            policy,
            now: () => new Date(),
          }),
        ),
      );
      const stored = await api.core().readNamespacedSecret({ name, namespace: SYSTEM_NAMESPACE });
      const storedServing = Buffer.from(stored.data![SECRET_KEYS.servingCert]!, "base64").toString();
      const storedBundle = Buffer.from(stored.data![SECRET_KEYS.caBundle]!, "base64").toString();
      for (const r of replicas) {
        if (!r.ok) throw new Error(r.message);
        expect(r.certificates.serving.certPem).to.equal(storedServing);
        expect(r.certificates.caBundlePem).to.equal(storedBundle);
      }
      expect(
        replicas.filter((r) => r.ok && r.wrote),
        "exactly one replica created it",
      ).to.have.length(1);
    });

    it("refuses to overwrite a Secret that is not labelled as Outrigger's", async function () {
      const name = `foreign-${Date.now()}`;
      await api.core().createNamespacedSecret({
        namespace: SYSTEM_NAMESPACE,
        body: { metadata: { name }, stringData: { "tls.crt": "someone else's" } },
      });
      const r = await syncCertificateSecret({
        core: api.core(),
        namespace: SYSTEM_NAMESPACE,
        name,
        policy: { ...LOOPBACK_HOSTS, caCommonName: "x", caValidityMs: 3_600_000, servingValidityMs: 600_000 },
        now: () => new Date(),
      });
      expect(r.ok).to.equal(false);
      const after = await api.core().readNamespacedSecret({ name, namespace: SYSTEM_NAMESPACE });
      expect(Buffer.from(after.data!["tls.crt"]!, "base64").toString()).to.equal("someone else's");
    });
  });

  describe("with mTLS on and no trust bundle yet (a first install, before Sentry has published)", function () {
    it("is not ready until it has read a bundle, then stays ready when the bundle goes missing", async function () {
      this.timeout(120_000);
      const dir = mkdtempSync(`${tmpdir()}/outrigger-anchors-`);
      const anchors = `${dir}/ca.crt`;
      const [p, o] = [await freePort(), await freePort()];
      const waiting = startOutrigger(
        "injector",
        localInjectorArgs(
          { namespace: SYSTEM_NAMESPACE, port: p, opsPort: o, register: false },
          "--webhook-config-name",
          "",
          "--cert-secret-name",
          "outrigger-injector-tls-anchors",
          "--trust-anchors-file",
          anchors,
        ),
      );
      const status = async (path: string) =>
        (await fetch(`http://127.0.0.1:${o}${path}`).catch(() => undefined))?.status;
      try {
        await eventually(async () => expect(await status("/healthz"), "live").to.equal(200), {
          timeoutMs: 60_000,
          intervalMs: 500,
        });
        // Serving, but without a bundle it would only deny Dapr pods: not ready, so a rollout
        // (and helm install --wait) waits for it.
        await eventually(async () => expect(waiting.logs()).to.contain("injector ready"), {
          timeoutMs: 30_000,
        });
        expect(await status("/readyz"), "not ready without a bundle").to.equal(503);
        writeFileSync(anchors, readFileSync(STATIC_TRUST_ANCHORS_FILE, "utf8"));
        const t0 = performance.now();
        await eventually(async () => expect(await status("/readyz"), "ready once read").to.equal(200), {
          timeoutMs: 30_000,
          intervalMs: 250,
        });
        console.log(
          `      ready ${((performance.now() - t0) / 1000).toFixed(1)} s after the bundle appeared`,
        );
        rmSync(anchors);
        await sleep(6000); // past the injector's 5 s re-read
        expect(await status("/readyz"), "latched: still ready").to.equal(200);
      } finally {
        await waiting.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("on SIGTERM", function () {
    it("turns not ready, exits 0 and removes its webhook registration", async function () {
      const code = await injector.stop("SIGTERM");
      expect(code).to.equal(0);
      expect(injector.logs()).to.contain("shutting down: not ready, draining");
      const left = await kubectl(["get", "mutatingwebhookconfiguration", CONFIG_NAME], { allowFail: true });
      expect(left.stderr).to.contain("NotFound");
    });
  });
});
