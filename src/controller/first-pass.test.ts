import { expect } from "chai";
import { FirstPass } from "./first-pass.ts";

describe("FirstPass", () => {
  it("holds a namespace until every app controller has reconciled each of its apps once", () => {
    const pass = new FirstPass(
      new Map([
        ["shop", ["shop/orders", "shop/cart"]],
        ["bank", ["bank/ledger"]],
        ["empty", []],
      ]),
      ["sidecar-config", "app-service"],
    );
    expect([pass.holds("shop"), pass.holds("bank"), pass.holds("empty"), pass.holds("other")]).to.deep.equal([
      true,
      true,
      false,
      false,
    ]);
    expect(pass.reconciled("sidecar-config", "shop/orders")).to.equal(false);
    expect(pass.reconciled("sidecar-config", "shop/orders")).to.equal(false); // again: counted once
    expect(pass.reconciled("app-service", "shop/orders")).to.equal(false);
    expect(pass.reconciled("sidecar-config", "shop/cart")).to.equal(false);
    expect(pass.reconciled("sidecar-config", "shop/unknown")).to.equal(false);
    expect(pass.holds("shop")).to.equal(true);
    expect(pass.reconciled("app-service", "shop/cart")).to.equal(true);
    expect(pass.holds("shop")).to.equal(false);
    expect(pass.reconciled("app-service", "shop/cart")).to.equal(false); // after: nothing to record
    expect(pass.holds("bank")).to.equal(true);
  });
});
