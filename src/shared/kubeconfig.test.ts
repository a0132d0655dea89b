import { expect } from "chai";
import { dump } from "js-yaml";
import { delimiter } from "node:path";
import {
  KubeconfigError,
  SERVICE_ACCOUNT_DIR,
  TOKEN_FILE_TTL_MS,
  loadApiEndpoint,
  processEnvironment,
  type KubeconfigEnvironment,
} from "./kubeconfig.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** An in-memory world: files by path, an env, a clock, and recorded exec runs. */
function world(files: Record<string, string>, env: Record<string, string> = {}) {
  let now = 1_000_000;
  const runs: Array<{ command: string; args: string[]; env: Record<string, string | undefined> }> = [];
  let execOutput = "";
  const w: KubeconfigEnvironment = {
    env,
    readFile: (p) => {
      const v = files[p];
      if (v === undefined) throw new Error(`ENOENT: ${p}`);
      return v;
    },
    fileExists: (p) => files[p] !== undefined,
    exec: async (command, args, e) => {
      runs.push({ command, args, env: e });
      return execOutput;
    },
    now: () => now,
    homeDir: "/home/me",
  };
  return {
    w,
    files,
    runs,
    tick: (ms: number) => (now += ms),
    setExecOutput: (s: string) => (execOutput = s),
  };
}

function kubeconfig(opts: { cluster?: object; user?: object; namespace?: string; current?: string } = {}) {
  return dump({
    apiVersion: "v1",
    kind: "Config",
    "current-context": opts.current ?? "ctx",
    clusters: [{ name: "c", cluster: { server: "https://api.example:6443/", ...opts.cluster } }],
    users: [{ name: "u", user: opts.user ?? {} }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", namespace: opts.namespace } }],
  });
}

describe("loadApiEndpoint", () => {
  it("reads server, namespace, CA and client certificate data from a kubeconfig", async () => {
    const { w } = world({
      "/k/config": kubeconfig({
        cluster: { "certificate-authority-data": b64("CA PEM"), "tls-server-name": "api" },
        user: { "client-certificate-data": b64("CERT PEM"), "client-key-data": b64("KEY PEM") },
        namespace: "team",
      }),
    });
    const e = loadApiEndpoint("/k/config", w);
    expect(e.server).to.equal("https://api.example:6443");
    expect(e.namespace).to.equal("team");
    expect(await e.requestOptions()).to.deep.equal({
      ca: "CA PEM",
      servername: "api",
      cert: "CERT PEM",
      key: "KEY PEM",
    });
  });

  it("reads certificate files relative to the kubeconfig's directory", async () => {
    const { w } = world({
      "/k/config": kubeconfig({
        cluster: { "certificate-authority": "pki/ca.crt", "insecure-skip-tls-verify": false },
        user: { "client-certificate": "/abs/client.crt", "client-key": "pki/client.key" },
      }),
      "/k/pki/ca.crt": "CA",
      "/abs/client.crt": "CERT",
      "/k/pki/client.key": "KEY",
    });
    expect(await loadApiEndpoint("/k/config", w).requestOptions()).to.deep.equal({
      ca: "CA",
      cert: "CERT",
      key: "KEY",
    });
  });

  it("sends a bearer token, basic auth, or no credentials, and honours insecure-skip-tls-verify", async () => {
    const token = world({
      "/k": kubeconfig({ user: { token: "t0k" }, cluster: { "insecure-skip-tls-verify": true } }),
    });
    expect(await loadApiEndpoint("/k", token.w).requestOptions()).to.deep.equal({
      rejectUnauthorized: false,
      headers: { Authorization: "Bearer t0k" },
    });
    const basic = world({ "/k": kubeconfig({ user: { username: "ann", password: "pw" } }) });
    expect((await loadApiEndpoint("/k", basic.w).requestOptions()).headers).to.deep.equal({
      Authorization: `Basic ${b64("ann:pw")}`,
    });
    const none = world({ "/k": kubeconfig() });
    expect(await loadApiEndpoint("/k", none.w).requestOptions()).to.deep.equal({});
  });

  it("re-reads a token file once a minute, so a rotated token is picked up", async () => {
    const t = world({ "/k": kubeconfig({ user: { tokenFile: "token" } }), "/token": "one\n" });
    const e = loadApiEndpoint("/k", t.w);
    expect((await e.requestOptions()).headers).to.deep.equal({ Authorization: "Bearer one" });
    t.files["/token"] = "two";
    t.tick(TOKEN_FILE_TTL_MS - 1);
    expect((await e.requestOptions()).headers).to.deep.equal({ Authorization: "Bearer one" });
    t.tick(1);
    expect((await e.requestOptions()).headers).to.deep.equal({ Authorization: "Bearer two" });
  });

  it("runs an exec plugin with KUBERNETES_EXEC_INFO and keeps its credential until it expires", async () => {
    const t = world({
      "/k": kubeconfig({
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: "get-token",
            args: ["--cluster", "c"],
            env: [{ name: "REGION", value: "eu" }],
            provideClusterInfo: true,
          },
        },
      }),
    });
    const expires = new Date(1_000_000 + 60_000).toISOString();
    t.setExecOutput(
      JSON.stringify({ kind: "ExecCredential", status: { token: "exec-1", expirationTimestamp: expires } }),
    );
    const e = loadApiEndpoint("/k", t.w);
    const [a, b] = await Promise.all([e.requestOptions(), e.requestOptions()]);
    expect(a.headers).to.deep.equal({ Authorization: "Bearer exec-1" });
    expect(b.headers).to.deep.equal({ Authorization: "Bearer exec-1" });
    expect(t.runs, "concurrent requests share one run").to.have.length(1);
    expect(t.runs[0]?.command).to.equal("get-token");
    expect(t.runs[0]?.args).to.deep.equal(["--cluster", "c"]);
    expect(t.runs[0]?.env.REGION).to.equal("eu");
    const info = JSON.parse(t.runs[0]?.env.KUBERNETES_EXEC_INFO ?? "{}");
    expect(info).to.deep.include({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential" });
    expect(info.spec.cluster.server).to.equal("https://api.example:6443/");

    t.tick(30_000);
    await e.requestOptions();
    expect(t.runs).to.have.length(1);
    t.tick(30_000);
    t.setExecOutput(JSON.stringify({ status: { clientCertificateData: "CERT", clientKeyData: "KEY" } }));
    expect(await e.requestOptions()).to.deep.equal({ cert: "CERT", key: "KEY" });
    expect(t.runs).to.have.length(2);
  });

  it("reports an exec plugin that fails or prints no credential, naming it", async () => {
    const t = world({
      "/k": kubeconfig({
        user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "plugin" } },
      }),
    });
    t.setExecOutput("not json");
    await expectRejection(
      loadApiEndpoint("/k", t.w).requestOptions(),
      /exec plugin "plugin".*ExecCredential/,
    );
    t.setExecOutput(JSON.stringify({ status: {} }));
    await expectRejection(
      loadApiEndpoint("/k", t.w).requestOptions(),
      /neither a token nor a client certificate/,
    );
  });

  it("refuses what it does not support, and broken references, with messages", () => {
    const cases: Array<[string, RegExp]> = [
      [kubeconfig({ cluster: { "proxy-url": "http://proxy:3128" } }), /proxy-url is not supported/],
      [kubeconfig({ user: { "auth-provider": { name: "oidc" } } }), /auth-provider "oidc".*exec plugin/],
      [
        kubeconfig({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" } } }),
        /exec apiVersion/,
      ],
      [kubeconfig({ user: { "client-certificate-data": b64("C") } }), /without a key/],
      [kubeconfig({ current: "other" }), /current-context "other" is not among its contexts/],
      [kubeconfig({ current: "" }), /no current-context/],
      [kubeconfig({ cluster: { server: "" } }), /has no server/],
      ["clusters: [", /not valid YAML/],
    ];
    for (const [text, message] of cases) {
      const { w } = world({ "/k": text });
      expect(() => loadApiEndpoint("/k", w), String(message)).to.throw(KubeconfigError, message);
    }
    expect(() => loadApiEndpoint("/missing", world({}).w)).to.throw(
      KubeconfigError,
      /cannot read kubeconfig \/missing/,
    );
  });

  it("merges $KUBECONFIG files: the first to define a name or current-context wins, missing files are skipped", async () => {
    const first = dump({ "current-context": "ctx", users: [{ name: "u", user: { token: "first" } }] });
    const second = kubeconfig({ user: { token: "second" }, current: "ignored" });
    const { w } = world({ "/a": first, "/b": second }, { KUBECONFIG: ["/a", "/nope", "/b"].join(delimiter) });
    const e = loadApiEndpoint(undefined, w);
    expect(e.server).to.equal("https://api.example:6443");
    expect((await e.requestOptions()).headers).to.deep.equal({ Authorization: "Bearer first" });
  });

  it("prefers --kubeconfig, then $KUBECONFIG, then the service account, then ~/.kube/config", async () => {
    const sa = {
      [`${SERVICE_ACCOUNT_DIR}/token`]: "sa-token\n",
      [`${SERVICE_ACCOUNT_DIR}/ca.crt`]: "SA CA",
      [`${SERVICE_ACCOUNT_DIR}/namespace`]: "outrigger-system\n",
    };
    const files = {
      "/flag": kubeconfig({ user: { token: "flag" } }),
      "/home/me/.kube/config": kubeconfig({ user: { token: "home" } }),
      "/env": kubeconfig({ user: { token: "env" } }),
      ...sa,
    };
    const podEnv = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const token = async (e: ReturnType<typeof loadApiEndpoint>) =>
      (await e.requestOptions()).headers?.Authorization;

    expect(await token(loadApiEndpoint("/flag", world(files, { ...podEnv, KUBECONFIG: "/env" }).w))).to.equal(
      "Bearer flag",
    );
    expect(
      await token(loadApiEndpoint(undefined, world(files, { ...podEnv, KUBECONFIG: "/env" }).w)),
    ).to.equal("Bearer env");
    const pod = loadApiEndpoint(undefined, world(files, podEnv).w);
    expect(pod.server).to.equal("https://10.96.0.1:443");
    expect(pod.namespace).to.equal("outrigger-system");
    expect(pod.source).to.equal("in-cluster");
    expect(await pod.requestOptions()).to.deep.equal({
      ca: "SA CA",
      headers: { Authorization: "Bearer sa-token" },
    });
    expect(await token(loadApiEndpoint(undefined, world(files, {}).w))).to.equal("Bearer home");
    expect(() => loadApiEndpoint(undefined, world({}, {}).w)).to.throw(
      KubeconfigError,
      /no Kubernetes configuration/,
    );
  });

  it("brackets an IPv6 service host", () => {
    const { w } = world(
      { [`${SERVICE_ACCOUNT_DIR}/token`]: "t", [`${SERVICE_ACCOUNT_DIR}/ca.crt`]: "CA" },
      { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" },
    );
    expect(loadApiEndpoint(undefined, w).server).to.equal("https://[fd00::1]:443");
  });

  it("runs a real exec plugin process", async () => {
    const script = `process.stdout.write(JSON.stringify({ status: { token: "from-" + process.env.WHO + "-" + JSON.parse(process.env.KUBERNETES_EXEC_INFO).kind } }))`;
    const { w } = world({
      "/k": kubeconfig({
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1",
            command: process.execPath,
            args: ["-e", script],
            env: [{ name: "WHO", value: "node" }],
          },
        },
      }),
    });
    const real = { ...w, exec: processEnvironment.exec };
    expect((await loadApiEndpoint("/k", real).requestOptions()).headers).to.deep.equal({
      Authorization: "Bearer from-node-ExecCredential",
    });
  });
});

async function expectRejection(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(KubeconfigError);
  expect((err as Error).message).to.match(message);
}
