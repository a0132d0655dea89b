import { expect } from "chai";
import { setCondition } from "./conditions.ts";
import type { Condition } from "./types.ts";

describe("setCondition", () => {
  const t0 = new Date("2026-01-01T00:00:00.123Z");
  const t1 = new Date("2026-01-02T00:00:00Z");
  const ready = (status: Condition["status"], reason = "Ready") => ({
    type: "Ready",
    status,
    reason,
    message: reason,
  });

  it("appends a new type with lastTransitionTime now, in whole seconds", () => {
    expect(setCondition(undefined, ready("True"), t0)).to.deep.equal([
      { ...ready("True"), lastTransitionTime: "2026-01-01T00:00:00Z" },
    ]);
  });

  it("keeps lastTransitionTime while the status stays, and updates reason and message", () => {
    const first = setCondition([], ready("False", "SecretNotFound"), t0);
    const second = setCondition(first, ready("False", "KeyNotFound"), t1);
    expect(second).to.deep.equal([
      { ...ready("False", "KeyNotFound"), lastTransitionTime: "2026-01-01T00:00:00Z" },
    ]);
  });

  it("moves lastTransitionTime when the status flips", () => {
    const first = setCondition([], ready("False", "SecretNotFound"), t0);
    expect(setCondition(first, ready("True"), t1)[0]?.lastTransitionTime).to.equal("2026-01-02T00:00:00Z");
  });

  it("replaces in place, leaves other types alone and does not modify its input", () => {
    const other: Condition = {
      type: "Other",
      status: "True",
      reason: "R",
      message: "",
      lastTransitionTime: "x",
    };
    const list = setCondition([other], ready("True"), t0);
    const next = setCondition(list, ready("False", "Broken"), t1);
    expect(next.map((c) => c.type)).to.deep.equal(["Other", "Ready"]);
    expect(next[0]).to.equal(other);
    expect(list[1]?.status).to.equal("True");
  });
});
