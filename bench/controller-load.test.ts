import { expect } from "chai";
import { parseSidecarFile } from "../src/controller/sidecar-config.ts";
import {
  appsInScope,
  benchComponent,
  benchDeployment,
  componentName,
  componentScopes,
  componentsOfApp,
  revision,
} from "./controller-load.ts";

const shape = { namespaces: 50, apps: 10, components: 20 };

describe("bench controller load", () => {
  it("scopes every fourth Component to three apps and leaves the rest unscoped", () => {
    expect(componentScopes(shape, 0)).to.equal(undefined);
    expect(componentScopes(shape, 3)).to.deep.equal(["app-3", "app-4", "app-5"]);
    expect(componentScopes(shape, 19)).to.deep.equal(["app-9", "app-0", "app-1"]);
    expect(appsInScope(shape, 0)).to.have.length(10);
    const scoped = Array.from({ length: 20 }, (_, c) => c).filter((c) => componentScopes(shape, c));
    expect(scoped).to.have.length(5);
  });

  it("knows which Components each app's config holds", () => {
    // 15 unscoped, plus the scoped ones naming the app.
    const counts = Array.from({ length: 10 }, (_, a) => componentsOfApp(shape, `app-${a}`).length);
    expect(counts.every((n) => n >= 15 && n <= 17)).to.equal(true);
    expect(counts.reduce((a, b) => a + b, 0)).to.equal(15 * 10 + 5 * 3);
    expect(new Set(Array.from({ length: 20 }, (_, c) => componentName(c))).size).to.equal(20);
  });

  it("builds Components whose revision shows in a rendered file, and Deployments that are apps", () => {
    const c = benchComponent(shape, "ns", 3, "run", revision(42));
    expect(c.scopes).to.deep.equal(["app-3", "app-4", "app-5"]);
    expect(c.spec.metadata.at(-1)).to.deep.equal({ name: "benchRevision", value: "rev-000042" });
    expect(revision(1)).to.not.equal(revision(10));
    expect(revision(1)).to.have.length(revision(123456).length);
    const d = benchDeployment("ns", 2, "run");
    expect(d.spec?.replicas).to.equal(0);
    expect(d.spec?.template.metadata?.annotations).to.include({
      "dapr.io/enabled": "true",
      "dapr.io/app-id": "app-2",
    });
    expect(parseSidecarFile(`value: ${revision(7)}\n`)[0]).to.deep.equal({ value: "rev-000007" });
  });
});
