import { expect } from "chai";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { freePort } from "./free-port.ts";

describe("freePort", () => {
  it("hands out distinct ports below the ephemeral range that can be listened on", async () => {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).to.equal(50);
    for (const p of ports) expect(p).to.be.within(1025, low - 1);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(ports[0], "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
