import { expect } from "chai";
import {
  SIDECAR_CONFIG_FILE,
  SIDECAR_CONFIG_ITEMS,
  SIDECAR_CONFIG_MOUNT_PATH,
  SIDECAR_CONFIG_VOLUME,
  SIDECAR_RESOURCES_PATH,
} from "../sidecar/config-secret.ts";
import { SIDECAR_STATUS_ANNOTATION } from "../sidecar/status.ts";
import { resolveSidecar, type ResolvedSidecar } from "../sidecar/resolve.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { deepFreeze } from "../shared/frozen-json.ts";
import { injectedPod, sidecarArgs, sidecarContainer } from "./sidecar.ts";

function settingsFor(extra: Record<string, string> = {}): ResolvedSidecar {
  const r = resolveSidecar(
    { "dapr.io/enabled": "true", "dapr.io/app-id": "web", ...extra },
    undefined,
    builtInSidecarDefaults,
  );
  if (!r.ok) throw new Error(r.message);
  return r.sidecar;
}

/** The value following a flag in daprd's args. */
function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

const status = { version: "test", image: "img", settingsHash: "0123456789abcdef" };

describe("sidecar container", () => {
  it("runs daprd standalone on the mounted sidecar config", () => {
    const args = sidecarArgs(settingsFor({ "dapr.io/app-port": "8080" }));
    expect(args.slice(0, 3)).to.deep.equal(["/daprd", "--mode", "standalone"]);
    expect(flag(args, "--app-id")).to.equal("web");
    expect(flag(args, "--app-port")).to.equal("8080");
    expect(flag(args, "--app-protocol")).to.equal("http");
    expect(flag(args, "--resources-path")).to.equal(SIDECAR_RESOURCES_PATH);
    expect(flag(args, "--config")).to.equal(SIDECAR_CONFIG_FILE);
    // The volume root: the only directory whose watch survives the kubelet's ..data swap (issue 11).
    expect(SIDECAR_RESOURCES_PATH).to.equal(SIDECAR_CONFIG_MOUNT_PATH);
    expect(flag(args, "--dapr-public-port")).to.equal("3501");
  });

  it("passes the secure, restricted-PSS securityContext", () => {
    const c = sidecarContainer(settingsFor());
    expect(c.securityContext).to.deep.equal({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("is a native sidecar by default, with a startup probe on the outbound health endpoint", () => {
    const c = sidecarContainer(settingsFor());
    expect(c.restartPolicy).to.equal("Always");
    expect(c.startupProbe?.httpGet).to.deep.equal({ path: "/v1.0/healthz/outbound", port: 3501 });
    expect(c.startupProbe?.failureThreshold).to.equal(180);
    expect(c.readinessProbe?.httpGet).to.deep.equal({ path: "/v1.0/healthz", port: 3501 });
    expect(c.livenessProbe?.tcpSocket).to.deep.equal({ port: 3501 });
  });

  it("as a regular container it has no restartPolicy and no startup probe", () => {
    const c = sidecarContainer(settingsFor({ "dapr.io/enable-native-sidecar": "false" }));
    expect(c.restartPolicy).to.equal(undefined);
    expect(c.startupProbe).to.equal(undefined);
  });

  it("names its ports like Dapr and drops the metrics port when metrics are off", () => {
    expect(sidecarContainer(settingsFor()).ports).to.deep.equal([
      { name: "dapr-http", containerPort: 3500 },
      { name: "dapr-grpc", containerPort: 50001 },
      { name: "dapr-internal", containerPort: 50002 },
      { name: "dapr-metrics", containerPort: 9090 },
    ]);
    const off = settingsFor({ "dapr.io/enable-metrics": "false" });
    expect(sidecarContainer(off).ports?.map((p) => p.name)).to.not.include("dapr-metrics");
    // daprd serves metrics by default, so off has to be explicit.
    expect(sidecarArgs(off)).to.include("--enable-metrics=false");
  });

  it("passes enable-api-logging only when the annotation is set", () => {
    expect(sidecarArgs(settingsFor()).some((a) => a.startsWith("--enable-api-logging"))).to.equal(false);
    expect(sidecarArgs(settingsFor({ "dapr.io/enable-api-logging": "false" }))).to.include(
      "--enable-api-logging=false",
    );
  });

  it("gets NAMESPACE and POD_NAME from the downward API", () => {
    expect(sidecarContainer(settingsFor()).env?.slice(0, 2)).to.deep.equal([
      { name: "NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ]);
  });
});

describe("injectedPod", () => {
  const input = {
    metadata: { name: "web", labels: { app: "web" } },
    spec: {
      containers: [
        { name: "app", env: [{ name: "DAPR_GRPC_PORT", value: "1" }] },
        { name: "side", volumeMounts: [{ name: "x", mountPath: "/sock" }] },
      ],
      volumes: [{ name: "x", emptyDir: {} }],
    },
  };

  it("shares a frozen sidecar's container and volumes per trust bundle, as an unfrozen one renders them", () => {
    const frozen = deepFreeze(settingsFor({ "dapr.io/app-port": "8080" }));
    type Out = {
      spec: { volumes: unknown[]; initContainers: Array<{ env: Array<{ name: string; value?: string }> }> };
    };
    const once = injectedPod(input, frozen, status, "PEM-1") as Out;
    const first = injectedPod(input, frozen, status, "PEM-1") as Out;
    const again = injectedPod(input, frozen, status, "PEM-1") as Out;
    // The first pod of a sidecar gets its own; from the second on they share one, frozen.
    expect(once).to.deep.equal(first);
    expect(once.spec.initContainers[0]).to.not.equal(first.spec.initContainers[0]);
    const unfrozen = injectedPod(input, settingsFor({ "dapr.io/app-port": "8080" }), status, "PEM-1") as Out;
    expect(again).to.deep.equal(first);
    expect(unfrozen).to.deep.equal(first);
    expect(again.spec.initContainers[0]).to.equal(first.spec.initContainers[0]);
    expect(again.spec.volumes[1]).to.equal(first.spec.volumes[1]);
    expect(Object.isFrozen(first.spec.initContainers[0]?.env)).to.equal(true);
    expect(unfrozen.spec.initContainers[0]).to.not.equal(first.spec.initContainers[0]);
    // Another bundle (Sentry rotated its root): a container with the new anchors.
    injectedPod(input, frozen, status, "PEM-2");
    const rotated = injectedPod(input, frozen, status, "PEM-2") as Out;
    const anchors = (o: Out) =>
      o.spec.initContainers[0]?.env.find((e) => e.name === "DAPR_TRUST_ANCHORS")?.value;
    expect([anchors(first), anchors(rotated)]).to.deep.equal(["PEM-1", "PEM-2"]);
  });

  it("does not change its input", () => {
    const before = structuredClone(input);
    injectedPod(input, settingsFor({ "dapr.io/unix-domain-socket-path": "/sock" }), status);
    expect(input).to.deep.equal(before);
  });

  it("mounts the app's sidecar config Secret read-only", () => {
    const out = injectedPod(input, settingsFor(), status) as {
      spec: { volumes: unknown[]; initContainers: Array<{ volumeMounts: unknown[] }> };
    };
    expect(out.spec.volumes).to.deep.include({
      name: SIDECAR_CONFIG_VOLUME,
      secret: { secretName: "web-dapr-sidecar", items: SIDECAR_CONFIG_ITEMS.map((i) => ({ ...i })) },
    });
    expect(out.spec.initContainers[0]?.volumeMounts[0]).to.deep.equal({
      name: SIDECAR_CONFIG_VOLUME,
      mountPath: SIDECAR_CONFIG_MOUNT_PATH,
      readOnly: true,
    });
  });

  it("gives app containers DAPR_HTTP_PORT and DAPR_GRPC_PORT without overriding their own", () => {
    const out = injectedPod(input, settingsFor({ "dapr.io/grpc-port": "50100" }), status) as {
      spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> };
    };
    const [app, side] = out.spec.containers;
    expect(app?.env).to.deep.include({ name: "DAPR_HTTP_PORT", value: "3500" });
    expect(app?.env.filter((e) => e.name === "DAPR_GRPC_PORT")).to.deep.equal([
      { name: "DAPR_GRPC_PORT", value: "1" },
    ]);
    expect(side?.env).to.deep.include({ name: "DAPR_GRPC_PORT", value: "50100" });
  });

  it("shares the socket directory, skipping a container that already uses that path", () => {
    const out = injectedPod(input, settingsFor({ "dapr.io/unix-domain-socket-path": "/sock" }), status) as {
      spec: { containers: Array<{ volumeMounts?: unknown[] }>; volumes: unknown[] };
    };
    expect(out.spec.containers[0]?.volumeMounts).to.deep.equal([
      { name: "dapr-unix-domain-socket", mountPath: "/sock" },
    ]);
    expect(out.spec.containers[1]?.volumeMounts).to.deep.equal([{ name: "x", mountPath: "/sock" }]);
    expect(out.spec.volumes).to.deep.include({
      name: "dapr-unix-domain-socket",
      emptyDir: { medium: "Memory" },
    });
  });

  it("labels the pod and records the status annotation as JSON", () => {
    const out = injectedPod(input, settingsFor(), status) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    expect(out.metadata.labels).to.deep.equal({
      app: "web",
      "dapr.io/sidecar-injected": "true",
      "dapr.io/app-id": "web",
      "dapr.io/metrics-enabled": "true",
    });
    expect(JSON.parse(out.metadata.annotations[SIDECAR_STATUS_ANNOTATION] ?? "")).to.deep.equal(status);
  });

  it("puts daprd after the pod's own containers in the list it belongs to", () => {
    const withInit = { ...input, spec: { ...input.spec, initContainers: [{ name: "init" }] } };
    const native = injectedPod(withInit, settingsFor(), status) as {
      spec: { initContainers: Array<{ name: string }>; containers: Array<{ name: string }> };
    };
    expect(native.spec.initContainers.map((c) => c.name)).to.deep.equal(["init", "daprd"]);
    expect(native.spec.containers.map((c) => c.name)).to.deep.equal(["app", "side"]);
    const regular = injectedPod(
      withInit,
      settingsFor({ "dapr.io/enable-native-sidecar": "false" }),
      status,
    ) as {
      spec: { initContainers: Array<{ name: string }>; containers: Array<{ name: string; env?: unknown }> };
    };
    expect(regular.spec.initContainers.map((c) => c.name)).to.deep.equal(["init"]);
    expect(regular.spec.containers.map((c) => c.name)).to.deep.equal(["app", "side", "daprd"]);
    // daprd does not get the app's env vars.
    expect(regular.spec.containers[2]?.env).to.not.deep.include({ name: "DAPR_HTTP_PORT", value: "3500" });
  });
});
