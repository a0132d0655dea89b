// Where the API server is and how to prove who we are to it: the kubeconfig (--kubeconfig, else
// $KUBECONFIG, else the pod's service account, else ~/.kube/config), as client-go resolves it,
// for what Outrigger's processes need: client certificates, bearer tokens (inline, token files,
// the service account's rotating token), basic auth, exec credential plugins, custom CAs and
// tls-server-name. Proxies and the removed auth-provider plugins are refused with a message.
//
// Not @kubernetes/client-node's KubeConfig: importing it loads the whole generated API
// (measured: +68 MB RSS and +25 MB of heap in an otherwise idle process), a third of the
// controller's memory budget, for a few hundred lines of parsing.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { load } from "js-yaml";

/** node:https request options: the server's CA and name, the client certificate, the Authorization header. */
export interface RequestOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers?: Record<string, string>;
}

/** The API server, and the TLS options and credentials of each request to it. */
export interface ApiEndpoint {
  /** e.g. https://10.0.0.1:443, without a trailing slash. */
  server: string;
  /** The current context's namespace (or the pod's, in a cluster), if any. */
  namespace: string | undefined;
  /** Where this came from, for logs: a file path or "in-cluster". */
  source: string;
  /** TLS material and an Authorization header for one request. Token files are re-read and exec plugins re-run as needed. */
  requestOptions(): Promise<RequestOptions>;
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeconfigError";
  }
}

/** What the loader reads from the outside world; tests pass their own. */
export interface KubeconfigEnvironment {
  env: Record<string, string | undefined>;
  readFile(path: string): string;
  fileExists(path: string): boolean;
  /** Runs an exec credential plugin; resolves with its stdout. */
  exec(command: string, args: string[], env: Record<string, string | undefined>): Promise<string>;
  now(): number;
  homeDir: string;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Token files are re-read this often: bound service account tokens rotate (client-go: 1 minute). */
export const TOKEN_FILE_TTL_MS = 60_000;
const EXEC_TIMEOUT_MS = 30_000;

export const processEnvironment: KubeconfigEnvironment = {
  env: process.env,
  readFile: (path) => readFileSync(path, "utf8"),
  fileExists: (path) => existsSync(path),
  exec: (command, args, env) =>
    new Promise((resolve, reject) => {
      execFile(
        command,
        args,
        { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`${err.message}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ""}`));
          else resolve(stdout);
        },
      );
    }),
  now: () => Date.now(),
  homeDir: homedir(),
};

/** Loads --kubeconfig (`path`), else $KUBECONFIG, else the pod's service account, else ~/.kube/config. */
export function loadApiEndpoint(
  path?: string,
  world: KubeconfigEnvironment = processEnvironment,
): ApiEndpoint {
  if (path) return fromKubeconfigFiles([path], world);
  const listed = (world.env.KUBECONFIG ?? "").split(delimiter).filter((p) => p !== "");
  if (listed.length > 0) return fromKubeconfigFiles(listed, world);
  if (world.env.KUBERNETES_SERVICE_HOST && world.fileExists(join(SERVICE_ACCOUNT_DIR, "token")))
    return inCluster(world);
  const home = join(world.homeDir, ".kube", "config");
  if (world.fileExists(home)) return fromKubeconfigFiles([home], world);
  throw new KubeconfigError(
    "no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account",
  );
}

function inCluster(world: KubeconfigEnvironment): ApiEndpoint {
  const host = world.env.KUBERNETES_SERVICE_HOST ?? "";
  const port = world.env.KUBERNETES_SERVICE_PORT ?? "443";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const namespaceFile = join(SERVICE_ACCOUNT_DIR, "namespace");
  const ca = world.readFile(join(SERVICE_ACCOUNT_DIR, "ca.crt"));
  const token = cachedFile(join(SERVICE_ACCOUNT_DIR, "token"), world);
  return {
    server: `https://${hostPart}:${port}`,
    namespace: world.fileExists(namespaceFile) ? world.readFile(namespaceFile).trim() : undefined,
    source: "in-cluster",
    requestOptions: async () => ({ ca, headers: { Authorization: `Bearer ${token()}` } }),
  };
}

/** A file's trimmed content, re-read at most every TOKEN_FILE_TTL_MS. */
function cachedFile(path: string, world: KubeconfigEnvironment): () => string {
  let value = "";
  let readAt = -Infinity;
  return () => {
    if (world.now() - readAt >= TOKEN_FILE_TTL_MS) {
      value = world.readFile(path).trim();
      readAt = world.now();
    }
    return value;
  };
}

// --- kubeconfig files ------------------------------------------------------------------------

type Named<T> = { name: string; value: T; dir: string };

interface Cluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}

interface ExecConfig {
  apiVersion?: string;
  command?: string;
  args?: string[];
  env?: Array<{ name: string; value: string }> | null;
  provideClusterInfo?: boolean;
}

interface User {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  "auth-provider"?: { name?: string };
}

interface Context {
  cluster?: string;
  user?: string;
  namespace?: string;
}

interface Merged {
  currentContext: string | undefined;
  clusters: Map<string, Named<Cluster>>;
  users: Map<string, Named<User>>;
  contexts: Map<string, Named<Context>>;
}

const decoded = (base64: string) => Buffer.from(base64, "base64").toString("utf8");

const asRecord = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Merged as client-go merges $KUBECONFIG: the first file to define a name or current-context wins. */
function mergeFiles(paths: string[], world: KubeconfigEnvironment): Merged {
  const merged: Merged = {
    currentContext: undefined,
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  let found = 0;
  for (const path of paths) {
    let text: string;
    try {
      text = world.readFile(path);
    } catch (err) {
      // A listed file that does not exist is skipped, as client-go does, unless it is the only one.
      if (paths.length > 1) continue;
      throw new KubeconfigError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
    }
    found++;
    let doc: Record<string, unknown>;
    try {
      doc = asRecord(load(text));
    } catch (err) {
      throw new KubeconfigError(`kubeconfig ${path} is not valid YAML: ${(err as Error).message}`);
    }
    const dir = dirname(path);
    merged.currentContext ??= (doc["current-context"] as string | undefined) || undefined;
    const add = <T>(into: Map<string, Named<T>>, list: unknown, field: string) => {
      for (const entry of Array.isArray(list) ? list : []) {
        const e = asRecord(entry);
        if (typeof e.name === "string" && !into.has(e.name))
          into.set(e.name, { name: e.name, value: asRecord(e[field]) as T, dir });
      }
    };
    add(merged.clusters, doc.clusters, "cluster");
    add(merged.users, doc.users, "user");
    add(merged.contexts, doc.contexts, "context");
  }
  if (found === 0) throw new KubeconfigError(`none of the kubeconfig files exist: ${paths.join(", ")}`);
  return merged;
}

function fromKubeconfigFiles(paths: string[], world: KubeconfigEnvironment): ApiEndpoint {
  const source = paths.join(delimiter);
  const merged = mergeFiles(paths, world);
  const fail = (message: string) => new KubeconfigError(`kubeconfig ${source}: ${message}`);
  if (!merged.currentContext) throw fail("no current-context");
  const context = merged.contexts.get(merged.currentContext);
  if (!context) throw fail(`current-context "${merged.currentContext}" is not among its contexts`);
  const cluster = merged.clusters.get(context.value.cluster ?? "");
  if (!cluster)
    throw fail(
      `context "${context.name}" names cluster "${context.value.cluster ?? ""}", which is not defined`,
    );
  const user = context.value.user ? merged.users.get(context.value.user) : undefined;
  if (context.value.user && !user)
    throw fail(`context "${context.name}" names user "${context.value.user}", which is not defined`);

  const c = cluster.value;
  if (!c.server) throw fail(`cluster "${cluster.name}" has no server`);
  if (c["proxy-url"]) throw fail(`cluster "${cluster.name}": proxy-url is not supported`);
  const readRelative = (dir: string, file: string) =>
    world.readFile(isAbsolute(file) ? file : join(dir, file));
  const tls: RequestOptions = {};
  if (c["certificate-authority-data"]) tls.ca = decoded(c["certificate-authority-data"]);
  else if (c["certificate-authority"]) tls.ca = readRelative(cluster.dir, c["certificate-authority"]);
  if (c["insecure-skip-tls-verify"] === true) tls.rejectUnauthorized = false;
  if (c["tls-server-name"]) tls.servername = c["tls-server-name"];

  const credentials: Credentials = user
    ? userCredentials(user, cluster.value, world, readRelative, fail)
    : async () => ({});
  return {
    server: c.server.replace(/\/+$/, ""),
    namespace: context.value.namespace || undefined,
    source,
    requestOptions: async () => ({ ...tls, ...(await credentials()) }),
  };
}

type Credentials = () => Promise<RequestOptions>;

function userCredentials(
  user: Named<User>,
  cluster: Cluster,
  world: KubeconfigEnvironment,
  readRelative: (dir: string, file: string) => string,
  fail: (message: string) => Error,
): Credentials {
  const u = user.value;
  if (u["auth-provider"])
    throw fail(
      `user "${user.name}": auth-provider "${u["auth-provider"].name ?? ""}" plugins were removed from Kubernetes; use an exec plugin`,
    );
  const cert = u["client-certificate-data"]
    ? decoded(u["client-certificate-data"])
    : u["client-certificate"] && readRelative(user.dir, u["client-certificate"]);
  const key = u["client-key-data"]
    ? decoded(u["client-key-data"])
    : u["client-key"] && readRelative(user.dir, u["client-key"]);
  if (Boolean(cert) !== Boolean(key))
    throw fail(`user "${user.name}" has a client certificate without a key, or a key without one`);
  const clientCert: RequestOptions = cert && key ? { cert, key } : {};

  if (u.exec) {
    const plugin = execPlugin(user.name, u.exec, cluster, world, fail);
    return async () => ({ ...clientCert, ...(await plugin()) });
  }
  if (u.token) {
    const headers = { Authorization: `Bearer ${u.token}` };
    return async () => ({ ...clientCert, headers });
  }
  if (u.tokenFile) {
    const token = cachedFile(isAbsolute(u.tokenFile) ? u.tokenFile : join(user.dir, u.tokenFile), world);
    return async () => ({ ...clientCert, headers: { Authorization: `Bearer ${token()}` } });
  }
  if (u.username !== undefined && u.password !== undefined) {
    const basic = Buffer.from(`${u.username}:${u.password}`).toString("base64");
    return async () => ({ ...clientCert, headers: { Authorization: `Basic ${basic}` } });
  }
  return async () => clientCert;
}

const EXEC_API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/**
 * An exec credential plugin (as kubectl runs aws, gke-gcloud-auth-plugin, kubelogin...): run
 * once, its credential kept until its expirationTimestamp (forever without one), then run again.
 * Concurrent requests share one run.
 */
function execPlugin(
  userName: string,
  exec: ExecConfig,
  cluster: Cluster,
  world: KubeconfigEnvironment,
  fail: (message: string) => Error,
): Credentials {
  const apiVersion = exec.apiVersion ?? "";
  if (!EXEC_API_VERSIONS.includes(apiVersion))
    throw fail(
      `user "${userName}": exec apiVersion "${apiVersion}" is not one of ${EXEC_API_VERSIONS.join(", ")}`,
    );
  if (!exec.command) throw fail(`user "${userName}": exec has no command`);
  const command = exec.command;
  const info = {
    apiVersion,
    kind: "ExecCredential",
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              "certificate-authority-data": cluster["certificate-authority-data"],
              "insecure-skip-tls-verify": cluster["insecure-skip-tls-verify"],
              "tls-server-name": cluster["tls-server-name"],
            },
          }
        : {}),
    },
  };
  const env: Record<string, string | undefined> = {
    ...world.env,
    KUBERNETES_EXEC_INFO: JSON.stringify(info),
  };
  for (const e of exec.env ?? []) env[e.name] = e.value;

  let cached: { options: RequestOptions; expiresAt: number } | undefined;
  let running: Promise<RequestOptions> | undefined;
  const run = async (): Promise<RequestOptions> => {
    let out: string;
    try {
      out = await world.exec(command, exec.args ?? [], env);
    } catch (err) {
      throw new KubeconfigError(
        `exec plugin "${command}" of user "${userName}" failed: ${(err as Error).message}`,
      );
    }
    let status: Record<string, unknown>;
    try {
      status = asRecord(asRecord(JSON.parse(out)).status);
    } catch {
      throw new KubeconfigError(
        `exec plugin "${command}" of user "${userName}" did not print an ExecCredential`,
      );
    }
    const options: RequestOptions = {};
    if (typeof status.token === "string" && status.token)
      options.headers = { Authorization: `Bearer ${status.token}` };
    else if (typeof status.clientCertificateData === "string" && typeof status.clientKeyData === "string") {
      options.cert = status.clientCertificateData;
      options.key = status.clientKeyData;
    } else
      throw new KubeconfigError(
        `exec plugin "${command}" of user "${userName}" returned neither a token nor a client certificate and key`,
      );
    const expiry =
      typeof status.expirationTimestamp === "string" ? Date.parse(status.expirationTimestamp) : NaN;
    cached = { options, expiresAt: Number.isNaN(expiry) ? Infinity : expiry };
    return options;
  };
  return async () => {
    if (cached && world.now() < cached.expiresAt) return cached.options;
    running ??= run().finally(() => (running = undefined));
    return running;
  };
}
