import { expect } from "chai";
import { builtInSidecarDefaults, sidecarDefaultsProblems, type SidecarDefaults } from "./defaults.ts";

describe("injector settings", () => {
  it("the defaults are valid and name a pinned daprd release", () => {
    expect(sidecarDefaultsProblems(builtInSidecarDefaults)).to.deep.equal([]);
    expect(builtInSidecarDefaults.sidecarImage).to.match(/^ghcr\.io\/dapr\/daprd:\d+\.\d+\.\d+$/);
    expect(builtInSidecarDefaults.nativeSidecar).to.equal(true);
  });

  it("reports every bad value", () => {
    const bad = {
      ...builtInSidecarDefaults,
      sidecarImage: "has space",
      logLevel: "loud",
      sidecarImagePullPolicy: "Sometimes",
      resources: { cpuRequest: "2", cpuLimit: "1", memoryRequest: "lots" },
      runAsUser: 0,
    } as unknown as SidecarDefaults;
    expect(sidecarDefaultsProblems(bad)).to.deep.equal([
      'sidecar image: "has space" is not a container image reference',
      'log level: "loud" is not one of: debug, info, warn, error, fatal',
      'image pull policy: "Sometimes" is not one of: Always, IfNotPresent, Never',
      'sidecar memory request: "lots" is not a Kubernetes quantity (e.g. 100m, 256Mi)',
      "sidecar CPU request 2 is more than its limit 1",
      "sidecar run-as user: 0 is not a non-root id (1-2147483647)",
    ]);
  });
});
