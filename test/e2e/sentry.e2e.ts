// Sidecar identity with the real daprd: `outrigger sentry` signs the SVIDs, the injector turns
// mTLS on, and two daprds in their own network namespaces call each other over mTLS with an
// accessControl policy that matches the caller's SPIFFE id. Sentry's refusals are checked over
// its gRPC API with real service-account tokens from the API server's TokenRequest.
//
// Name resolution: Dapr's sqlite resolver with one database file both daprds use (they run on
// this host's filesystem). mDNS is not used: multicast does not cross the veth pairs.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { SENTRY_PROTO } from "../../src/sentry/service.ts";
import { ed25519Csr } from "../../src/sentry/csr.testing.ts";
import { sentrySpiffeId } from "../../src/sidecar/identity.ts";
import { repoRoot, cluster } from "./harness/cluster.ts";
import {
  DAPRD_NAMESPACE_LABELS,
  apply,
  createDaprPod,
  useDaprdEnvironment,
  waitForSidecarConfig,
  configurationObject,
  expectStarted,
} from "./harness/daprd-env.ts";
import { useNamespace } from "./harness/namespace.ts";
import { linkPodNetworks } from "./harness/netns.ts";
import type { Sidecar } from "./harness/sidecar-runner.ts";
import { eventually } from "./harness/util.ts";

const DAPR_HTTP = 3500;
const DAPR_INTERNAL = 50002;
const APP_PORT = 8080;
const TRUST_DOMAIN = "cluster.local";

/** The certificate chain a daprd presents on its internal gRPC port (the TLS handshake only). */
async function presentedChain(sidecar: Sidecar): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: sidecar.network.podIP,
      port: DAPR_INTERNAL,
      rejectUnauthorized: false,
      ALPNProtocols: ["h2"],
    });
    socket.once("secureConnect", () => {
      const chain: X509Certificate[] = [];
      let c = socket.getPeerX509Certificate();
      // Node links the chain it received; stop at the first repeat.
      const seen = new Set<string>();
      while (c && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push(c);
        c = c.issuerCertificate;
      }
      socket.destroy();
      resolve(chain);
    });
    socket.once("error", reject);
  });
}

/** The checkout app: serves /orders and /admin from a directory, inside the pod's namespace. */
function startApp(netns: string, dir: string): ChildProcess {
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/orders`, "order-1,order-2");
  writeFileSync(`${dir}/admin`, "secret admin page");
  return spawn(
    "ip",
    ["netns", "exec", netns, "python3", "-m", "http.server", String(APP_PORT), "--bind", "127.0.0.1"],
    { cwd: dir, stdio: "ignore" },
  );
}

interface CaClient extends grpc.Client {
  signCertificate(
    req: object,
    cb: (err: grpc.ServiceError | null, res?: { workloadCertificate: Buffer }) => void,
  ): void;
}

/** A client of Sentry that verifies it as daprd does: chain to the trust bundle, Sentry's SPIFFE id. */
function sentryClient(port: number, anchors: string, sentryId: string): CaClient {
  const def = protoLoader.loadSync(SENTRY_PROTO, { keepCase: false, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    dapr: { proto: { sentry: { v1: { CA: new (a: string, c: grpc.ChannelCredentials) => CaClient } } } };
  };
  const creds = grpc.credentials.createSsl(Buffer.from(anchors), null, null, {
    checkServerIdentity: (_host, cert) =>
      cert.subjectaltname?.split(", ").includes(`URI:${sentryId}`)
        ? undefined
        : new Error(`Sentry presented ${cert.subjectaltname}, not ${sentryId}`),
  });
  return new pkg.dapr.proto.sentry.v1.CA(`127.0.0.1:${port}`, creds);
}

function sign(client: CaClient, req: object): Promise<{ workloadCertificate: Buffer }> {
  return new Promise((resolve, reject) =>
    client.signCertificate(req, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

async function tokenFor(namespace: string, podName: string, audience: string): Promise<string> {
  const core = cluster().kc.makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ namespace, name: podName });
  const res = await core.createNamespacedServiceAccountToken({
    namespace,
    name: pod.spec?.serviceAccountName ?? "default",
    body: {
      spec: {
        audiences: [audience],
        expirationSeconds: 600,
        boundObjectRef: { apiVersion: "v1", kind: "Pod", name: podName, uid: pod.metadata!.uid! },
      },
    },
  });
  return res.status?.token ?? "";
}

async function metricValue(opsPort: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}}`;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

describe("sentry: sidecar identity with the real daprd", function () {
  this.timeout(240_000);
  const env = useDaprdEnvironment({ mtls: true });
  const ns = useNamespace("sentry", DAPRD_NAMESPACE_LABELS);
  const scratch: string[] = [];
  const apps: ChildProcess[] = [];
  const unlinks: Array<() => Promise<void>> = [];

  afterEach(async function () {
    for (const a of apps.splice(0)) a.kill();
    await env.runner.stopAll();
    for (const u of unlinks.splice(0)) await u();
    for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("gives two sidecars SVIDs, calls over mTLS, and applies accessControl to the caller's id", async function () {
    const sentry = env.sentry!;
    const dir = `${repoRoot}.outrigger/sentry-e2e-${process.pid}-${Date.now()}`;
    scratch.push(dir);
    mkdirSync(dir, { recursive: true });
    const names = `${dir}/names.db`;
    const sqlite = { component: "sqlite", version: "v1", configuration: { connectionString: names } };
    await apply(
      ns.name,
      configurationObject("checkout", {
        nameResolution: sqlite,
        accessControl: {
          defaultAction: "deny",
          trustDomain: TRUST_DOMAIN,
          policies: [
            {
              appId: "frontend",
              defaultAction: "deny",
              trustDomain: TRUST_DOMAIN,
              namespace: ns.name,
              operations: [{ name: "/orders", httpVerb: ["GET"], action: "allow" }],
            },
          ],
        },
      }),
      configurationObject("frontend", { nameResolution: sqlite }),
    );

    const [frontNet, checkoutNet] = [await env.runner.allocateNetwork(), await env.runner.allocateNetwork()];
    unlinks.push(await linkPodNetworks([frontNet, checkoutNet]));
    const checkoutPod = await createDaprPod(ns.name, "checkout", "checkout", {
      "dapr.io/config": "checkout",
      "dapr.io/app-port": String(APP_PORT),
    });
    await createDaprPod(ns.name, "frontend", "frontend", { "dapr.io/config": "frontend" });

    // What the injector added for mTLS.
    const daprd = checkoutPod.spec!.initContainers!.find((c) => c.name === "daprd")!;
    expect(daprd.args).to.include.members([
      "--enable-mtls",
      "--sentry-address",
      "--control-plane-trust-domain",
    ]);
    const anchors = daprd.env!.find((e) => e.name === "DAPR_TRUST_ANCHORS")?.value ?? "";
    expect(anchors).to.equal(await sentry.syncAnchors());
    const tokenVolume = checkoutPod.spec!.volumes!.find((v) => v.name === "dapr-identity-token");
    expect(tokenVolume?.projected?.sources?.[0]?.serviceAccountToken?.audience).to.equal(
      sentrySpiffeId(TRUST_DOMAIN, sentry.namespace),
    );

    await waitForSidecarConfig(ns.name, "checkout");
    await waitForSidecarConfig(ns.name, "frontend");
    apps.push(startApp(checkoutNet.netns, `${dir}/app`));
    const t0 = performance.now();
    const [checkout, frontend] = await Promise.all([
      env.runner.start(ns.name, "checkout", { network: checkoutNet }),
      env.runner.start(ns.name, "frontend", { network: frontNet }),
    ]);
    await Promise.all([expectStarted(checkout), expectStarted(frontend)]);
    console.log(
      `      both sidecars started with SVIDs in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    // The SVIDs: what each daprd presents on its internal port, chained to Sentry's root.
    const root = new X509Certificate(anchors);
    for (const [sidecar, appId] of [
      [checkout, "checkout"],
      [frontend, "frontend"],
    ] as const) {
      const chain = await presentedChain(sidecar);
      const leaf = chain[0]!;
      expect(leaf.subjectAltName).to.equal(`URI:spiffe://${TRUST_DOMAIN}/ns/${ns.name}/${appId}`);
      expect(leaf.publicKey.asymmetricKeyType, "daprd's workload key").to.equal("ed25519");
      const issuer = chain[1]!;
      expect(leaf.verify(issuer.publicKey), "the leaf is signed by the issuer").to.equal(true);
      expect(issuer.verify(root.publicKey), "the issuer is signed by the root").to.equal(true);
      const hours = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 3_600_000;
      expect(hours, "24 h TTL plus 15 min skew").to.equal(24.25);
      console.log(`      ${appId}: ${leaf.subjectAltName}, valid ${leaf.validFrom} .. ${leaf.validTo}`);
    }
    expect(
      await metricValue(sentry.opsPort, "outrigger_sentry_certificates_issued_total", ""),
    ).to.be.at.least(2);

    // Invocation over mTLS: allowed for GET /orders, denied for /admin, by the caller's SPIFFE id.
    const orders = await eventually(
      async () => {
        const r = await frontend.fetchInPod(DAPR_HTTP, "/v1.0/invoke/checkout/method/orders");
        expect(r.status, `${r.body}\nfrontend log:\n${frontend.logs().slice(-3000)}`).to.equal(200);
        return r;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(orders.body).to.equal("order-1,order-2");
    const admin = await frontend.fetchInPod(DAPR_HTTP, "/v1.0/invoke/checkout/method/admin");
    expect(admin.status, admin.body).to.equal(403);
    expect(admin.body).to.contain("access control policy has denied access to id: spiffe://");
    expect(admin.body).to.contain(`/ns/${ns.name}/frontend operation: admin verb: GET`);
    console.log(
      `      GET /orders -> ${orders.status}; GET /admin -> ${admin.status}: ${admin.body.slice(0, 160)}`,
    );
  });

  it("refuses a token of another pod asking for checkout's id, and a token with the wrong audience", async function () {
    const sentry = env.sentry!;
    await createDaprPod(ns.name, "checkout", "checkout");
    await createDaprPod(ns.name, "frontend", "frontend");
    const sentryId = sentrySpiffeId(TRUST_DOMAIN, sentry.namespace);
    const client = sentryClient(sentry.grpcPort, await sentry.syncAnchors(), sentryId);
    const request = (token: string, id: string) => ({
      id,
      token,
      namespace: ns.name,
      trustDomain: "",
      certificateSigningRequest: ed25519Csr().csr,
      tokenValidator: "JWKS",
    });
    const count = (reason: string) =>
      metricValue(sentry.opsPort, "outrigger_sentry_sign_rejections_total", `reason="${reason}"`);
    try {
      // The control: frontend's own token for its own id is signed.
      const frontendToken = await tokenFor(ns.name, "frontend", sentryId);
      const ok = await sign(client, request(frontendToken, "frontend"));
      expect(new X509Certificate(ok.workloadCertificate).subjectAltName).to.equal(
        `URI:spiffe://${TRUST_DOMAIN}/ns/${ns.name}/frontend`,
      );

      const cases: Array<[string, string, string, number]> = [
        ["app-id-mismatch", frontendToken, "checkout", grpc.status.PERMISSION_DENIED],
        [
          "wrong-audience",
          await tokenFor(ns.name, "checkout", "https://kubernetes.default.svc"),
          "checkout",
          grpc.status.UNAUTHENTICATED,
        ],
        ["namespace-mismatch", frontendToken, "frontend", grpc.status.PERMISSION_DENIED],
      ];
      for (const [reason, token, id, code] of cases) {
        const before = await count(reason);
        const req = request(token, id);
        if (reason === "namespace-mismatch") req.namespace = "kube-system";
        const err = await sign(client, req).then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        );
        expect(err, `${reason}: refused`).to.not.equal(undefined);
        expect(err!.code, `${reason}: ${err!.details}`).to.equal(code);
        expect(err!.details).to.match(new RegExp(`^${reason}: `));
        expect(await count(reason), `metric for ${reason}`).to.equal(before + 1);
        console.log(`      ${reason}: ${grpc.status[err!.code]} "${err!.details.slice(0, 140)}"`);
      }
    } finally {
      client.close();
    }
  });
});
