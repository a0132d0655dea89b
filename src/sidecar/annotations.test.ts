import { expect } from "chai";
import { annotations, editDistance, ignoredAnnotations, parseAnnotations } from "./annotations.ts";
import {
  appId,
  boolean,
  duration,
  envFromSecretList,
  envList,
  hostPortList,
  listenAddresses,
  nonNegativeInt,
  objectName,
  port,
  positiveInt,
  quantity,
  quantityValue,
  seccompProfile,
  volumeMountList,
  type Parser,
} from "./parsers.ts";

function accepts<T>(parser: Parser<T>, raw: string, value: T) {
  const p = parser.parse(raw);
  expect(p, `${JSON.stringify(raw)} should parse`).to.deep.equal({ ok: true, value });
}

function rejects(parser: Parser<unknown>, raw: string, problem?: string) {
  const p = parser.parse(raw);
  expect(p.ok, `${JSON.stringify(raw)} should be rejected`).to.equal(false);
  if (problem !== undefined && !p.ok) expect(p.problem).to.equal(problem);
}

describe("annotation parsers", () => {
  it("boolean: true/false in any case and Dapr's synonyms, nothing else", () => {
    for (const t of ["true", "TRUE", "True", " true ", "yes", "y", "on", "1", "t"]) accepts(boolean, t, true);
    for (const f of ["false", "FALSE", "no", "n", "off", "0", "f"]) accepts(boolean, f, false);
    for (const bad of ["", "ture", "enabled", "2", "truee", "null"])
      rejects(boolean, bad, "is not a boolean (true or false)");
  });

  it("port: 1-65535 in plain digits", () => {
    accepts(port, "1", 1);
    accepts(port, "8080", 8080);
    accepts(port, " 65535 ", 65535);
    for (const bad of ["0", "65536", "http", "-1", "80.0", "0x50", "1e3", "", "008080", "99999999999"])
      rejects(port, bad, "is not a port number (1-65535)");
  });

  it("positive and non-negative integers up to int32", () => {
    accepts(positiveInt, "1", 1);
    accepts(positiveInt, "2147483647", 2147483647);
    rejects(positiveInt, "0", "is not a positive integer");
    rejects(positiveInt, "2147483648");
    rejects(positiveInt, "-5");
    rejects(positiveInt, "1.5");
    accepts(nonNegativeInt, "0", 0);
    rejects(nonNegativeInt, "-1", "is not a non-negative integer");
  });

  it("duration: Go syntax", () => {
    for (const d of ["0", "10s", "1m30s", "500ms", "1.5h", "2h45m", "100us", "3µs", "7ns"])
      accepts(duration, d, d);
    for (const bad of ["10", "s", "1 m", "-5s", "1d", "1m30", "ten seconds", ""]) rejects(duration, bad);
  });

  it("quantity: Kubernetes syntax, non-negative", () => {
    for (const q of ["100m", "0.5", "1", "256Mi", "1Gi", "1G", "1e3", "1.5Gi", ".5"]) accepts(quantity, q, q);
    for (const bad of ["lots", "-1", "1GB", "Mi", "1 Gi", "", "1mi"])
      rejects(quantity, bad, "is not a Kubernetes quantity (e.g. 100m, 256Mi)");
  });

  it("quantityValue compares binary, decimal and exponent forms", () => {
    expect(quantityValue("1Gi")).to.equal(2 ** 30);
    expect(quantityValue("100m")).to.equal(0.1);
    expect(quantityValue("1e3")).to.equal(1000);
    expect(quantityValue("1G")).to.be.lessThan(quantityValue("1Gi"));
    expect(quantityValue("500m")).to.be.lessThan(quantityValue("1"));
  });

  it("enums normalise case and list the allowed values", () => {
    accepts(annotations.appProtocol.parser, "GRPC", "grpc");
    accepts(annotations.logLevel.parser, "Debug", "debug");
    rejects(annotations.logLevel.parser, "verbose", "is not one of: debug, info, warn, error, fatal");
    rejects(annotations.appProtocol.parser, "tcp", "is not one of: http, grpc, https, grpcs, h2c");
    accepts(annotations.disableInitEndpoints.parser, "config, subscribe,config", ["config", "subscribe"]);
    rejects(annotations.disableInitEndpoints.parser, "config,metadata");
  });

  it("app-id: DNS-1123 label short enough for <app-id>-dapr", () => {
    accepts(appId, "orders", "orders");
    accepts(appId, "a".repeat(58), "a".repeat(58));
    rejects(appId, "a".repeat(59));
    for (const bad of ["", "Orders", "order_service", "-orders", "orders-", "orders.v1", "ö"])
      rejects(appId, bad);
  });

  it("object names: lowercase DNS-1123 subdomains", () => {
    accepts(objectName, "db-credentials", "db-credentials");
    accepts(objectName, "tracing.v2", "tracing.v2");
    rejects(objectName, "DB");
    rejects(objectName, "a/b");
    rejects(objectName, "x".repeat(254));
  });

  it("env: NAME=value pairs; commas inside values survive as in Dapr", () => {
    accepts(envList, "A=1,B=2", [
      { name: "A", value: "1" },
      { name: "B", value: "2" },
    ]);
    accepts(envList, "HOSTS=a,b,c, LEVEL=x=y", [
      { name: "HOSTS", value: "a,b,c" },
      { name: "LEVEL", value: "x=y" },
    ]);
    accepts(envList, "EMPTY=", [{ name: "EMPTY", value: "" }]);
    rejects(envList, "novalue");
    rejects(envList, "1A=x");
    rejects(envList, "A=1,A=2", "sets A twice");
    rejects(envList, "");
  });

  it("env-from-secret: NAME=secret[:key], key defaulting to the secret name", () => {
    accepts(envFromSecretList, "PW=db:password, TOKEN=token", [
      { name: "PW", secret: "db", key: "password" },
      { name: "TOKEN", secret: "token", key: "token" },
    ]);
    rejects(envFromSecretList, "PW=db:pass:word");
    rejects(envFromSecretList, "PW=Db:password");
    rejects(envFromSecretList, "PW=db:");
    rejects(envFromSecretList, "PW");
  });

  it("volume mounts: volume:/absolute/path pairs", () => {
    accepts(volumeMountList, "certs:/etc/certs, data:/data", [
      { volume: "certs", path: "/etc/certs" },
      { volume: "data", path: "/data" },
    ]);
    rejects(volumeMountList, "certs:etc/certs");
    rejects(volumeMountList, "certs");
    rejects(volumeMountList, "certs:/a:/b");
    rejects(volumeMountList, "Certs:/etc");
    rejects(volumeMountList, ",");
  });

  it("listen addresses and host:port lists", () => {
    accepts(listenAddresses, "[::1], 127.0.0.1", "[::1],127.0.0.1");
    accepts(listenAddresses, "0.0.0.0", "0.0.0.0");
    rejects(listenAddresses, "::1");
    rejects(listenAddresses, "example.com");
    rejects(listenAddresses, "");
    accepts(hostPortList, "a.b:50005,10.0.0.1:1", "a.b:50005,10.0.0.1:1");
    accepts(hostPortList, "[::1]:50005", "[::1]:50005");
    accepts(hostPortList, "", "");
    accepts(hostPortList, '""', "");
    rejects(hostPortList, "placement");
    rejects(hostPortList, "placement:http");
  });

  it("seccomp: RuntimeDefault, Unconfined or a Localhost profile path", () => {
    accepts(seccompProfile, "runtimedefault", { type: "RuntimeDefault" });
    accepts(seccompProfile, "Unconfined", { type: "Unconfined" });
    accepts(seccompProfile, "Localhost/profiles/a.json", {
      type: "Localhost",
      localhostProfile: "profiles/a.json",
    });
    rejects(
      seccompProfile,
      "Localhost",
      "names no profile: write Localhost/<path relative to the kubelet's seccomp directory>",
    );
    rejects(seccompProfile, "Strict");
  });
});

describe("parseAnnotations", () => {
  it("parses known keys, ignores other prefixes and reports each invalid value with its key", () => {
    const parsed = parseAnnotations({
      "dapr.io/app-port": "8080",
      "dapr.io/metrics-port": "http",
      "dapr.io/log-level": "loud",
      "example.com/app-port": "not ours",
    });
    expect(parsed.values).to.deep.equal({ appPort: 8080 });
    expect(parsed.errors).to.deep.equal([
      { key: "dapr.io/metrics-port", message: 'dapr.io/metrics-port: "http" is not a port number (1-65535)' },
      {
        key: "dapr.io/log-level",
        message: 'dapr.io/log-level: "loud" is not one of: debug, info, warn, error, fatal',
      },
    ]);
    expect(parsed.warnings).to.deep.equal([]);
  });

  it("warns on deprecated, ignored and unknown keys, with a did-you-mean hint", () => {
    const parsed = parseAnnotations({
      "dapr.io/app-ssl": "true",
      "dapr.io/enable-debug": "true",
      "dapr.io/app-prot": "http",
      "dapr.io/completely-new-thing": "x",
    });
    expect(parsed.errors).to.deep.equal([]);
    expect(parsed.values).to.deep.equal({ appSsl: true });
    expect(parsed.warnings).to.have.length(4);
    expect(parsed.warnings[0]).to.match(/^dapr\.io\/app-ssl is deprecated: use dapr\.io\/app-protocol/);
    expect(parsed.warnings[1]).to.match(/^dapr\.io\/enable-debug has no effect: /);
    expect(parsed.warnings[2]).to.match(/did you mean dapr\.io\/app-port\?$/);
    expect(parsed.warnings[3]).to.equal(
      "dapr.io/completely-new-thing is not a Dapr annotation Outrigger knows, so it has no effect",
    );
  });

  it("quotes a long invalid value only in part", () => {
    const parsed = parseAnnotations({ "dapr.io/app-port": "9".repeat(500) });
    expect(parsed.errors[0]?.message.length).to.be.lessThan(200);
  });

  it("table keys are unique, prefixed, documented, and disjoint from the ignored list", () => {
    const keys = Object.values(annotations).map((a) => a.key);
    expect(new Set(keys).size).to.equal(keys.length);
    for (const a of Object.values(annotations)) {
      expect(a.key).to.match(/^dapr\.io\/[a-z0-9-]+$/);
      expect(a.doc.length, a.key).to.be.greaterThan(10);
      if ("default" in a && a.default !== undefined && typeof a.default !== "object") {
        // A default must be a value the parser itself would produce.
        const p = (a.parser as Parser<unknown>).parse(String(a.default));
        expect(p, a.key).to.deep.equal({ ok: true, value: a.default });
      }
    }
    for (const k of Object.keys(ignoredAnnotations)) expect(keys).to.not.include(k);
  });

  it("editDistance is Levenshtein", () => {
    expect(editDistance("kitten", "sitting")).to.equal(3);
    expect(editDistance("", "abc")).to.equal(3);
    expect(editDistance("same", "same")).to.equal(0);
  });
});
