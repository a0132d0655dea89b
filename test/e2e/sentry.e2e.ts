// Sidecar identity with the real daprd: `outrigger sentry` signs the SVIDs, the injector turns
// mTLS on, and two daprds in their own network namespaces call each other over mTLS with an
// accessControl policy that matches the caller's SPIFFE id. Sentry's refusals are checked over
// its gRPC API with real service-account tokens from the API server's TokenRequest.
//
// Name resolution: Dapr's sqlite resolver with one database file both daprds use (they run on
// this host's filesystem). mDNS is not used: multicast does not cross the veth pairs.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
} from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CoreV1Api } from "@kubernetes/client-node";
import { expect } from "chai";
import { SENTRY_PROTO } from "../../src/sentry/service.ts";
import { ed25519Csr } from "../../src/sentry/csr.testing.ts";
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, sentrySpiffeId } from "../../src/sidecar/identity.ts";
import { TRUST_ANCHORS_ANNOTATION } from "../../src/sidecar/trust-anchors.ts";
import { repoRoot, cluster } from "./harness/cluster.ts";
import {
  DAPRD_NAMESPACE_LABELS,
  apply,
  createDaprPod,
  useDaprdEnvironment,
  waitForSidecarConfig,
  configurationObject,
  expectStarted,
  podEventMessages,
  type DaprdEnvironment,
  readDaprResource,
} from "./harness/daprd-env.ts";
import { useNamespace } from "./harness/namespace.ts";
import { linkPodNetworks, type PodNetwork } from "./harness/netns.ts";
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

/** A token bound to no pod: TokenRequest without a bound object (the API server still signs it). */
async function unboundToken(namespace: string, audience: string): Promise<string> {
  const core = cluster().kc.makeApiClient(CoreV1Api);
  const res = await core.createNamespacedServiceAccountToken({
    namespace,
    name: "default",
    body: { spec: { audiences: [audience], expirationSeconds: 600 } },
  });
  return res.status?.token ?? "";
}

/**
 * The local cluster's service-account signing key (hack/local-cluster.sh made it and gave it to
 * the API server as --service-account-signing-key-file): a token signed with it is one the API
 * server itself could have issued. The API server will not issue an expired token (TokenRequest
 * has a minimum expiry), so the expired one is a real token of the pod, re-signed with its times
 * moved into the past.
 */
function clusterSigningKey(): string | undefined {
  if (cluster().provider !== "local") return undefined;
  const dir = process.env.OUTRIGGER_CLUSTER_DIR ?? `${repoRoot}.outrigger/local-cluster`;
  const path = `${dir}/pki/sa.key`;
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
}

/** `token` with its claims changed by `edit`, signed again (RS256) with `keyPem`, with the API server's key id. */
function resignedToken(
  token: string,
  keyPem: string,
  edit: (claims: Record<string, unknown>) => void,
): string {
  const [headerPart, claimsPart] = token.split(".");
  const header = JSON.parse(Buffer.from(headerPart!, "base64url").toString()) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(claimsPart!, "base64url").toString()) as Record<string, unknown>;
  edit(claims);
  const key = createPrivateKey(keyPem);
  // The API server's key id is the SHA-256 of the public key's DER (SPKI), base64url.
  const kid = createHash("sha256")
    .update(createPublicKey(key).export({ type: "spki", format: "der" }))
    .digest("base64url");
  const body = [
    Buffer.from(JSON.stringify({ ...header, alg: "RS256", kid })).toString("base64url"),
    Buffer.from(JSON.stringify(claims)).toString("base64url"),
  ].join(".");
  return `${body}.${cryptoSign("sha256", Buffer.from(body), key).toString("base64url")}`;
}

/** SignCertificate requests of one namespace, as daprd sends them, each with a new CSR. */
function signRequest(namespace: string) {
  return (token: string, id: string) => ({
    id,
    token,
    namespace,
    trustDomain: "",
    certificateSigningRequest: ed25519Csr().csr,
    tokenValidator: "JWKS",
  });
}

async function expectSigned(client: CaClient, req: object, nsAndId: string): Promise<void> {
  const ok = await sign(client, req);
  expect(new X509Certificate(ok.workloadCertificate).subjectAltName).to.equal(
    `URI:spiffe://${TRUST_DOMAIN}/ns/${nsAndId}`,
  );
}

/**
 * Each request is refused with `code`, a message that starts with `reason`, one count of the
 * rejection metric with that reason, and no certificate issued.
 */
async function expectRefused(
  client: CaClient,
  opsPort: number,
  reason: string,
  code: grpc.status,
  requests: object[],
): Promise<grpc.ServiceError[]> {
  const count = () => metricValue(opsPort, "outrigger_sentry_sign_rejections_total", `reason="${reason}"`);
  const issued = () => metricValue(opsPort, "outrigger_sentry_certificates_issued_total", "");
  const errors: grpc.ServiceError[] = [];
  for (const req of requests) {
    const [before, issuedBefore] = [await count(), await issued()];
    const err = await sign(client, req).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(err, `${reason}: refused`).to.not.equal(undefined);
    expect(err!.code, `${reason}: ${err!.details}`).to.equal(code);
    expect(err!.details).to.match(new RegExp(`^${reason}: `));
    expect(await count(), `metric for ${reason}`).to.equal(before + 1);
    expect(await issued(), `${reason}: nothing issued`).to.equal(issuedBefore);
    console.log(`      ${reason}: ${grpc.status[err!.code]} "${err!.details.slice(0, 200)}"`);
    errors.push(err!);
  }
  return errors;
}

async function metricValue(opsPort: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}}`;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

/** What a spec leaves to clean after it: scratch dirs, app processes, linked networks, daprds. */
function useSpecLeftovers(env: DaprdEnvironment) {
  const left = {
    scratch: [] as string[],
    apps: [] as ChildProcess[],
    unlinks: [] as Array<() => Promise<void>>,
  };
  afterEach(async function () {
    for (const a of left.apps.splice(0)) a.kill();
    await env.runner.stopAll();
    for (const u of left.unlinks.splice(0)) await u();
    for (const d of left.scratch.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return left;
}

describe("sentry: sidecar identity with the real daprd", function () {
  this.timeout(240_000);
  const env = useDaprdEnvironment({ mtls: true });
  const ns = useNamespace("sentry", DAPRD_NAMESPACE_LABELS);
  const { scratch, apps, unlinks } = useSpecLeftovers(env);

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
    const request = signRequest(ns.name);
    try {
      // The control: frontend's own token for its own id is signed.
      const frontendToken = await tokenFor(ns.name, "frontend", sentryId);
      await expectSigned(client, request(frontendToken, "frontend"), `${ns.name}/frontend`);
      await expectRefused(client, sentry.opsPort, "app-id-mismatch", grpc.status.PERMISSION_DENIED, [
        request(frontendToken, "checkout"),
      ]);
      const apiServerToken = await tokenFor(ns.name, "checkout", "https://kubernetes.default.svc");
      await expectRefused(client, sentry.opsPort, "wrong-audience", grpc.status.UNAUTHENTICATED, [
        request(apiServerToken, "checkout"),
      ]);
      await expectRefused(client, sentry.opsPort, "namespace-mismatch", grpc.status.PERMISSION_DENIED, [
        { ...request(frontendToken, "frontend"), namespace: "kube-system" },
      ]);
    } finally {
      client.close();
    }
  });

  it("refuses an expired token, a token bound to no pod, a deleted pod's token and a malformed CSR; nothing is issued", async function () {
    const sentry = env.sentry!;
    await createDaprPod(ns.name, "frontend", "frontend");
    await createDaprPod(ns.name, "gone", "gone");
    const sentryId = sentrySpiffeId(TRUST_DOMAIN, sentry.namespace);
    const client = sentryClient(sentry.grpcPort, await sentry.syncAnchors(), sentryId);
    const request = signRequest(ns.name);
    try {
      const frontendToken = await tokenFor(ns.name, "frontend", sentryId);

      // Malformed CSRs: refused before any API call.
      await expectRefused(client, sentry.opsPort, "malformed-csr", grpc.status.INVALID_ARGUMENT, [
        { ...request(frontendToken, "frontend"), certificateSigningRequest: Buffer.from("not a CSR") },
        {
          ...request(frontendToken, "frontend"),
          // A PEM block that is no PKCS#10 request: the CSR's bytes with its middle cut out.
          certificateSigningRequest: Buffer.from(
            ed25519Csr()
              .csr.toString()
              .replace(/\n[A-Za-z0-9+/]{8}/, "\n"),
          ),
        },
      ]);

      // Bound to no pod: the API server accepts the token (it names the service account), but
      // only a token bound to a pod proves which app-id its holder runs.
      const unbound = await unboundToken(ns.name, sentryId);
      await expectRefused(client, sentry.opsPort, "pod-not-bound", grpc.status.PERMISSION_DENIED, [
        request(unbound, "frontend"),
      ]);

      // A deleted pod's token. The API server keeps a successful token authentication for 10 s
      // (kube-apiserver's token success cache), so right after the pod is deleted TokenReview
      // still accepts the token and Sentry's own read of the pod refuses it: unknown-pod. Once
      // that cache has expired, TokenReview checks the bound pod itself and refuses the token:
      // invalid-token, with the API server's words.
      const goneToken = await tokenFor(ns.name, "gone", sentryId);
      await expectSigned(client, request(goneToken, "gone"), `${ns.name}/gone`);
      const acceptedAt = Date.now();
      const core = cluster().kc.makeApiClient(CoreV1Api);
      await core.deleteNamespacedPod({ namespace: ns.name, name: "gone", gracePeriodSeconds: 0 });
      await eventually(
        async () => {
          const left = await core.listNamespacedPod({
            namespace: ns.name,
            fieldSelector: "metadata.name=gone",
          });
          expect(left.items, "pod gone is deleted").to.have.length(0);
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const withinCache = Date.now() - acceptedAt < 8000;
      const [unknownErr] = await expectRefused(
        client,
        sentry.opsPort,
        withinCache ? "unknown-pod" : "invalid-token",
        withinCache ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED,
        [request(goneToken, "gone")],
      );
      console.log(
        `      (deleted ${((Date.now() - acceptedAt) / 1000).toFixed(1)} s after the token was last accepted)`,
      );
      if (withinCache) expect(unknownErr!.details).to.contain(`the token's pod ${ns.name}/gone (uid `);
      await new Promise((r) => setTimeout(r, Math.max(0, acceptedAt + 11_000 - Date.now())));
      const [invalidErr] = await expectRefused(
        client,
        sentry.opsPort,
        "invalid-token",
        grpc.status.UNAUTHENTICATED,
        [request(goneToken, "gone")],
      );
      // The API server's words for a token whose bound pod is gone.
      expect(invalidErr!.details, "the API server's reason is passed on").to.contain(
        "service account token has been invalidated",
      );

      // Expired: frontend's real token, signed again with the cluster's signing key, once as it
      // was (the control: accepted, so the key and the claims are the API server's own) and once
      // with its times an hour in the past.
      const key = clusterSigningKey();
      if (!key) {
        console.log(
          "      expired-token: not shown (needs the local provider's service-account signing key)",
        );
        this.skip();
      }
      await expectSigned(
        client,
        request(
          resignedToken(frontendToken, key!, () => {}),
          "frontend",
        ),
        `${ns.name}/frontend`,
      );
      const now = Math.floor(Date.now() / 1000);
      const expired = resignedToken(frontendToken, key!, (c) => {
        c.iat = now - 3600;
        c.nbf = now - 3600;
        c.exp = now - 600;
      });
      const [expiredErr] = await expectRefused(
        client,
        sentry.opsPort,
        "expired-token",
        grpc.status.UNAUTHENTICATED,
        [request(expired, "frontend")],
      );
      expect(expiredErr!.details).to.contain(
        `the token expired at ${new Date((now - 600) * 1000).toISOString()}`,
      );
    } finally {
      client.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A root rotation in the middle of a run. Sentry runs with short validities so that the whole
// rotation happens in about three and a half minutes (times from the root's creation, 2 s skew):
//   issuer 60 s        renewed at two thirds: about every 40 s
//   root 210 s         successor published at two thirds (~139 s)
//   publish period 50 s successor signs at max(5/6 of the root = ~175 s, publish + 50 = ~189 s)
//   workload TTL 20 s  daprd renews at half of its 22 s window: every ~11 s
// Pair 1 (frontend-1 -> checkout-1) is admitted at once, with the first root only; pair 2 after
// the successor is published, with both. Pair 1 must keep working through the issuer renewals
// and the publication, and is reported stale (trust-anchors) from the publication on; pair 2 must
// keep working through the switch of the signing root and the old root's expiry.

const ROTATION_SENTRY_ARGS = [
  "--root-validity",
  "210s",
  "--issuer-validity",
  "60s",
  "--root-publish-period",
  "50s",
  "--workload-cert-ttl",
  "20s",
  "--allowed-clock-skew",
  "2s",
  "--resync-interval",
  "5s",
];

interface Call {
  at: number;
  ok: boolean;
  detail: string;
}

/** frontend invokes `target`'s /orders once a second until `stop.done`; every call recorded. */
async function invokeLoop(frontend: Sidecar, target: string, stop: { done: boolean }): Promise<Call[]> {
  const calls: Call[] = [];
  while (!stop.done) {
    const at = Date.now();
    try {
      const r = await frontend.fetchInPod(DAPR_HTTP, `/v1.0/invoke/${target}/method/orders`);
      calls.push({ at, ok: r.status === 200, detail: `${r.status} ${r.body.slice(0, 160)}` });
    } catch (err) {
      calls.push({ at, ok: false, detail: String(err).slice(0, 160) });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - at))));
  }
  return calls;
}

/** The published trust bundle, in order (current root first). */
async function publishedRoots(namespace: string): Promise<X509Certificate[]> {
  const cm = await cluster()
    .kc.makeApiClient(CoreV1Api)
    .readNamespacedConfigMap({ namespace, name: TRUST_BUNDLE_CONFIGMAP });
  const pem = cm.data?.[TRUST_BUNDLE_KEY] ?? "";
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => new X509Certificate(m[0]),
  );
}

/** Sentry's "CA rotated" log lines: when, and what changed. */
function caRotations(logs: string): Array<{ at: number; changes: string }> {
  const out: Array<{ at: number; changes: string }> = [];
  for (const line of logs.split("\n")) {
    if (!line.startsWith("{") || !line.includes('"CA rotated"')) continue;
    const l = JSON.parse(line) as { time: number; changes: Array<{ certificate: string; reason: string }> };
    out.push({ at: l.time, changes: l.changes.map((c) => `${c.certificate} ${c.reason}`).join(", ") });
  }
  return out;
}

/** When daprd logged a renewed SVID. */
function renewals(sidecar: Sidecar): number[] {
  return [...sidecar.logs().matchAll(/time="([^"]+)"[^\n]*Successfully renewed workload identity/g)].map(
    (m) => Date.parse(m[1]!),
  );
}

/** The controller's stale-sidecar gauge (its ops port is in its log). */
async function staleGauge(controllerLogs: string): Promise<number> {
  const m = /"port":(\d+)[^\n]*"msg":"ops server listening"/.exec(controllerLogs);
  expect(m, "the controller logs its ops address").to.not.equal(null);
  return metricValue(Number(m![1]), "outrigger_stale_sidecars", "");
}

describe("sentry: a root rotation in the middle of a run, with the real daprd", function () {
  this.timeout(600_000);
  const env = useDaprdEnvironment({ mtls: true, sentryArgs: ROTATION_SENTRY_ARGS });
  const ns = useNamespace("rotation", DAPRD_NAMESPACE_LABELS);
  const { scratch, apps, unlinks } = useSpecLeftovers(env);

  it("keeps invocations working through issuer renewals, the successor's publication and the switch; reports pods admitted before it", async function () {
    const sentry = env.sentry!;
    const core = cluster().kc.makeApiClient(CoreV1Api);
    const [firstRoot] = await publishedRoots(sentry.namespace);
    const t0 = Date.parse(firstRoot!.validFrom) + 2000;
    const events: Array<[number, string]> = [];
    const note = (what: string, at = Date.now()) => {
      events.push([at, what]);
      console.log(`      t=${((at - t0) / 1000).toFixed(1)} s  ${what}`);
    };
    const dir = `${repoRoot}.outrigger/rotation-e2e-${process.pid}-${Date.now()}`;
    scratch.push(dir);
    mkdirSync(dir, { recursive: true });
    const sqlite = {
      component: "sqlite",
      version: "v1",
      configuration: { connectionString: `${dir}/names.db` },
    };
    const appIds = ["checkout-1", "frontend-1", "checkout-2", "frontend-2"];
    await apply(ns.name, ...appIds.map((a) => configurationObject(a, { nameResolution: sqlite })));
    const nets: PodNetwork[] = [];
    for (let i = 0; i < 4; i++) nets.push(await env.runner.allocateNetwork());
    unlinks.push(await linkPodNetworks(nets));
    const annotationsOf = (appId: string) => ({
      "dapr.io/config": appId,
      ...(appId.startsWith("checkout") ? { "dapr.io/app-port": String(APP_PORT) } : {}),
    });
    const anchorsOf = (pod: { metadata?: { annotations?: Record<string, string> } }) =>
      (pod.metadata?.annotations?.[TRUST_ANCHORS_ANNOTATION] ?? "").split(",");
    const fingerprint = (c: X509Certificate) => c.fingerprint256.replace(/:/g, "").toLowerCase();

    /** A frontend/checkout pair admitted now and running, frontend calling checkout in a loop. */
    const startPair = async (n: 1 | 2, stop: { done: boolean }) => {
      const [checkoutNet, frontNet] = [nets[2 * (n - 1)]!, nets[2 * (n - 1) + 1]!];
      const pods = [];
      for (const appId of [`checkout-${n}`, `frontend-${n}`])
        pods.push(await createDaprPod(ns.name, appId, appId, annotationsOf(appId)));
      note(`pair ${n} admitted, trust anchors ${pods.map((p) => anchorsOf(p).length).join("/")} roots`);
      for (const appId of [`checkout-${n}`, `frontend-${n}`]) await waitForSidecarConfig(ns.name, appId);
      apps.push(startApp(checkoutNet.netns, `${dir}/app-${n}`));
      const [checkout, frontend] = await Promise.all([
        env.runner.start(ns.name, `checkout-${n}`, { network: checkoutNet, verbose: false }),
        env.runner.start(ns.name, `frontend-${n}`, { network: frontNet, verbose: false }),
      ]);
      await Promise.all([expectStarted(checkout), expectStarted(frontend)]);
      await eventually(
        async () => {
          const r = await frontend.fetchInPod(DAPR_HTTP, `/v1.0/invoke/checkout-${n}/method/orders`);
          expect(r.status, r.body).to.equal(200);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      note(`pair ${n} running: first invocation answered`);
      return { pods, checkout, frontend, calls: invokeLoop(frontend, `checkout-${n}`, stop) };
    };
    const staleOf = async (appId: string) =>
      (await readDaprResource(ns.name, "configurations", appId)).status ?? {};

    // Pair 1: admitted with the first root only.
    const stop1 = { done: false };
    const pair1 = await startPair(1, stop1);
    expect(anchorsOf(pair1.pods[0]!)).to.deep.equal([fingerprint(firstRoot!)]);

    // The successor is published: the bundle holds two roots, the first still signs.
    const published = await eventually(
      async () => {
        const roots = await publishedRoots(sentry.namespace);
        expect(roots, "successor published").to.have.length(2);
        return roots;
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    note("successor root published (bundle: 2 roots)");
    const successor = published[1]!;
    expect(fingerprint(published[0]!)).to.equal(fingerprint(firstRoot!));

    // Pair 1 is reported: Event, status of its Configurations, gauge.
    for (const appId of ["checkout-1", "frontend-1"]) {
      await eventually(
        async () => {
          const st = await staleOf(appId);
          expect(st.staleSidecars, `${appId} staleSidecars`).to.equal(1);
          const c = st.conditions?.find((x) => x.type === "SidecarsCurrent");
          expect(c?.status).to.equal("False");
          expect(c?.message).to.contain(appId);
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    }
    const messages = await eventually(
      async () => {
        const m = await podEventMessages(ns.name, "checkout-1", "StaleSidecar");
        expect(m.join("\n")).to.contain(`lack root sha256:${fingerprint(successor).slice(0, 16)}`);
        return m;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(await staleGauge(env.controller.logs())).to.be.at.least(2);
    note(`pair 1 reported stale: ${messages.at(-1)!.slice(0, 200)}`);

    // Pair 2: admitted once the injector has the new bundle (the kubelet's copy, then its re-read).
    await sentry.syncAnchors();
    const rereads = env.injector.logs().split("trust anchors changed").length;
    await eventually(
      async () => expect(env.injector.logs().split("trust anchors changed").length).to.be.above(rereads),
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const stop2 = { done: false };
    const pair2 = await startPair(2, stop2);
    expect(anchorsOf(pair2.pods[0]!)).to.deep.equal([fingerprint(firstRoot!), fingerprint(successor)]);
    for (const appId of ["checkout-2", "frontend-2"]) {
      await eventually(
        async () => {
          const st = await staleOf(appId);
          expect(st.conditions?.find((x) => x.type === "SidecarsCurrent")?.status, appId).to.equal("True");
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
    }
    const beforeSwitch = Date.now();

    // The switch: the successor becomes the current root; the old one stays until it expires.
    await eventually(
      async () => {
        const roots = await publishedRoots(sentry.namespace);
        expect(fingerprint(roots[0]!), "the successor signs").to.equal(fingerprint(successor));
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const switchedAt = Date.now();
    note("successor is the signing root");
    expect(beforeSwitch, "pair 2 ran before the switch").to.be.below(switchedAt);
    const oldRootExpiry = Date.parse(firstRoot!.validTo);
    // Run on until both daprds of pair 2 renewed under the new root, and past the old root's expiry.
    await eventually(
      async () => {
        for (const s of [pair2.checkout, pair2.frontend])
          expect(
            renewals(s).filter((t) => t > switchedAt),
            `${s.podName} renewed after the switch`,
          ).to.not.have.lengthOf(0);
        expect(Date.now()).to.be.above(Math.max(oldRootExpiry + 15_000, switchedAt + 25_000));
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    stop1.done = stop2.done = true;
    const [calls1, calls2] = await Promise.all([pair1.calls, pair2.calls]);
    note("invocation loops stopped");

    // The SVIDs pair 2 presents now chain to the new root.
    for (const s of [pair2.checkout, pair2.frontend]) {
      const chain = await presentedChain(s);
      expect(chain[1]!.verify(successor.publicKey), `${s.podName}: issuer signed by the new root`).to.equal(
        true,
      );
      expect(chain[0]!.verify(chain[1]!.publicKey)).to.equal(true);
      expect(Date.parse(chain[0]!.validFrom) + 2000).to.be.at.least(
        Math.floor(switchedAt / 1000) * 1000 - 60_000,
      );
      console.log(
        `      ${s.podName}: presents ${chain[0]!.subjectAltName}, issuer under the new root, from ${chain[0]!.validFrom}`,
      );
    }
    expect(
      (await publishedRoots(sentry.namespace)).map(fingerprint),
      "the old root left the bundle",
    ).to.deep.equal([fingerprint(successor)]);

    // The timeline.
    for (const r of caRotations(sentry.process.logs())) events.push([r.at, `sentry: ${r.changes}`]);
    for (const s of [pair1.checkout, pair1.frontend, pair2.checkout, pair2.frontend])
      for (const t of renewals(s)) events.push([t, `${s.podName}: SVID renewed`]);
    const failed = (calls: Call[]) => calls.filter((c) => !c.ok);
    for (const c of [...failed(calls1).slice(0, 3), ...failed(calls2)])
      events.push([c.at, `invocation failed: ${c.detail}`]);
    events.sort((a, b) => a[0] - b[0]);
    console.log("      timeline (s after the first root was made):");
    for (const [at, what] of events)
      console.log(`        ${((at - t0) / 1000).toFixed(1).padStart(6)}  ${what}`);
    const summary = (calls: Call[], from: number, to: number) => {
      const inside = calls.filter((c) => c.at >= from && c.at < to);
      return `${inside.length} calls, ${failed(inside).length} failed`;
    };
    console.log(
      `      pair 1 before the switch: ${summary(calls1, 0, switchedAt)}; after: ${summary(calls1, switchedAt, Infinity)}`,
    );
    console.log(
      `      pair 2 before the switch: ${summary(calls2, 0, switchedAt)}; after: ${summary(calls2, switchedAt, Infinity)}`,
    );

    expect(
      failed(calls2).map((c) => c.detail),
      "pair 2 (admitted after the successor was published)",
    ).to.deep.equal([]);
    expect(calls2.filter((c) => c.at < switchedAt).length, "pair 2 calls before the switch").to.be.above(5);
    expect(calls2.filter((c) => c.at > switchedAt).length, "pair 2 calls after the switch").to.be.above(5);
    expect(
      failed(calls1.filter((c) => c.at < switchedAt)).map((c) => c.detail),
      "pair 1 before the switch (issuer renewals, the publication)",
    ).to.deep.equal([]);
    // Pair 1 trusts the old root only. Its calls above kept working: they reuse the mTLS
    // connection made before the switch, and TLS verifies a peer only when it connects. But its
    // daprds cannot renew any more (they cannot verify Sentry's new serving certificate), their
    // SVIDs run out, and a new connection fails.
    const promotedAt = caRotations(sentry.process.logs()).find((r) =>
      r.changes.includes("successor-promoted"),
    )!.at;
    for (const s of [pair1.checkout, pair1.frontend])
      expect(
        renewals(s).filter((t) => t > promotedAt + 500),
        `${s.podName} renewed after the switch`,
      ).to.deep.equal([]);
    const expiredSvid = (await presentedChain(pair1.checkout))[0]!;
    expect(Date.parse(expiredSvid.validTo), "checkout-1's SVID has run out").to.be.below(Date.now());
    const fresh = await pair1.frontend.fetchInPod(DAPR_HTTP, "/v1.0/invoke/checkout-2/method/orders");
    expect(fresh.status, `frontend-1 -> checkout-2: ${fresh.body}`).to.not.equal(200);
    note(`frontend-1 -> checkout-2 (a new connection): ${fresh.status} ${fresh.body.slice(0, 200)}`);
    console.log(`      checkout-1 presents an SVID valid until ${expiredSvid.validTo}`);

    // Recreating a reported pod clears the report: admitted now, it trusts the current bundle.
    await core.deleteNamespacedPod({ namespace: ns.name, name: "checkout-1", gracePeriodSeconds: 0 });
    await eventually(
      async () => {
        const left = await core.listNamespacedPod({
          namespace: ns.name,
          fieldSelector: "metadata.name=checkout-1",
        });
        expect(left.items).to.have.length(0);
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    await sentry.syncAnchors();
    await new Promise((r) => setTimeout(r, 6000)); // the injector re-reads its file every 5 s
    const recreated = await createDaprPod(ns.name, "checkout-1", "checkout-1", annotationsOf("checkout-1"));
    expect(anchorsOf(recreated)).to.deep.equal([fingerprint(successor)]);
    await eventually(
      async () => {
        const st = await staleOf("checkout-1");
        expect(st.staleSidecars).to.equal(0);
        expect(st.conditions?.find((x) => x.type === "SidecarsCurrent")?.status).to.equal("True");
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect((await staleOf("frontend-1")).staleSidecars, "frontend-1 is still reported").to.equal(1);
    note("checkout-1 recreated: no longer reported; frontend-1 still is");
  });
});
