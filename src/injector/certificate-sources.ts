// Keeps the injector's serving certificate current, without a restart. Two sources:
//
//   - managed: the CA and serving certificate live in a Secret in the injector's namespace,
//     shared by the replicas. Each replica reads it, lets rotateCertificates (pure) decide what
//     is due, writes back with optimistic concurrency, and serves what the Secret holds. Two
//     replicas racing converge: AlreadyExists on create or a conflict on update means another
//     replica wrote first, so read again and use theirs.
//   - files: --tls-cert-file/--tls-key-file, reloaded when they change (cert-manager, a mounted
//     Secret), with an optional --tls-ca-file to publish.
//
// Either way, the CA bundle then goes to the webhook configuration through `publish`.
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { V1Secret } from "@kubernetes/client-node";
import forge from "node-forge";
import { classifyApiError } from "../shared/api-errors.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../sidecar/config-secret.ts";
import {
  certificateTimes,
  rotateCertificates,
  splitPemBundle,
  type CertKeyPair,
  type CertificatePolicy,
  type RotationChange,
  type StoredCertificates,
} from "./certs.ts";
import type { SecretClient } from "./kube-clients.ts";
import { retryLoop, type RetryLoopOptions } from "./retry-loop.ts";

/** What the server serves and what the API server must trust. */
export interface ActiveCertificates {
  serving: CertKeyPair;
  /** Undefined when the trust is managed elsewhere (files without --tls-ca-file). */
  caBundlePem: string | undefined;
}

/** Secret keys. tls.crt/tls.key follow the kubernetes.io/tls convention. */
export const SECRET_KEYS = {
  servingCert: "tls.crt",
  servingKey: "tls.key",
  caCert: "ca.crt",
  caKey: "ca.key",
  nextCaCert: "ca-next.crt",
  nextCaKey: "ca-next.key",
  caBundle: "ca-bundle.crt",
} as const;

const decode = (data: Record<string, string> | undefined, key: string) =>
  data?.[key] === undefined ? undefined : Buffer.from(data[key], "base64").toString("utf8");

function pairFrom(
  data: Record<string, string> | undefined,
  cert: string,
  key: string,
): CertKeyPair | undefined {
  const certPem = decode(data, cert);
  const keyPem = decode(data, key);
  return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
}

export function storedFromSecret(secret: V1Secret | undefined): StoredCertificates | undefined {
  if (!secret) return undefined;
  const d = secret.data;
  const out: StoredCertificates = {};
  const ca = pairFrom(d, SECRET_KEYS.caCert, SECRET_KEYS.caKey);
  const nextCa = pairFrom(d, SECRET_KEYS.nextCaCert, SECRET_KEYS.nextCaKey);
  const serving = pairFrom(d, SECRET_KEYS.servingCert, SECRET_KEYS.servingKey);
  const caBundlePem = decode(d, SECRET_KEYS.caBundle);
  if (ca) out.ca = ca;
  if (nextCa) out.nextCa = nextCa;
  if (serving) out.serving = serving;
  if (caBundlePem !== undefined) out.caBundlePem = caBundlePem;
  return out;
}

export function secretFor(
  name: string,
  namespace: string,
  certs: ReturnType<typeof rotateCertificates>["certificates"],
  base?: V1Secret,
): V1Secret {
  const enc = (s: string) => Buffer.from(s).toString("base64");
  const data: Record<string, string> = {
    [SECRET_KEYS.servingCert]: enc(certs.serving.certPem),
    [SECRET_KEYS.servingKey]: enc(certs.serving.keyPem),
    [SECRET_KEYS.caCert]: enc(certs.ca.certPem),
    [SECRET_KEYS.caKey]: enc(certs.ca.keyPem),
    [SECRET_KEYS.caBundle]: enc(certs.caBundlePem),
  };
  if (certs.nextCa) {
    data[SECRET_KEYS.nextCaCert] = enc(certs.nextCa.certPem);
    data[SECRET_KEYS.nextCaKey] = enc(certs.nextCa.keyPem);
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      ...(base?.metadata ?? {}),
      name,
      namespace,
      labels: {
        ...(base?.metadata?.labels ?? {}),
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        "app.kubernetes.io/component": "injector",
      },
    },
    data,
  };
}

export type SyncResult =
  | {
      ok: true;
      certificates: ActiveCertificates;
      changes: RotationChange[];
      nextCheckAt: Date;
      wrote: boolean;
    }
  | { ok: false; problem: "not-ours"; message: string };

const MAX_SYNC_ATTEMPTS = 5;

/**
 * One pass over the certificate Secret: read it, rotate what is due, write it back if anything
 * changed. A lost race (AlreadyExists, Conflict) re-reads and uses the winner's content.
 */
export async function syncCertificateSecret(opts: {
  core: SecretClient;
  namespace: string;
  name: string;
  policy: CertificatePolicy;
  now: () => Date;
}): Promise<SyncResult> {
  const { core, namespace, name } = opts;
  for (let attempt = 0; attempt < MAX_SYNC_ATTEMPTS; attempt++) {
    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (classifyApiError(err).kind !== "not-found") throw err;
    }
    if (secret && secret.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
      return {
        ok: false,
        problem: "not-ours",
        message: `Secret ${namespace}/${name} exists without the label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}; refusing to overwrite it (delete it, or pick another --cert-secret-name)`,
      };
    }
    const rotated = rotateCertificates(storedFromSecret(secret), opts.now(), opts.policy);
    const result = (wrote: boolean): SyncResult => ({
      ok: true,
      certificates: { serving: rotated.certificates.serving, caBundlePem: rotated.certificates.caBundlePem },
      changes: rotated.changes,
      nextCheckAt: rotated.nextCheckAt,
      wrote,
    });
    if (secret && rotated.changes.length === 0) return result(false);
    const body = secretFor(name, namespace, rotated.certificates, secret);
    try {
      if (secret) await core.replaceNamespacedSecret({ name, namespace, body });
      else await core.createNamespacedSecret({ namespace, body });
      return result(true);
    } catch (err) {
      const kind = classifyApiError(err).kind;
      // Another replica wrote first: start over from what it wrote.
      if (kind === "already-exists" || kind === "conflict") continue;
      throw err;
    }
  }
  throw new Error(`Secret ${namespace}/${name}: still conflicting after ${MAX_SYNC_ATTEMPTS} attempts`);
}

/** A cert/key pair read from files, or why it cannot be served. */
export function checkCertificatePair(certPem: string, keyPem: string): string | undefined {
  try {
    const cert = forge.pki.certificateFromPem(certPem);
    const key = forge.pki.privateKeyFromPem(keyPem);
    const pub = cert.publicKey as forge.pki.rsa.PublicKey;
    if (!pub.n.equals(key.n)) return "the private key does not belong to the certificate";
    return undefined;
  } catch (err) {
    // forge reads RSA only; other key types are left for TLS itself to check.
    if (/OID is not RSA|Cannot read public key/i.test((err as Error).message)) return undefined;
    return `unreadable certificate or key: ${(err as Error).message}`;
  }
}

/** resyncMs bounds the time between two checks, so changes by other replicas or to files are picked up. */
export interface CertificateSourceOptions extends RetryLoopOptions {
  /** New certificates to serve and publish. Called once before start() resolves, then on each change. */
  onChange(certs: ActiveCertificates, changes: RotationChange[]): void | Promise<void>;
  /** Failures, by where they happened (counted in metrics). */
  onError(operation: "secret" | "certificate-files", err: unknown): void;
}

export interface CertificateSource {
  /** Resolves once a certificate is there to serve. */
  start(): Promise<void>;
  /** Stops checking; resolves once a check in progress has finished. */
  stop(): Promise<void>;
  /** Runs a check now (tests, and after a file change). */
  checkNow(): Promise<void>;
}

/** Certificates from the Secret, created and rotated by the injector itself. */
export function managedCertificateSource(
  opts: CertificateSourceOptions & {
    core: SecretClient;
    namespace: string;
    secretName: string;
    policy: CertificatePolicy;
  },
): CertificateSource {
  let current: ActiveCertificates | undefined;
  let firstResolve: () => void = () => undefined;
  const first = new Promise<void>((r) => (firstResolve = r));
  const loop = retryLoop(async () => {
    let result: SyncResult;
    try {
      result = await syncCertificateSecret({
        core: opts.core,
        namespace: opts.namespace,
        name: opts.secretName,
        policy: opts.policy,
        now: opts.now,
      });
    } catch (err) {
      opts.onError("secret", err);
      opts.log.warn({ err: classifyApiError(err) }, "could not sync the certificate Secret; retrying");
      throw err;
    }
    if (!result.ok) {
      opts.onError("secret", new Error(result.message));
      opts.log.error({ secret: `${opts.namespace}/${opts.secretName}` }, result.message);
      throw new Error(result.message);
    }
    const changed =
      current?.serving.certPem !== result.certificates.serving.certPem ||
      current?.caBundlePem !== result.certificates.caBundlePem;
    if (result.wrote) {
      opts.log.info(
        {
          secret: `${opts.namespace}/${opts.secretName}`,
          changes: result.changes,
          servingNotAfter: certificateTimes(result.certificates.serving.certPem)?.notAfter,
          cas: splitPemBundle(result.certificates.caBundlePem ?? "").length,
        },
        "certificates written",
      );
    }
    if (changed) {
      current = result.certificates;
      await opts.onChange(current, result.wrote ? result.changes : []);
      firstResolve();
    }
    return result.nextCheckAt;
  }, opts);
  return {
    async start() {
      void loop.run();
      await first;
    },
    stop: () => loop.stop(),
    checkNow: () => loop.run(),
  };
}

/** Certificates from files, reloaded when they change. */
export function fileCertificateSource(
  opts: CertificateSourceOptions & { certFile: string; keyFile: string; caFile?: string },
): CertificateSource {
  let current: ActiveCertificates | undefined;
  let firstResolve: () => void = () => undefined;
  const first = new Promise<void>((r) => (firstResolve = r));
  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;

  const loop = retryLoop(async () => {
    let next: ActiveCertificates;
    try {
      const [certPem, keyPem, caPem] = await Promise.all([
        readFile(opts.certFile, "utf8"),
        readFile(opts.keyFile, "utf8"),
        opts.caFile ? readFile(opts.caFile, "utf8") : Promise.resolve(undefined),
      ]);
      // Files are often replaced one at a time: a cert without its key is not served.
      const problem = checkCertificatePair(certPem, keyPem);
      if (problem) throw new Error(`${opts.certFile}, ${opts.keyFile}: ${problem}`);
      next = { serving: { certPem, keyPem }, caBundlePem: caPem };
    } catch (err) {
      opts.onError("certificate-files", err);
      opts.log.warn(
        { err: (err as Error).message },
        "could not load the certificate files; keeping the current ones",
      );
      throw err;
    }
    if (
      current?.serving.certPem !== next.serving.certPem ||
      current?.serving.keyPem !== next.serving.keyPem ||
      current?.caBundlePem !== next.caBundlePem
    ) {
      const reloaded = current !== undefined;
      current = next;
      opts.log.info(
        { certFile: opts.certFile, notAfter: certificateTimes(next.serving.certPem)?.notAfter, reloaded },
        reloaded ? "certificate files changed; reloaded" : "certificate files loaded",
      );
      await opts.onChange(current, []);
      firstResolve();
    }
    return undefined; // files are polled every resyncMs, and watched in between
  }, opts);

  return {
    async start() {
      // Watch the directories: mounted Secrets swap a symlink rather than write the files.
      for (const dir of new Set(
        [opts.certFile, opts.keyFile, ...(opts.caFile ? [opts.caFile] : [])].map(dirname),
      )) {
        try {
          const w = watch(dir, () => {
            clearTimeout(debounce);
            debounce = setTimeout(() => void loop.run(), 200);
            debounce.unref();
          });
          w.on("error", () => undefined);
          watchers.push(w);
        } catch {
          // Polling still picks changes up.
        }
      }
      void loop.run();
      await first;
    },
    async stop() {
      clearTimeout(debounce);
      for (const w of watchers) w.close();
      await loop.stop();
    },
    checkNow: () => loop.run(),
  };
}
