import { expect } from "chai";
import { mkdtempSync, rmSync, symlinkSync, renameSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import {
  SECRET_KEYS,
  checkCertificatePair,
  fileCertificateSource,
  secretFor,
  storedFromSecret,
  type ActiveCertificates,
} from "./certificate-sources.ts";
import { LOOPBACK_HOSTS, rotateCertificates } from "./certs.ts";

const policy = { ...LOOPBACK_HOSTS, caCommonName: "t", caValidityMs: 3_600_000, servingValidityMs: 600_000 };
const first = rotateCertificates(undefined, new Date(), policy).certificates;
const second = rotateCertificates(undefined, new Date(), policy).certificates;

describe("the certificate Secret", function () {
  it("round-trips what rotateCertificates produced, labelled as ours", function () {
    const published = rotateCertificates(first, new Date(Date.now() + 50 * 60_000), policy).certificates;
    expect(published.nextCa, "a successor CA is stored too").to.not.equal(undefined);
    const secret = secretFor("outrigger-injector-tls", "outrigger-system", published);
    expect(secret.type).to.equal("kubernetes.io/tls");
    expect(secret.metadata?.labels?.["app.kubernetes.io/managed-by"]).to.equal("outrigger");
    expect(Object.keys(secret.data!).sort()).to.deep.equal(Object.values(SECRET_KEYS).sort());
    expect(storedFromSecret(secret)).to.deep.equal(published);
  });

  it("keeps the metadata of the Secret it replaces (resourceVersion, foreign labels)", function () {
    const base = {
      metadata: {
        name: "x",
        namespace: "y",
        resourceVersion: "42",
        labels: { "app.kubernetes.io/managed-by": "outrigger", extra: "1" },
      },
    };
    const secret = secretFor("x", "y", first, base);
    expect(secret.metadata?.resourceVersion).to.equal("42");
    expect(secret.metadata?.labels?.extra).to.equal("1");
  });

  it("reads an empty or partial Secret as missing parts", function () {
    expect(storedFromSecret(undefined)).to.equal(undefined);
    expect(storedFromSecret({ data: {} })).to.deep.equal({});
    const onlyCert = { data: { [SECRET_KEYS.caCert]: Buffer.from("x").toString("base64") } };
    expect(storedFromSecret(onlyCert)).to.deep.equal({});
  });
});

describe("checkCertificatePair", function () {
  it("accepts a matching pair and names the problem otherwise", function () {
    expect(checkCertificatePair(first.serving.certPem, first.serving.keyPem)).to.equal(undefined);
    expect(checkCertificatePair(first.serving.certPem, second.serving.keyPem)).to.match(/does not belong/);
    expect(checkCertificatePair("garbage", first.serving.keyPem)).to.match(/unreadable/);
  });
});

describe("fileCertificateSource", function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "outrigger-certs-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes files the way the kubelet updates a mounted Secret: a new directory, then a symlink swap. */
  function writeMounted(pair: { certPem: string; keyPem: string }, version: number): void {
    const data = join(dir, `..${version}`);
    mkdirSync(data);
    writeFileSync(join(data, "tls.crt"), pair.certPem);
    writeFileSync(join(data, "tls.key"), pair.keyPem);
    symlinkSync(data, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  }

  function start(seen: ActiveCertificates[], errors: unknown[]) {
    const link = (f: string) => {
      try {
        symlinkSync(join("..data", f), join(dir, f));
      } catch {
        // already linked
      }
      return join(dir, f);
    };
    return fileCertificateSource({
      certFile: link("tls.crt"),
      keyFile: link("tls.key"),
      log: pino({ level: "silent" }),
      onChange: (c) => void seen.push(c),
      onError: (_op, err) => void errors.push(err),
      resyncMs: 60_000,
      retryMs: 50,
      now: () => new Date(),
    });
  }

  async function until(cond: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("loads the files, then reloads them when the mounted Secret changes", async function () {
    writeMounted(first.serving, 1);
    const seen: ActiveCertificates[] = [];
    const source = start(seen, []);
    await source.start();
    try {
      expect(seen).to.have.length(1);
      expect(seen[0]!.serving.certPem).to.equal(first.serving.certPem);
      expect(seen[0]!.caBundlePem).to.equal(undefined);
      writeMounted(second.serving, 2);
      await until(() => seen.length === 2);
      expect(seen[1]!.serving.certPem).to.equal(second.serving.certPem);
    } finally {
      await source.stop();
    }
  });

  it("keeps serving the old pair while the new files do not match", async function () {
    writeMounted(first.serving, 1);
    const seen: ActiveCertificates[] = [];
    const errors: unknown[] = [];
    const source = start(seen, errors);
    await source.start();
    try {
      writeMounted({ certPem: second.serving.certPem, keyPem: first.serving.keyPem }, 2);
      await until(() => errors.length > 0);
      expect(String(errors[0])).to.match(/does not belong/);
      expect(seen).to.have.length(1);
      writeMounted(second.serving, 3);
      await source.checkNow();
      await until(() => seen.length === 2);
      expect(seen[1]!.serving.keyPem).to.equal(second.serving.keyPem);
    } finally {
      await source.stop();
    }
  });
});
