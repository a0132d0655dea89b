// One network namespace per sidecar, so that each daprd has a pod-like address of its own and
// no two of them collide on ports: lo, plus a veth pair whose pod end (eth0) and host end share
// a /30 in 10.213.0.0/16. There is no default route, so nothing a daprd sends can leave the
// machine; the test process reaches the pod through the host end's connected route.
//
// Names: the namespace is `outrigger-e2e-<pid>-<slot>` (so a later run can remove what a killed
// run left), the host end `orv<slot>`. Creating the host end is the lock on a slot: two runners
// on one machine (other worktrees) never take the same one.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const NETNS_PREFIX = "outrigger-e2e-";
const SLOTS = 16_384; // /30s in 10.213.0.0/16

export interface PodNetwork {
  /** `ip netns` name. */
  netns: string;
  /** The pod's address (eth0 inside the namespace). */
  podIP: string;
  /** The host end's address, reachable from the pod. */
  hostIP: string;
  hostInterface: string;
  /** Removes the namespace, and with it both ends of the veth pair. Processes in it must have ended. */
  remove(): Promise<void>;
}

/** The harness needs network namespaces and mounts: it fails, never skips, without root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "the sidecar runner needs root (network namespaces, veth pairs, bind mounts); run the e2e suite as root",
    );
  }
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run("ip", args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

function slotAddresses(slot: number): { hostIP: string; podIP: string } {
  const base = slot * 4;
  const third = Math.floor(base / 256);
  const fourth = base % 256;
  return { hostIP: `10.213.${third}.${fourth + 1}`, podIP: `10.213.${third}.${fourth + 2}` };
}

let nextSlot = (process.pid * 37) % SLOTS;

/** Takes a free slot: the host end `orv<slot>` is created, or the slot is someone else's. */
async function claimSlot(): Promise<number> {
  for (let tries = 0; tries < 256; tries++) {
    const slot = nextSlot;
    nextSlot = (nextSlot + 1) % SLOTS;
    try {
      await ip(["link", "add", `orv${slot}`, "type", "veth", "peer", "name", `orp${slot}`]);
      return slot;
    } catch (err) {
      if (!/exists/i.test((err as Error).message)) throw err;
    }
  }
  throw new Error("no free veth slot after 256 tries");
}

export async function createPodNetwork(): Promise<PodNetwork> {
  requireRoot();
  const slot = await claimSlot();
  const netns = `${NETNS_PREFIX}${process.pid}-${slot}`;
  const hostInterface = `orv${slot}`;
  const { hostIP, podIP } = slotAddresses(slot);
  const remove = async () => {
    await ip(["netns", "del", netns]).catch(() => undefined);
    // The host end goes with the namespace; this only matters when setup failed half way.
    await ip(["link", "del", hostInterface]).catch(() => undefined);
  };
  try {
    await ip(["netns", "add", netns]);
    await ip(["link", "set", `orp${slot}`, "netns", netns]);
    await ip(["-n", netns, "link", "set", "lo", "up"]);
    await ip(["-n", netns, "link", "set", `orp${slot}`, "name", "eth0"]);
    await ip(["-n", netns, "addr", "add", `${podIP}/30`, "dev", "eth0"]);
    await ip(["-n", netns, "link", "set", "eth0", "up"]);
    await ip(["addr", "add", `${hostIP}/30`, "dev", hostInterface]);
    await ip(["link", "set", hostInterface, "up"]);
  } catch (err) {
    await remove();
    throw err;
  }
  return { netns, podIP, hostIP, hostInterface, remove };
}

/**
 * Lets pods reach each other, as a cluster network does, without IP forwarding on the host:
 * their host ends join one bridge that takes over their host addresses, and each pod gets an
 * on-link route to the others. Returns the cleanup (the bridge; the veths go with the namespaces).
 */
export async function linkPodNetworks(networks: PodNetwork[]): Promise<() => Promise<void>> {
  const bridge = `orb${networks[0]!.hostInterface.slice(3)}`;
  const remove = async () => {
    await ip(["link", "del", bridge]).catch(() => undefined);
  };
  try {
    await ip(["link", "add", bridge, "type", "bridge"]);
    await ip(["link", "set", bridge, "up"]);
    for (const n of networks) {
      await ip(["addr", "del", `${n.hostIP}/30`, "dev", n.hostInterface]);
      await ip(["link", "set", n.hostInterface, "master", bridge]);
      await ip(["addr", "add", `${n.hostIP}/30`, "dev", bridge]);
      for (const other of networks)
        if (other !== n) await ip(["-n", n.netns, "route", "add", `${other.podIP}/32`, "dev", "eth0"]);
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return remove;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the namespaces (and veth pairs) of runs whose process is gone. Returns how many. */
export async function reapStalePodNetworks(): Promise<number> {
  requireRoot();
  const list = await ip(["netns", "list"]);
  let reaped = 0;
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${NETNS_PREFIX}(\\d+)-(\\d+)$`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await ip(["netns", "del", name]).catch(() => undefined);
    await ip(["link", "del", `orv${m[2]}`]).catch(() => undefined);
    await ip(["link", "del", `orb${m[2]}`]).catch(() => undefined);
    reaped++;
  }
  return reaped;
}
