import { expect } from "chai";
import { injectorConfig, webhookUrlProblem, type InjectorConfig } from "./command.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";

function config(values: Record<string, string>, env: NodeJS.ProcessEnv = {}): InjectorConfig {
  const c = injectorConfig(values, env);
  if ("problems" in c) throw new Error(c.problems.join("; "));
  return c;
}

function problems(values: Record<string, string>): string[] {
  const c = injectorConfig(values, {});
  return "problems" in c ? c.problems : [];
}

describe("injector flags", function () {
  it("defaults to a managed certificate for the chart's Service and the default sidecar", function () {
    const c = config({});
    expect(c.namespace).to.equal("outrigger-system");
    expect(c.listen).to.deep.equal({ host: "0.0.0.0", port: 8443 });
    expect(c.webhook).to.deep.equal({ kind: "chart", configName: "outrigger-injector" });
    expect(c.settings).to.deep.equal({
      ...builtInSidecarDefaults,
      resources: { ...builtInSidecarDefaults.resources },
    });
    if (c.certificates.kind !== "managed") throw new Error("want managed");
    expect(c.certificates.secretName).to.equal("outrigger-injector-tls");
    expect(c.certificates.policy.dnsNames).to.include.members([
      "outrigger-injector.outrigger-system.svc",
      "outrigger-injector.outrigger-system.svc.cluster.local",
      "outrigger-injector.outrigger-system",
      "outrigger-injector",
      "localhost",
    ]);
    expect(c.certificates.policy.ipAddresses).to.deep.equal(["127.0.0.1", "::1"]);
    expect(c.certificates.policy.servingValidityMs).to.equal(365 * 24 * 3_600_000);
  });

  it("registers the whole webhook for a local URL and adds its host to the certificate", function () {
    const c = config({
      "webhook-url": "https://192.168.1.5:9443/mutate",
      "webhook-namespace-selector": "outrigger.dev/e2e=true,team=a",
      "cert-validity": "30s",
      "ca-validity": "2m",
    });
    expect(c.webhook).to.deep.equal({
      kind: "local",
      registration: {
        configName: "outrigger-injector",
        url: "https://192.168.1.5:9443/mutate",
        namespace: "outrigger-system",
        timeoutSeconds: 5,
        namespaceLabels: { "outrigger.dev/e2e": "true", team: "a" },
      },
    });
    if (c.certificates.kind !== "managed") throw new Error("want managed");
    expect(c.certificates.policy.ipAddresses).to.deep.equal(["127.0.0.1", "::1", "192.168.1.5"]);
    expect(c.certificates.policy.servingValidityMs).to.equal(30_000);
  });

  it("serves files when given, and needs both of them", function () {
    const c = config({
      "tls-cert-file": "/tls/tls.crt",
      "tls-key-file": "/tls/tls.key",
      "tls-ca-file": "/tls/ca.crt",
    });
    expect(c.certificates).to.deep.equal({
      kind: "files",
      certFile: "/tls/tls.crt",
      keyFile: "/tls/tls.key",
      caFile: "/tls/ca.crt",
    });
    expect(problems({ "tls-cert-file": "/a" })).to.deep.equal([
      "--tls-cert-file and --tls-key-file go together",
    ]);
    expect(problems({ "tls-ca-file": "/a" })).to.have.length(1);
  });

  it("turns sidecar flags into SidecarDefaults", function () {
    const c = config({
      "sidecar-image": "registry.example/daprd:1.15.0",
      "sidecar-image-pull-policy": "Always",
      "sidecar-log-level": "debug",
      "sidecar-log-as-json": "true",
      "native-sidecar": "false",
      "sidecar-cpu-limit": "1",
      "sidecar-memory-limit": "",
      "sidecar-run-as-user": "1000",
    });
    expect(c.settings).to.deep.equal({
      sidecarImage: "registry.example/daprd:1.15.0",
      sidecarImagePullPolicy: "Always",
      logLevel: "debug",
      logAsJson: true,
      nativeSidecar: false,
      resources: { cpuRequest: "100m", cpuLimit: "1", memoryRequest: "250Mi" },
      runAsUser: 1000,
      mtls: {
        sentryAddress: "outrigger-sentry.outrigger-system.svc:443",
        trustDomain: "cluster.local",
        sentryNamespace: "outrigger-system",
      },
    });
  });

  it("runs with mTLS by default; --mtls=false turns it off, other identity flags follow Sentry's namespace", function () {
    expect(config({}).settings.mtls).to.deep.equal(builtInSidecarDefaults.mtls);
    expect(config({ mtls: "false" }).settings.mtls).to.equal(undefined);
    expect(config({ "sentry-namespace": "ids", "trust-domain": "example.org" }).settings.mtls).to.deep.equal({
      sentryAddress: "outrigger-sentry.ids.svc:443",
      trustDomain: "example.org",
      sentryNamespace: "ids",
    });
    expect(problems({ mtls: "perhaps" })).to.deep.equal(['--mtls "perhaps": want true or false']);
  });

  it("takes the log level from the flag, else $LOG_LEVEL", function () {
    expect(config({}, { LOG_LEVEL: "debug" }).logLevel).to.equal("debug");
    expect(config({ "log-level": "warn" }, { LOG_LEVEL: "debug" }).logLevel).to.equal("warn");
  });

  it("lists every bad flag at once", function () {
    const p = problems({
      namespace: "Not_A_Namespace",
      "listen-address": "nope",
      "cert-validity": "1d",
      "webhook-url": "http://127.0.0.1/mutate",
      "sidecar-image-pull-policy": "Sometimes",
      "sidecar-memory-request": "lots",
      "native-sidecar": "maybe",
      "webhook-timeout-seconds": "60",
    });
    expect(p.join("\n"))
      .to.include("--namespace")
      .and.include("--listen-address")
      .and.include("--cert-validity");
    expect(p.join("\n"))
      .to.include("--webhook-url")
      .and.include("https")
      .and.include("--sidecar-image-pull-policy");
    expect(p.join("\n")).to.include("--sidecar-memory-request").and.include("--native-sidecar");
    expect(p.join("\n")).to.include("--webhook-timeout-seconds");
    expect(problems({ "cert-validity": "2h", "ca-validity": "1h" })).to.deep.equal([
      "--ca-validity must be at least --cert-validity",
    ]);
  });

  it("checks webhook URLs as the API server does", function () {
    expect(webhookUrlProblem("https://127.0.0.1:8443/mutate")).to.equal(undefined);
    expect(webhookUrlProblem("http://127.0.0.1/mutate")).to.match(/https/);
    expect(webhookUrlProblem("https://u:p@host/mutate")).to.match(/user info/);
    expect(webhookUrlProblem("https://host/mutate?x=1")).to.match(/query/);
    expect(webhookUrlProblem("not a url")).to.match(/not a URL/);
  });
});
