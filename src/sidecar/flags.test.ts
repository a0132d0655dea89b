import { expect } from "chai";
import { sidecarDefaultsProblems } from "./defaults.ts";
import { sidecarDefaultsFlags, sidecarDefaultsFromFlags } from "./flags.ts";

/** Flag values as parseArgs gives them: every default filled in, then `set`. */
function values(set: Record<string, string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, f] of Object.entries(sidecarDefaultsFlags)) out[k] = f.default as string | undefined;
  return { ...out, ...set };
}

describe("sidecar default flags", () => {
  it("refuse what sidecarDefaultsProblems refuses, naming the flag", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ "sidecar-image": "has space" }, "--sidecar-image"],
      [{ "sidecar-log-level": "loud" }, "--sidecar-log-level"],
      [{ "sidecar-image-pull-policy": "Sometimes" }, "--sidecar-image-pull-policy"],
      [{ "sidecar-memory-request": "lots" }, "--sidecar-memory-request"],
      [{ "sidecar-cpu-request": "2", "sidecar-cpu-limit": "1" }, "--sidecar-cpu-request"],
      [{ "sidecar-run-as-user": "0" }, "--sidecar-run-as-user"],
      [{ "native-sidecar": "maybe" }, "--native-sidecar"],
    ];
    for (const [set, flag] of cases) {
      const problems: string[] = [];
      sidecarDefaultsFromFlags(values(set), problems);
      expect(problems.join("\n"), JSON.stringify(set)).to.include(flag);
    }
  });

  it("accept only defaults that sidecarDefaultsProblems accepts", () => {
    const sets: Array<Record<string, string>> = [
      {},
      { "sidecar-cpu-limit": "500m" },
      { "sidecar-memory-limit": "", "sidecar-memory-request": "" },
      { "sidecar-image-pull-policy": "Always", "sidecar-run-as-user": "1000", "sidecar-run-as-group": "0" },
    ];
    for (const set of sets) {
      const problems: string[] = [];
      const d = sidecarDefaultsFromFlags(values(set), problems);
      expect(problems, JSON.stringify(set)).to.deep.equal([]);
      expect(sidecarDefaultsProblems(d), JSON.stringify(set)).to.deep.equal([]);
    }
  });
});
