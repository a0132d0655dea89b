// A TCP port that is free on loopback right now, for processes started by scripts and tests.
//
// Taken below the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port from that
// range, which is what listening on port 0 gives, can be taken by any outgoing connection
// between this check and the listen of the process it is for. That happened in CI: the injector
// exited with EADDRINUSE on the port picked for it half a second earlier.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Ports handed out by this process: two picks must not meet before either is listened on. */
const handedOut = new Set<number>();

/** The lowest ephemeral port (Linux's default 32768 where the file cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}

export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1025, high - 12_000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${low}-${high} after 200 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
