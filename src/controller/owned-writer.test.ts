import { expect } from "chai";
import { fakeWriter, silentLog } from "./reconcile.testing.ts";

describe("OwnedWriter", () => {
  const secret = { kind: "Secret" as const, namespace: "shop", name: "orders-dapr-sidecar" };
  const status = { kind: "Component" as const, namespace: "shop", name: "store" };

  it("remembers a write until the cache shows it, then forgets it (bounded by the objects written)", async () => {
    const { writer } = fakeWriter();
    await writer.create(secret, { metadata: { name: secret.name } }, "h1", silentLog);
    await writer.patchStatus(status, { appCount: 1 }, "s1");
    expect(writer.alreadyWritten(secret, "h1")).to.equal(true);
    expect(writer.alreadyWritten(secret, "h2")).to.equal(false);
    expect(writer.pending()).to.equal(2);
    writer.observe(secret, "101");
    writer.observe(status, "102");
    expect(writer.pending()).to.equal(0);
    expect(writer.alreadyWritten(secret, "h1")).to.equal(false);
  });

  it("forgets what it wrote of an object that is gone", async () => {
    const { writer } = fakeWriter();
    await writer.patchStatus(status, { appCount: 1 }, "s1");
    writer.forget(status);
    expect(writer.pending()).to.equal(0);
  });

  it("never updates an object that is not ours", async () => {
    const { writer, api } = fakeWriter();
    let thrown: unknown;
    try {
      await writer.update(secret, { metadata: { name: secret.name } }, { metadata: {} }, "h", silentLog);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).name).to.equal("TerminalError");
    expect(api.requests).to.deep.equal([]);
  });
});
