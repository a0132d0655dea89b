import { expect } from "chai";
import { expectedSidecarStatus } from "../sidecar/status.ts";
import { decide, hasSidecar, podShapeProblem, type Decision } from "./decide.ts";
import { resolveSidecar } from "../sidecar/resolve.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";
import { computedHashOfResolvedSidecar } from "../sidecar/fingerprint.ts";

const settings = builtInSidecarDefaults;

function pod(opts: {
  annotations?: Record<string, unknown>;
  name?: string;
  generateName?: string;
  containers?: unknown[];
  initContainers?: unknown[];
  volumes?: unknown[];
}): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  if (opts.name !== undefined) metadata.name = opts.name;
  if (opts.generateName !== undefined) metadata.generateName = opts.generateName;
  if (opts.annotations !== undefined) metadata.annotations = opts.annotations;
  const spec: Record<string, unknown> = {
    containers: opts.containers ?? [{ name: "app", image: "busybox" }],
  };
  if (opts.initContainers) spec.initContainers = opts.initContainers;
  if (opts.volumes) spec.volumes = opts.volumes;
  return { apiVersion: "v1", kind: "Pod", metadata, spec };
}

function summary(d: Decision): string {
  return d.kind === "inject" ? "inject" : `${d.kind} ${d.reason}`;
}

describe("decide: truth table", () => {
  const on = { "dapr.io/enabled": "true", "dapr.io/app-id": "web" };
  const daprd = { name: "daprd", image: "x" };
  const rows: Array<[string, Record<string, unknown>, string]> = [
    ["no annotations", pod({ name: "web" }), "skip not-enabled"],
    [
      "enabled absent, other dapr keys invalid",
      pod({ name: "web", annotations: { "dapr.io/app-port": "x" } }),
      "skip not-enabled",
    ],
    ["enabled false", pod({ name: "web", annotations: { "dapr.io/enabled": "false" } }), "skip not-enabled"],
    [
      "enabled FALSE with daprd present",
      pod({ name: "w", annotations: { "dapr.io/enabled": "FALSE" }, containers: [daprd] }),
      "skip not-enabled",
    ],
    [
      "enabled not a boolean",
      pod({ name: "web", annotations: { "dapr.io/enabled": "sure" } }),
      "deny invalid-annotation",
    ],
    [
      "enabled, daprd in containers",
      pod({ annotations: on, containers: [{ name: "app" }, daprd] }),
      "skip already-injected",
    ],
    [
      "enabled, daprd in initContainers",
      pod({ annotations: on, initContainers: [daprd] }),
      "skip already-injected",
    ],
    [
      "already injected beats invalid values",
      pod({ annotations: { ...on, "dapr.io/app-port": "x" }, initContainers: [daprd] }),
      "skip already-injected",
    ],
    ["enabled, spec.containers missing", { metadata: { annotations: on } }, "deny invalid-object"],
    [
      "enabled, invalid value",
      pod({ name: "web", annotations: { ...on, "dapr.io/app-port": "http" } }),
      "deny invalid-annotation",
    ],
    [
      "enabled, invalid app-id annotation",
      pod({ name: "web", annotations: { ...on, "dapr.io/app-id": "Web" } }),
      "deny invalid-app-id",
    ],
    [
      "enabled, generateName only, no app-id",
      pod({ generateName: "web-", annotations: { "dapr.io/enabled": "true" } }),
      "deny missing-app-id",
    ],
    ["enabled, generateName and app-id", pod({ generateName: "web-", annotations: on }), "inject"],
    [
      "enabled, name only: app-id defaults to it",
      pod({ name: "web", annotations: { "dapr.io/enabled": "yes" } }),
      "inject",
    ],
    [
      "enabled, pod name not a valid app-id",
      pod({ name: "web.v1", annotations: { "dapr.io/enabled": "true" } }),
      "deny invalid-app-id",
    ],
    [
      "enabled, volume missing",
      pod({ name: "w", annotations: { ...on, "dapr.io/volume-mounts-rw": "d:/d" } }),
      "deny missing-volume",
    ],
    [
      "enabled, volume present",
      pod({
        name: "w",
        annotations: { ...on, "dapr.io/volume-mounts-rw": "d:/d" },
        volumes: [{ name: "d", emptyDir: {} }],
      }),
      "inject",
    ],
    [
      "enabled, port clash",
      pod({ name: "w", annotations: { ...on, "dapr.io/app-port": "3500" } }),
      "deny invalid-annotation",
    ],
    [
      "enabled, reserved volume name",
      pod({ name: "w", annotations: on, volumes: [{ name: "outrigger-sidecar-config", emptyDir: {} }] }),
      "deny invalid-object",
    ],
    [
      "non-string annotation values are not annotations",
      pod({ name: "web", annotations: { "dapr.io/enabled": true } }),
      "skip not-enabled",
    ],
  ];
  for (const [name, input, want] of rows) {
    it(`${name} → ${want}`, () => expect(summary(decide(input, settings))).to.equal(want));
  }

  it("the missing app-id message names the annotation to set", () => {
    const d = decide(pod({ generateName: "web-", annotations: { "dapr.io/enabled": "true" } }), settings);
    expect(d.kind === "deny" && d.message)
      .to.match(/dapr\.io\/app-id/)
      .and.match(/generateName/);
  });

  it("a pod name too long for an app-id says the name was used and which annotation to set", () => {
    const name = "x".repeat(60);
    const d = decide(pod({ name, annotations: { "dapr.io/enabled": "true" } }), settings);
    expect(d.kind).to.equal("deny");
    if (d.kind === "deny") {
      expect(d.reason).to.equal("invalid-app-id");
      expect(d.message).to.contain(`the pod name "${name}"`).and.contain("set the dapr.io/app-id annotation");
    }
  });

  it("never throws on odd shapes", () => {
    const odd: unknown[] = [
      null,
      42,
      "pod",
      [],
      { metadata: null },
      { metadata: { annotations: { "dapr.io/enabled": "true" } }, spec: { containers: "no" } },
      { metadata: { annotations: { "dapr.io/enabled": "true" }, name: 5 }, spec: { containers: [] } },
      { metadata: { annotations: { "dapr.io/enabled": "true" }, labels: [] }, spec: { containers: [] } },
      { metadata: { annotations: { "dapr.io/enabled": "true" } }, spec: { containers: [null] } },
      {
        metadata: { annotations: { "dapr.io/enabled": "true" } },
        spec: { containers: [{ name: "a", env: {} }] },
      },
      { metadata: { annotations: { "dapr.io/enabled": "true" } }, spec: { containers: [], volumes: [{}] } },
    ];
    for (const o of odd) expect(() => decide(o, settings)).to.not.throw();
  });
});

describe("decide: shape checks", () => {
  it("accepts a minimal pod and names the first problem otherwise", () => {
    expect(podShapeProblem(pod({ name: "a" }))).to.equal(undefined);
    expect(podShapeProblem({ spec: { containers: [] }, metadata: { labels: "x" } })).to.equal(
      "metadata.labels is not an object",
    );
    expect(podShapeProblem({ spec: { containers: [{ name: "a", env: [1] }] } })).to.equal(
      "spec.containers[0].env is not a list of objects",
    );
  });

  it("hasSidecar looks at containers and initContainers only", () => {
    expect(hasSidecar(pod({ containers: [{ name: "daprd" }] }))).to.equal(true);
    expect(hasSidecar(pod({ initContainers: [{ name: "daprd" }] }))).to.equal(true);
    expect(hasSidecar(pod({ containers: [{ name: "daprd-helper" }] }))).to.equal(false);
    expect(hasSidecar({ spec: { ephemeralContainers: [{ name: "daprd" }] } })).to.equal(false);
  });
});

describe("resolveSidecar", () => {
  const base = { "dapr.io/enabled": "true", "dapr.io/app-id": "web" };

  it("takes injector defaults when annotations say nothing", () => {
    const custom: SidecarDefaults = {
      ...settings,
      sidecarImage: "example/daprd:1",
      logLevel: "warn",
      logAsJson: true,
      nativeSidecar: false,
      sidecarImagePullPolicy: "IfNotPresent",
      runAsUser: 1000,
    };
    const r = resolveSidecar(base, "web-0", custom);
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.sidecar).to.include({
      appId: "web",
      image: "example/daprd:1",
      logLevel: "warn",
      logAsJson: true,
      nativeSidecar: false,
      imagePullPolicy: "IfNotPresent",
      runAsUser: 1000,
      appProtocol: "http",
      grpcPort: 50001,
      internalGrpcPort: 50002,
      metricsPort: 9090,
      enableMetrics: true,
    });
    expect(r.sidecar.resources).to.deep.equal({
      requests: { cpu: "100m", memory: "250Mi" },
      limits: { memory: "1Gi" },
    });
    expect(r.sidecar.appHealth).to.equal(undefined);
  });

  it("explicit resources win over defaults without creating request > limit", () => {
    const lowLimit = resolveSidecar(
      { ...base, "dapr.io/sidecar-memory-limit": "128Mi" },
      undefined,
      settings,
    );
    expect(lowLimit.ok && lowLimit.sidecar.resources.requests.memory).to.equal("128Mi");
    const highRequest = resolveSidecar(
      { ...base, "dapr.io/sidecar-memory-request": "2Gi" },
      undefined,
      settings,
    );
    expect(highRequest.ok && highRequest.sidecar.resources.limits.memory).to.equal("2Gi");
    const both = resolveSidecar(
      { ...base, "dapr.io/sidecar-cpu-request": "2", "dapr.io/sidecar-cpu-limit": "500m" },
      undefined,
      settings,
    );
    expect(both.ok).to.equal(false);
    if (!both.ok)
      expect(both.message).to.equal(
        'dapr.io/sidecar-cpu-request: "2" is more than dapr.io/sidecar-cpu-limit "500m"',
      );
  });

  it("deprecated keys still work, and app-ssl turns http into https", () => {
    const r = resolveSidecar(
      {
        ...base,
        "dapr.io/app-ssl": "true",
        "dapr.io/http-max-request-size": "16",
        "dapr.io/http-read-buffer-size": "8",
      },
      undefined,
      settings,
    );
    expect(r.ok).to.equal(true);
    if (r.ok) {
      expect(r.sidecar.appProtocol).to.equal("https");
      expect(r.sidecar.maxBodySize).to.equal("16Mi");
      expect(r.sidecar.readBufferSize).to.equal("8Ki");
    }
  });

  it("rejects port clashes, overlapping mounts and env names the injector owns", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { "dapr.io/metrics-port": "50001" },
        /^dapr\.io\/metrics-port: 50001 is already taken by dapr\.io\/grpc-port/,
      ],
      [
        { "dapr.io/app-port": "3501" },
        /^dapr\.io\/app-port: 3501 is already taken by daprd's public health port/,
      ],
      [{ "dapr.io/volume-mounts": "v:/var/run/outrigger/sidecar/x" }, /is inside the sidecar config volume/],
      [{ "dapr.io/volume-mounts": "v:/var/run/outrigger/sidecar" }, /is inside the sidecar config volume/],
      [
        { "dapr.io/volume-mounts": "v:/a", "dapr.io/volume-mounts-rw": "w:/a" },
        /uses the same path as v:\/a/,
      ],
      [{ "dapr.io/volume-mounts": "outrigger-sidecar-config:/x" }, /reserved for the injected sidecar/],
      [{ "dapr.io/env": "NAMESPACE=x" }, /NAMESPACE is set by the injector/],
      [{ "dapr.io/env": "A=1", "dapr.io/env-from-secret": "A=s" }, /A is also set by dapr\.io\/env/],
    ];
    for (const [extra, message] of cases) {
      const r = resolveSidecar({ ...base, ...extra }, undefined, settings);
      expect(r.ok, JSON.stringify(extra)).to.equal(false);
      if (!r.ok) {
        expect(r.reason).to.equal("invalid-annotation");
        expect(r.message).to.match(message);
      }
    }
    // Nesting outside the config volume, and one volume at two paths, are fine for Kubernetes.
    expect(
      resolveSidecar(
        {
          ...base,
          "dapr.io/volume-mounts": "v:/var/run/outrigger,v:/data",
          "dapr.io/volume-mounts-rw": "w:/data/w",
        },
        undefined,
        settings,
      ).ok,
    ).to.equal(true);
    // Metrics off frees its port.
    expect(
      resolveSidecar(
        { ...base, "dapr.io/enable-metrics": "false", "dapr.io/app-port": "9090" },
        undefined,
        settings,
      ).ok,
    ).to.equal(true);
  });
});

describe("expectedSidecarStatus (the hash the controller compares)", () => {
  const annotations = { "dapr.io/enabled": "true", "dapr.io/app-id": "web", "dapr.io/app-port": "8080" };

  it("matches what decide records, and ignores annotation order and unrelated keys", () => {
    const d = decide(pod({ name: "web-1", annotations }), settings);
    const now = expectedSidecarStatus({ "other/x": "1", ...annotations }, "web-1", settings);
    expect(d.kind).to.equal("inject");
    expect(now.ok).to.equal(true);
    if (d.kind === "inject" && now.ok) {
      expect(now.settingsHash).to.equal(d.settingsHash);
      expect(now.settingsHash).to.match(/^[0-9a-f]{16}$/);
      expect(now.image).to.equal(settings.sidecarImage);
    }
  });

  it("changes with any sidecar setting, including injector defaults, but not with the image", () => {
    const h = (a: Record<string, string>, s: SidecarDefaults = settings) => {
      const r = expectedSidecarStatus(a, undefined, s);
      return r.ok ? r.settingsHash : r.message;
    };
    const base = h(annotations);
    expect(h({ ...annotations, "dapr.io/app-port": "8081" })).to.not.equal(base);
    expect(h({ ...annotations, "dapr.io/log-level": "debug" })).to.not.equal(base);
    expect(h(annotations, { ...settings, resources: { cpuRequest: "200m" } })).to.not.equal(base);
    expect(h(annotations, { ...settings, sidecarImage: "other/daprd:2" })).to.equal(base);
    // Same meaning, different spelling: same hash.
    expect(h({ ...annotations, "dapr.io/log-level": "INFO" })).to.equal(base);
  });

  it("reports why when the annotations could not be injected", () => {
    const r = expectedSidecarStatus({ "dapr.io/app-port": "x" }, "web", settings);
    expect(r).to.deep.equal({ ok: false, message: 'dapr.io/app-port: "x" is not a port number (1-65535)' });
  });
});

describe("decide: the memoized resolution", () => {
  const on = { "dapr.io/enabled": "true", "dapr.io/app-id": "memo", "dapr.io/app-port": "8080" };
  // What decide must answer: resolveSidecar and the hash, computed afresh.
  function fresh(annotations: Record<string, string>, name?: string) {
    const r = resolveSidecar(annotations, name, settings);
    return r.ok
      ? { sidecar: r.sidecar, warnings: r.warnings, settingsHash: computedHashOfResolvedSidecar(r.sidecar) }
      : r;
  }

  it("answers a pod seen before as it answered it first, sharing one frozen sidecar", () => {
    const first = decide(pod({ annotations: { ...on, "dapr.io/app-ssl": "true" } }), settings);
    const again = decide(pod({ annotations: { ...on, "dapr.io/app-ssl": "true" } }), settings);
    expect(first.kind).to.equal("inject");
    expect(again).to.deep.equal(first);
    if (first.kind !== "inject" || again.kind !== "inject") return;
    expect(again.sidecar).to.equal(first.sidecar);
    expect(Object.isFrozen(first.sidecar) && Object.isFrozen(first.sidecar.resources.requests)).to.equal(
      true,
    );
    const expected = fresh({ ...on, "dapr.io/app-ssl": "true" });
    expect({
      sidecar: again.sidecar,
      warnings: again.warnings,
      settingsHash: again.settingsHash,
    }).to.deep.equal(expected);
    // The warnings are the caller's to keep: a copy, not the memo's list.
    expect(again.warnings).to.not.equal(first.warnings);
    expect(again.warnings).to.have.length(1);
  });

  it("tells apart annotations that differ in value, key, order or name, and ignores other keys", () => {
    const hashOf = (annotations: Record<string, unknown>, name?: string) => {
      const d = decide(pod({ annotations, ...(name ? { name } : {}) }), settings);
      return d.kind === "inject" ? `${d.sidecar.appId} ${d.settingsHash} ${d.warnings.join(";")}` : d.kind;
    };
    const base = hashOf(on);
    expect(hashOf({ ...on, "dapr.io/app-port": "8081" })).to.not.equal(base);
    expect(hashOf({ ...on, "other.io/x": "1", "dapr.io/x": 3 })).to.equal(base);
    // Two lists of entries that would read the same run together: the second's app-id is invalid.
    const runTogether = { "dapr.io/enabled": "true", "dapr.io/app-id": "x", "dapr.io/config": "y" };
    expect(hashOf(runTogether)).to.match(/^x /);
    expect(hashOf({ "dapr.io/enabled": "true", "dapr.io/app-id": "xdapr.io/configy" })).to.equal("deny");
    // The order of deprecated keys is the order of their warnings.
    const w1 = hashOf({ ...on, "dapr.io/app-ssl": "false", "dapr.io/http-max-request-size": "4" });
    const w2 = hashOf({ ...on, "dapr.io/http-max-request-size": "4", "dapr.io/app-ssl": "false" });
    expect(w1.split(" ")[1]).to.equal(w2.split(" ")[1]);
    expect(w1).to.not.equal(w2);
    // Without an app-id the pod's name is the app-id: two names, two answers.
    const noId = { "dapr.io/enabled": "true" };
    expect(hashOf(noId, "web-a")).to.match(/^web-a /);
    expect(hashOf(noId, "web-b")).to.match(/^web-b /);
  });

  it("leaves the pod's name out only where resolveSidecar does not read it: with dapr.io/app-id set", () => {
    // What the memo's key relies on, for valid and invalid app-ids alike.
    for (const extra of [{ "dapr.io/app-id": "web" }, { "dapr.io/app-id": "Not_Valid" }]) {
      const a = { ...on, ...extra };
      expect(resolveSidecar(a, "web-0", settings)).to.deep.equal(resolveSidecar(a, undefined, settings));
      expect(resolveSidecar(a, "web-1", settings)).to.deep.equal(resolveSidecar(a, "x".repeat(80), settings));
    }
    // Pods of a StatefulSet: their names differ, their sidecar is one.
    const first = decide(pod({ name: "web-0", annotations: on }), settings);
    const second = decide(pod({ name: "web-1", annotations: on }), settings);
    expect(first.kind === "inject" && second.kind === "inject" && second.sidecar === first.sidecar).to.equal(
      true,
    );
  });

  it("answers denials from the memo as it answered them first", () => {
    const bad = { ...on, "dapr.io/app-port": "x", "dapr.io/log-level": "loud" };
    const first = decide(pod({ annotations: bad }), settings);
    expect(decide(pod({ annotations: bad }), settings)).to.deep.equal(first);
    const r = fresh(bad);
    expect(first).to.deep.equal({
      kind: "deny",
      reason: "invalid-annotation",
      message: "message" in r ? r.message : "",
      appId: undefined,
    });
  });

  it("keeps one memo per settings object", () => {
    const other: SidecarDefaults = { ...settings, logLevel: "debug" };
    const a = decide(pod({ annotations: on }), settings);
    const b = decide(pod({ annotations: on }), other);
    expect(a.kind === "inject" && a.sidecar.logLevel).to.equal("info");
    expect(b.kind === "inject" && b.sidecar.logLevel).to.equal("debug");
  });
});
