// The sidecar runner: kwok runs no containers, so for a pod on the test cluster this runs the
// real daprd the way the kubelet would run its injected `daprd` container.
//
// - The container's args and env exactly as injected; only args[0] ("/daprd") becomes the
//   binary's path. fieldRef, secretKeyRef and configMapKeyRef env are resolved from the API
//   server, and $(VAR) references in args are expanded as the kubelet expands them.
// - The sidecar-config Secret volume is written the kubelet's way (atomic-writer.ts) and kept in
//   sync with the Secret by a watch. daprd sees it at the container's mountPath: it runs in a
//   private mount namespace with the volume's directory bind-mounted there, read-only, so no
//   path in its args is rewritten. emptyDir volumes become fresh directories.
// - Each daprd runs in its own network namespace (netns.ts) with a pod-like address; the probes
//   of the pod spec are called against that address, as the kubelet calls them.
// - Every daprd is stopped by its PID, its namespace and directories removed (stopAll).
//
// - Sentry: the injected `--sentry-address` (a Service name, no cluster DNS here) becomes the
//   host end of the pod's veth at the port of the `outrigger sentry` the spec runs (sentryPort).
//
// Not emulated: the image's filesystem (daprd runs on the host's), readOnlyRootFilesystem,
// seccomp, resource limits, service-link env vars, and status.podIP is the runner's address
// (kwok's fake IP is not routable).
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { promisify } from "node:util";
import {
  CoreV1Api,
  Watch,
  type KubeConfig,
  type V1Container,
  type V1EnvVar,
  type V1Pod,
  type V1Probe,
  type V1ProjectedVolumeSource,
  type V1Secret,
} from "@kubernetes/client-node";
import { repoRoot } from "./cluster.ts";
import { writeAtomically, type Payload } from "./atomic-writer.ts";
import { createPodNetwork, reapStalePodNetworks, requireRoot, type PodNetwork } from "./netns.ts";

const run = promisify(execFile);
const BUILD_SCRIPT = `${repoRoot}hack/build-components.sh`;
const CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const MAX_LOG = 4_000_000;

/** Builds (or finds in the cache) daprd with hack/build-components.sh; returns the binary's path. */
export async function daprdBinary(): Promise<string> {
  const { stdout } = await run(BUILD_SCRIPT, ["daprd"], { maxBuffer: 64 * 1024 * 1024 });
  const dir = stdout.trim().split("\n").pop() ?? "";
  if (!dir) throw new Error("hack/build-components.sh daprd printed no directory");
  return `${dir}/daprd`;
}

export type ProbeKind = "startup" | "readiness" | "liveness";

export interface ProbeResult {
  ok: boolean;
  /** HTTP status, or the connection error. */
  detail: string;
}

export interface ProbeRun {
  ok: boolean;
  attempts: number;
  /** From the start of the wait (initialDelaySeconds included) to the deciding attempt. */
  elapsedMs: number;
  last: ProbeResult;
}

/** One write of the sidecar-config volume, caused by a watch event on the Secret. */
export interface VolumeWrite {
  resourceVersion: string;
  /** performance.now() when the runner received the Secret's event. */
  eventAt: number;
  /** performance.now() when the new `..data` was in place. */
  writtenAt: number;
}

export interface InPodResponse {
  status: number;
  body: string;
}

export interface RunOptions {
  /** Extra daprd flags appended to the injected args (daprd's own flags only, e.g. a port remap). */
  extraArgs?: string[];
  /** Print each volume write (default true). */
  verbose?: boolean;
  /** A network made beforehand with allocateNetwork(), when a spec must know the addresses first. */
  network?: PodNetwork;
}

export interface Sidecar {
  readonly namespace: string;
  readonly podName: string;
  readonly pod: V1Pod;
  readonly container: V1Container;
  readonly network: PodNetwork;
  readonly pid: number;
  /** The daprd command line as run (args[0] replaced by the binary). */
  readonly argv: string[];
  /** The env daprd got, resolved. */
  readonly env: Record<string, string>;
  logs(): string;
  /** Resolves with the exit code (or signal name) when daprd ends. */
  readonly exited: Promise<number | string>;
  exitedWith(): number | string | undefined;
  /** The writes of the sidecar-config volume so far. */
  readonly writes: VolumeWrite[];
  /** Waits until a write of this resourceVersion (or any newer than `after` writes) happened. */
  waitForWrite(after: number, timeoutMs?: number): Promise<VolumeWrite>;
  /** The host directory behind a volume of the pod (the Secret volume's AtomicWriter layout). */
  volumeDir(volumeName: string): string;
  /** http://<pod address>:<port><path>, for what daprd serves on the pod's address. */
  url(port: number, path: string): string;
  /** A request from inside the pod to 127.0.0.1, as an app container would make it. */
  fetchInPod(
    port: number,
    path: string,
    init?: { method?: string; body?: string; headers?: Record<string, string> },
  ): Promise<InPodResponse>;
  /** One probe attempt of the pod spec's probe, as the kubelet makes it. */
  probe(kind: ProbeKind): Promise<ProbeResult>;
  /**
   * The kubelet's loop for one probe: waits initialDelaySeconds, then probes every periodSeconds
   * until it succeeds or fails failureThreshold times in a row. `periodMs` shortens the period
   * (and initial delay) where a spec only needs the verdict, not the kubelet's pace.
   */
  runProbe(kind: ProbeKind, opts?: { periodMs?: number; untilFailure?: boolean }): Promise<ProbeRun>;
  stop(): Promise<void>;
}

interface SidecarState extends Sidecar {
  dir: string;
}

const running = new Set<SidecarState>();
/** Logs of sidecars that have stopped, per namespace, for failure dumps. */
const finished: Array<{ namespace: string; name: string; logs: string }> = [];

/** Logs of the sidecars of a namespace (running or stopped), for failure dumps. */
export function sidecarLogsFor(namespace: string): Array<{ name: string; logs: string }> {
  return [
    ...finished.filter((f) => f.namespace === namespace).map((f) => ({ name: f.name, logs: f.logs })),
    ...[...running]
      .filter((s) => s.namespace === namespace)
      .map((s) => ({ name: `daprd[${s.pid}] of pod ${s.podName}`, logs: s.logs() })),
  ];
}

function expandVars(text: string, env: Record<string, string>): string {
  // Kubernetes' expansion: $(NAME) if defined, $$ escapes, anything else stays as written.
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return name !== undefined && name in env ? env[name]! : whole;
  });
}

function fieldPathValue(pod: V1Pod, path: string, net: PodNetwork): string {
  const meta = pod.metadata ?? {};
  const bracket = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (bracket) return (bracket[1] === "labels" ? meta.labels : meta.annotations)?.[bracket[2]!] ?? "";
  switch (path) {
    case "metadata.name":
      return meta.name ?? "";
    case "metadata.namespace":
      return meta.namespace ?? "";
    case "metadata.uid":
      return meta.uid ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    case "status.hostIP":
      return net.hostIP;
    case "status.hostIPs":
      return net.hostIP;
    case "status.podIP":
    case "status.podIPs":
      return net.podIP;
    default:
      throw new Error(`sidecar runner: fieldRef ${path} is not supported`);
  }
}

async function resolveEnv(
  core: CoreV1Api,
  pod: V1Pod,
  container: V1Container,
  net: PodNetwork,
): Promise<Record<string, string>> {
  const namespace = pod.metadata!.namespace!;
  const env: Record<string, string> = { PATH: CONTAINER_PATH, HOSTNAME: pod.metadata!.name! };
  for (const from of container.envFrom ?? []) {
    if (from.secretRef?.name) {
      const s = await core.readNamespacedSecret({ namespace, name: from.secretRef.name });
      for (const [k, v] of Object.entries(s.data ?? {}))
        env[`${from.prefix ?? ""}${k}`] = Buffer.from(v, "base64").toString();
    }
    if (from.configMapRef?.name) {
      const c = await core.readNamespacedConfigMap({ namespace, name: from.configMapRef.name });
      for (const [k, v] of Object.entries(c.data ?? {})) env[`${from.prefix ?? ""}${k}`] = v;
    }
  }
  for (const e of container.env ?? []) env[e.name] = await envValue(core, pod, e, env, net);
  return env;
}

async function envValue(
  core: CoreV1Api,
  pod: V1Pod,
  e: V1EnvVar,
  env: Record<string, string>,
  net: PodNetwork,
): Promise<string> {
  const namespace = pod.metadata!.namespace!;
  if (e.value !== undefined) return expandVars(e.value, env);
  const from = e.valueFrom;
  if (from?.fieldRef) return fieldPathValue(pod, from.fieldRef.fieldPath, net);
  if (from?.secretKeyRef) {
    const ref = from.secretKeyRef;
    const s = await core.readNamespacedSecret({ namespace, name: ref.name! }).catch((err: unknown) => {
      if (ref.optional) return undefined;
      throw new Error(`env ${e.name}: Secret ${namespace}/${ref.name}: ${(err as Error).message}`);
    });
    const v = s?.data?.[ref.key];
    if (v === undefined && !ref.optional)
      throw new Error(`env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
    return v === undefined ? "" : Buffer.from(v, "base64").toString();
  }
  if (from?.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const c = await core.readNamespacedConfigMap({ namespace, name: ref.name! });
    const v = c.data?.[ref.key];
    if (v === undefined && !ref.optional)
      throw new Error(`env ${e.name}: ConfigMap ${ref.name} has no key ${ref.key}`);
    return v ?? "";
  }
  throw new Error(`sidecar runner: env ${e.name} has a source it does not support`);
}

/** The Secret's data as the volume's payload: its `items` (key -> path), or every key. */
function secretPayload(secret: V1Secret, items: Array<{ key: string; path: string }> | undefined): Payload {
  const data = secret.data ?? {};
  const payload: Payload = new Map();
  const list = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const { key, path } of list) {
    const v = data[key];
    if (v === undefined) throw new Error(`Secret ${secret.metadata?.name} has no key ${key} (a volume item)`);
    payload.set(path, Buffer.from(v, "base64"));
  }
  return payload;
}

function probeOf(container: V1Container, kind: ProbeKind): V1Probe | undefined {
  return kind === "startup"
    ? container.startupProbe
    : kind === "readiness"
      ? container.readinessProbe
      : container.livenessProbe;
}

function portNumber(container: V1Container, port: number | string): number {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port ${port} is not a port of container ${container.name}`);
  return named.containerPort;
}

async function probeOnce(container: V1Container, probe: V1Probe, podIP: string): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const g = probe.httpGet;
    const host = g.host ?? podIP;
    const url = `${(g.scheme ?? "HTTP").toLowerCase()}://${host}:${portNumber(container, g.port)}${g.path ?? "/"}`;
    const headers: Record<string, string> = { "User-Agent": "kube-probe/1.36", Accept: "*/*" };
    for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
    try {
      const res = await fetch(url, { headers, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      // The kubelet's rule: 200 <= status < 400 is success.
      return { ok: res.status >= 200 && res.status < 400, detail: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }
  if (probe.tcpSocket) {
    const port = portNumber(container, probe.tcpSocket.port);
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket!.host ?? podIP, port, timeout: timeoutMs });
      socket.once("connect", () => {
        socket.destroy();
        resolve({ ok: true, detail: "connected" });
      });
      socket.once("timeout", () => {
        socket.destroy();
        resolve({ ok: false, detail: "timeout" });
      });
      socket.once("error", (err) => resolve({ ok: false, detail: err.message }));
    });
  }
  throw new Error("sidecar runner: only httpGet and tcpSocket probes are supported");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunnerOptions {
  kc: KubeConfig;
  /** Path of the daprd binary. */
  daprd: string;
  /** Where volumes and logs go; default .outrigger/sidecars/<pid> in the repository. */
  baseDir?: string;
  /** Port of `outrigger sentry` on the host; `--sentry-address` is pointed there. */
  sentryPort?: number;
}

export class SidecarRunner {
  private readonly core: CoreV1Api;
  private readonly baseDir: string;
  private counter = 0;
  /** Starts per pod ("namespace/name"), for restartCount. */
  private readonly starts = new Map<string, number>();
  private readonly pendingNetworks = new Set<PodNetwork>();
  private readonly opts: RunnerOptions;

  constructor(opts: RunnerOptions) {
    requireRoot();
    this.opts = opts;
    this.core = opts.kc.makeApiClient(CoreV1Api);
    this.baseDir = opts.baseDir ?? `${repoRoot}.outrigger/sidecars/${process.pid}`;
  }

  /** A pod network for a later start({ network }): its addresses are known before daprd runs. */
  async allocateNetwork(): Promise<PodNetwork> {
    const network = await createPodNetwork();
    this.pendingNetworks.add(network);
    return network;
  }

  /** Removes namespaces left by runs that were killed. */
  static async reapStale(): Promise<number> {
    return reapStalePodNetworks();
  }

  /**
   * Reports a container (re)start in the pod's status as the kubelet does: its running state's
   * startedAt (whole seconds) and, on a restart, restartCount + 1. The controller reads it.
   */
  private async reportStarted(namespace: string, podName: string, containerName: string): Promise<void> {
    const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    for (let attempt = 0; ; attempt++) {
      const pod = await this.core.readNamespacedPod({ namespace, name: podName });
      const status = pod.status ?? {};
      const native = pod.spec?.initContainers?.some((c) => c.name === containerName) ?? false;
      const list = [...((native ? status.initContainerStatuses : status.containerStatuses) ?? [])];
      const i = list.findIndex((c) => c.name === containerName);
      const before = list[i];
      // kwok reported a start no process made: the runner's first start is the container's first.
      const restarts = this.starts.get(`${namespace}/${podName}`) ?? 0;
      const entry = {
        ...before,
        name: containerName,
        image: before?.image ?? "",
        imageID: before?.imageID ?? "",
        ready: before?.ready ?? false,
        started: true,
        restartCount: restarts,
        state: { running: { startedAt } },
      };
      if (i >= 0) list[i] = entry;
      else list.push(entry);
      pod.status = { ...status, [native ? "initContainerStatuses" : "containerStatuses"]: list };
      try {
        await this.core.replaceNamespacedPodStatus({ namespace, name: podName, body: pod });
        this.starts.set(`${namespace}/${podName}`, restarts + 1);
        return;
      } catch (e) {
        // kwok writes the status too: a conflict means read again.
        if ((e as { code?: number }).code !== 409 || attempt >= 5) throw e;
      }
    }
  }

  /** Runs the daprd container of a pod. Waits for the sidecar-config Secret like the kubelet would. */
  async start(namespace: string, podName: string, runOpts: RunOptions = {}): Promise<Sidecar> {
    const pod = await this.core.readNamespacedPod({ namespace, name: podName });
    const container = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
      (c) => c.name === "daprd",
    );
    if (!container) throw new Error(`pod ${namespace}/${podName} has no daprd container`);
    const args = [...(container.command ?? []), ...(container.args ?? [])];
    if (args[0] !== "/daprd") throw new Error(`daprd's first arg is ${args[0]}, not /daprd`);

    const dir = `${this.baseDir}/${namespace}-${podName}-${++this.counter}`.slice(0, 250);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const logFile = `${dir}/daprd.log`;
    const network = runOpts.network ?? (await createPodNetwork());
    this.pendingNetworks.delete(network);
    const cleanups: Array<() => Promise<void> | void> = [
      () => network.remove(),
      () => rmSync(dir, { recursive: true, force: true }),
    ];
    const cleanup = async () => {
      for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
    };
    try {
      const env = await resolveEnv(this.core, pod, container, network);
      const argv = [
        this.opts.daprd,
        ...args
          .slice(1)
          .map((a, i, all) =>
            all[i - 1] === "--sentry-address" && this.opts.sentryPort !== undefined
              ? `${network.hostIP}:${this.opts.sentryPort}`
              : expandVars(a, env),
          ),
        ...(runOpts.extraArgs ?? []),
      ];

      // Volumes: the Secret volumes kept in sync by a watch, emptyDirs as fresh directories.
      const mounts: Array<{ source: string; target: string; readOnly: boolean }> = [];
      const writes: VolumeWrite[] = [];
      const writeWaiters = new Set<() => void>();
      for (const vm of container.volumeMounts ?? []) {
        const volume = pod.spec?.volumes?.find((v) => v.name === vm.name);
        if (!volume) throw new Error(`volume ${vm.name} is not in the pod spec`);
        const source = `${dir}/volumes/${vm.name}`;
        if (volume.secret) {
          const stopWatch = await this.syncSecretVolume(
            namespace,
            volume.secret.secretName!,
            volume.secret.items,
            source,
            volume.secret.defaultMode ?? 0o644,
            (w) => {
              writes.push(w);
              if (runOpts.verbose !== false && writes.length > 1)
                console.log(
                  `      runner: ${podName}: wrote ${volume.secret!.secretName} rv=${w.resourceVersion} (${(w.writtenAt - w.eventAt).toFixed(1)} ms after its watch event)`,
                );
              for (const wake of writeWaiters) wake();
            },
          );
          cleanups.push(stopWatch);
        } else if (volume.emptyDir) {
          mkdirSync(source, { recursive: true, mode: 0o777 });
        } else if (volume.projected) {
          // The service-account volume every container gets (token, CA, namespace), written once.
          writeAtomically(
            source,
            await this.projectedPayload(pod, volume.projected, network),
            [],
            new Date(),
            volume.projected.defaultMode ?? 0o644,
          );
        } else {
          throw new Error(`sidecar runner: volume ${vm.name} has a type it does not support`);
        }
        mounts.push({ source, target: vm.mountPath, readOnly: vm.readOnly === true });
      }

      // The image's working directory stands in as a scratch directory: relative paths in
      // components (a sqlite file, say) land there, not in the repository.
      const workDir = `${dir}/workdir`;
      mkdirSync(workDir, { recursive: true, mode: 0o777 });
      const child = this.spawnDaprd(network, pod, container, mounts, argv, env, workDir);
      await this.reportStarted(namespace, podName, container.name);
      let logs = "";
      let logToFile = true;
      const append = (d: Buffer) => {
        const text = d.toString();
        logs += text;
        if (logs.length > MAX_LOG) logs = logs.slice(-MAX_LOG / 2);
        // Output can still arrive after stop() removed the directory: the buffer has it all.
        if (logToFile) {
          try {
            appendFileSync(logFile, text);
          } catch {
            logToFile = false;
          }
        }
      };
      child.stdout!.on("data", append);
      child.stderr!.on("data", append);
      let exitValue: number | string | undefined;
      const exited = new Promise<number | string>((resolve) =>
        child.on("exit", (code, signal) => {
          exitValue = code ?? signal ?? -1;
          resolve(exitValue);
        }),
      );

      const sidecar: SidecarState = {
        namespace,
        podName,
        pod,
        container,
        network,
        pid: child.pid!,
        argv,
        env,
        dir,
        writes,
        exited,
        logs: () => logs,
        exitedWith: () => exitValue,
        waitForWrite: async (after, timeoutMs = 30_000) => {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const w = writes.find((x) => x.eventAt > after);
            if (w) return w;
            if (Date.now() > deadline)
              throw new Error(`no write of the sidecar config of ${podName} within ${timeoutMs} ms`);
            await new Promise<void>((resolve) => {
              const wake = () => {
                writeWaiters.delete(wake);
                resolve();
              };
              writeWaiters.add(wake);
              setTimeout(wake, 200);
            });
          }
        },
        volumeDir: (volumeName) => `${dir}/volumes/${volumeName}`,
        url: (port, path) => `http://${network.podIP}:${port}${path}`,
        fetchInPod: (port, path, init = {}) => fetchInNetns(network.netns, port, path, init),
        probe: async (kind) => {
          const probe = probeOf(container, kind);
          if (!probe) throw new Error(`daprd of ${podName} has no ${kind} probe`);
          return probeOnce(container, probe, network.podIP);
        },
        runProbe: async (kind, o = {}) => {
          const probe = probeOf(container, kind);
          if (!probe) throw new Error(`daprd of ${podName} has no ${kind} probe`);
          const period = o.periodMs ?? (probe.periodSeconds ?? 10) * 1000;
          const delay = o.periodMs !== undefined ? 0 : (probe.initialDelaySeconds ?? 0) * 1000;
          const threshold = probe.failureThreshold ?? 3;
          const started = performance.now();
          await sleep(delay);
          let failures = 0;
          for (let attempts = 1; ; attempts++) {
            const last = await probeOnce(container, probe, network.podIP);
            const elapsedMs = performance.now() - started;
            if (last.ok && !o.untilFailure) return { ok: true, attempts, elapsedMs, last };
            failures = last.ok ? 0 : failures + 1;
            if (failures >= threshold) return { ok: false, attempts, elapsedMs, last };
            if (exitValue !== undefined)
              return {
                ok: false,
                attempts,
                elapsedMs,
                last: { ok: false, detail: `daprd exited ${exitValue}` },
              };
            await sleep(period);
          }
        },
        stop: async () => {
          if (exitValue === undefined) {
            const kill = (signal: NodeJS.Signals) => {
              if (exitValue === undefined) child.kill(signal);
            };
            kill("SIGTERM");
            const timer = setTimeout(() => kill("SIGKILL"), 5_000);
            await exited;
            clearTimeout(timer);
          }
          if (running.delete(sidecar)) {
            finished.push({
              namespace,
              name: `daprd[${sidecar.pid}] of pod ${podName} (exit ${exitValue})`,
              logs: logs.slice(-200_000),
            });
            if (finished.length > 50) finished.shift();
          }
          await cleanup();
        },
      };
      running.add(sidecar);
      return sidecar;
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** Stops every daprd this process started and removes their namespaces and directories. */
  async stopAll(): Promise<void> {
    await Promise.all([...running].map((s) => s.stop()));
    for (const n of this.pendingNetworks) await n.remove();
    this.pendingNetworks.clear();
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** ip netns exec <ns> unshare -mu: bind mounts at the container's paths, the pod's hostname, then daprd. */
  private spawnDaprd(
    network: PodNetwork,
    pod: V1Pod,
    container: V1Container,
    mounts: Array<{ source: string; target: string; readOnly: boolean }>,
    argv: string[],
    env: Record<string, string>,
    workDir: string,
  ): ChildProcess {
    const script = [
      "set -e",
      `hostname "$HOSTNAME"`,
      ...mounts.flatMap((m, i) => [
        `mkdir -p "$M${i}T"`,
        `mount --bind "$M${i}S" "$M${i}T"`,
        ...(m.readOnly ? [`mount -o remount,bind,ro "$M${i}T"`] : []),
      ]),
      ...mounts.map((_, i) => `unset M${i}S M${i}T`),
      `exec "$@"`,
    ].join("\n");
    const mountEnv: Record<string, string> = {};
    mounts.forEach((m, i) => {
      mountEnv[`M${i}S`] = m.source;
      mountEnv[`M${i}T`] = m.target;
    });
    const sc = { ...pod.spec?.securityContext, ...container.securityContext };
    const user: string[] =
      sc.runAsUser !== undefined
        ? [
            "setpriv",
            `--reuid=${sc.runAsUser}`,
            `--regid=${sc.runAsGroup ?? sc.runAsUser}`,
            "--clear-groups",
            ...(container.securityContext?.allowPrivilegeEscalation === false ? ["--no-new-privs"] : []),
            "--",
          ]
        : [];
    const cmd = [
      "netns",
      "exec",
      network.netns,
      "unshare",
      "--mount",
      "--uts",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      script,
      "sh",
      ...user,
      ...argv,
    ];
    const child = spawn("ip", cmd, {
      cwd: workDir,
      env: { ...env, ...mountEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (child.pid === undefined) throw new Error("could not start daprd");
    return child;
  }

  /** The files of a projected volume: service-account token, ConfigMap and downward-API sources. */
  private async projectedPayload(
    pod: V1Pod,
    projected: V1ProjectedVolumeSource,
    net: PodNetwork,
  ): Promise<Payload> {
    const namespace = pod.metadata!.namespace!;
    const payload: Payload = new Map();
    for (const source of projected.sources ?? []) {
      if (source.serviceAccountToken) {
        const t = source.serviceAccountToken;
        const res = await this.core.createNamespacedServiceAccountToken({
          namespace,
          name: pod.spec?.serviceAccountName ?? "default",
          body: {
            spec: {
              audiences: t.audience ? [t.audience] : [],
              expirationSeconds: t.expirationSeconds ?? 3607,
              boundObjectRef: {
                apiVersion: "v1",
                kind: "Pod",
                name: pod.metadata!.name!,
                uid: pod.metadata!.uid!,
              },
            },
          },
        });
        payload.set(t.path, Buffer.from(res.status?.token ?? ""));
      } else if (source.configMap) {
        const c = await this.core
          .readNamespacedConfigMap({ namespace, name: source.configMap.name! })
          .catch((err: unknown) => {
            if (source.configMap!.optional) return undefined;
            throw err;
          });
        const items = source.configMap.items ?? Object.keys(c?.data ?? {}).map((key) => ({ key, path: key }));
        for (const { key, path } of items) payload.set(path, Buffer.from(c?.data?.[key] ?? ""));
      } else if (source.downwardAPI) {
        for (const item of source.downwardAPI.items ?? []) {
          if (!item.fieldRef)
            throw new Error(`sidecar runner: downwardAPI item ${item.path} is not a fieldRef`);
          payload.set(item.path, Buffer.from(fieldPathValue(pod, item.fieldRef.fieldPath, net)));
        }
      } else if (source.secret) {
        const s = await this.core.readNamespacedSecret({ namespace, name: source.secret.name! });
        for (const [path, content] of secretPayload(s, source.secret.items)) payload.set(path, content);
      } else {
        throw new Error("sidecar runner: a projected volume source it does not support");
      }
    }
    return payload;
  }

  /** Writes the Secret into `dir` now, then on every change; returns the function that stops the watch. */
  private async syncSecretVolume(
    namespace: string,
    name: string,
    items: Array<{ key: string; path: string }> | undefined,
    dir: string,
    mode: number,
    onWrite: (w: VolumeWrite) => void,
  ): Promise<() => void> {
    let paths: string[] = [];
    let lastRv = "";
    const apply = (secret: V1Secret, eventAt: number) => {
      const rv = secret.metadata?.resourceVersion ?? "";
      if (rv === lastRv) return;
      lastRv = rv;
      const payload = secretPayload(secret, items);
      if (writeAtomically(dir, payload, paths, new Date(), mode)) {
        paths = [...payload.keys()];
        onWrite({ resourceVersion: rv, eventAt, writtenAt: performance.now() });
      }
    };
    // Like the kubelet, the container does not start before its Secret exists.
    const deadline = Date.now() + 60_000;
    let secret: V1Secret | undefined;
    while (!secret) {
      secret = await this.core.readNamespacedSecret({ namespace, name }).catch(() => undefined);
      if (!secret) {
        if (Date.now() > deadline)
          throw new Error(
            `Secret ${namespace}/${name} of the sidecar-config volume did not appear within 60 s`,
          );
        await sleep(250);
      }
    }
    apply(secret, performance.now());

    let stopped = false;
    let abort: AbortController | undefined;
    const watch = new Watch(this.opts.kc);
    const startWatch = async (): Promise<void> => {
      if (stopped) return;
      abort = await watch
        .watch(
          `/api/v1/namespaces/${namespace}/secrets`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: lastRv, allowWatchBookmarks: false },
          (type, obj: V1Secret) => {
            if (stopped) return;
            if (type === "ADDED" || type === "MODIFIED") {
              try {
                apply(obj, performance.now());
              } catch (err) {
                console.error(`      runner: ${namespace}/${name}: ${(err as Error).message}`);
              }
            }
          },
          () => {
            // The watch ended (timeout, API-server restart, 410): relist and watch again.
            if (stopped) return;
            void sleep(500)
              .then(() => this.core.readNamespacedSecret({ namespace, name }))
              .then((s) => apply(s, performance.now()))
              .catch(() => undefined)
              .then(() => startWatch())
              .catch(() => undefined);
          },
        )
        .catch(async () => {
          await sleep(1000);
          void startWatch();
          return undefined;
        });
    };
    await startWatch();
    return () => {
      stopped = true;
      abort?.abort();
    };
  }
}

/** curl inside the pod's network namespace (daprd's API listens on loopback by default). */
async function fetchInNetns(
  netns: string,
  port: number,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> },
): Promise<InPodResponse> {
  const args = [
    "netns",
    "exec",
    netns,
    "curl",
    "-sS",
    "--max-time",
    "10",
    "-o",
    "-",
    "-w",
    "\n%{http_code}",
    "-X",
    init.method ?? "GET",
  ];
  for (const [k, v] of Object.entries(init.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (init.body !== undefined) args.push("--data-binary", "@-");
  args.push(`http://127.0.0.1:${port}${path}`);
  return new Promise((resolve, reject) => {
    const child = spawn("ip", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    // curl may exit before it reads stdin (it does not, without a body): the EPIPE is not the
    // error, its exit code is. Unhandled, it would end the whole mocha process.
    child.stdin.on("error", () => undefined);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`curl ${path} in ${netns}: exit ${code}: ${err.trim()}`));
      const cut = out.lastIndexOf("\n");
      resolve({ status: Number(out.slice(cut + 1)), body: out.slice(0, cut) });
    });
    child.stdin.end(init.body ?? "");
  });
}
