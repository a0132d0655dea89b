import { expect } from "chai";
import { configurationRejections, isGoDuration, rejectionMessage } from "./daprd-acceptance.ts";

const messages = (spec: Record<string, unknown>) => configurationRejections(spec).map(rejectionMessage);

describe("daprd acceptance of a Configuration", () => {
  it("accepts an empty spec and the specs of Dapr's documentation", () => {
    expect(messages({})).to.deep.equal([]);
    expect(configurationRejections(undefined)).to.deep.equal([]);
    expect(
      messages({
        accessControl: {
          defaultAction: "deny",
          trustDomain: "public",
          policies: [{ appId: "app1", defaultAction: "allow", trustDomain: "public", namespace: "default" }],
        },
        secrets: { scopes: [{ storeName: "kubernetes", defaultAccess: "Deny", allowedSecrets: ["a"] }] },
        tracing: { otel: { timeout: "10s" } },
        workflow: { stateRetentionPolicy: { anyTerminal: "1h30m", completed: "0", failed: "-5m" } },
      }),
    ).to.deep.equal([]);
  });

  it("ignores policies when the access control list says nothing, as daprd does", () => {
    expect(messages({ accessControl: {} })).to.deep.equal([]);
  });

  it("refuses a policy without app-id, trust domain or namespace", () => {
    expect(messages({ accessControl: { policies: [{ appId: "a", trustDomain: "t" }, {}] } })).to.deep.equal([
      "spec.accessControl.policies[0].namespace is empty; daprd refuses an access control policy without it",
      "spec.accessControl.policies[1].appId is empty; daprd refuses an access control policy without it",
      "spec.accessControl.policies[1].trustDomain is empty; daprd refuses an access control policy without it",
      "spec.accessControl.policies[1].namespace is empty; daprd refuses an access control policy without it",
    ]);
  });

  it("refuses a secret store scoped twice and a defaultAccess other than allow or deny", () => {
    expect(
      messages({
        secrets: {
          scopes: [
            { storeName: "vault", defaultAccess: "allow" },
            { storeName: "vault", defaultAccess: "maybe" },
          ],
        },
      }),
    ).to.deep.equal([
      'spec.secrets.scopes[1].storeName "vault" is repeated; daprd refuses repeated stores',
      'spec.secrets.scopes[1].defaultAccess "maybe" is not allow or deny',
    ]);
  });

  it("refuses durations Go cannot parse", () => {
    expect(
      messages({
        tracing: { otel: { timeout: "10 seconds" } },
        workflow: { stateRetentionPolicy: { failed: 5 } },
      }),
    ).to.deep.equal([
      'spec.tracing.otel.timeout "10 seconds" is not a duration such as 30s, 5m or 1h30m',
      "spec.workflow.stateRetentionPolicy.failed 5 is not a duration such as 30s, 5m or 1h30m",
    ]);
  });

  it("knows time.ParseDuration's grammar", () => {
    for (const ok of ["0", "1s", "1.5h", ".5m", "1h2m3s4ms5us6ns", "-1s", "+2m", "3µs"])
      expect(isGoDuration(ok), ok).to.equal(true);
    for (const bad of ["", "1", "s", "1d", "1 s", "1s ", "--1s", "1.s.5"])
      expect(isGoDuration(bad), bad).to.equal(false);
  });
});
