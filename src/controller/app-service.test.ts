import type { V1Service } from "@kubernetes/client-node";
import { expect } from "chai";
import {
  desiredAppService,
  serviceChange,
  serviceForUpdate,
  serviceNeedsUpdate,
  leftoverAppServices,
} from "./app-service.ts";

const app = {
  namespace: "shop",
  appId: "checkout",
  selector: { app: "checkout" },
  podAnnotations: { "dapr.io/enabled": "true", "dapr.io/app-id": "checkout" },
};

/** What the API server returns for a Service we created: defaults filled in. */
function asServerReturns(s: V1Service): V1Service {
  return {
    ...s,
    metadata: { ...s.metadata, uid: "u1", resourceVersion: "100", creationTimestamp: new Date() },
    spec: {
      ...s.spec,
      clusterIPs: ["None"],
      type: "ClusterIP",
      sessionAffinity: "None",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      internalTrafficPolicy: "Cluster",
      ports: s.spec?.ports?.map((p) => ({ ...p })),
    },
    status: { loadBalancer: {} },
  };
}

describe("desiredAppService", () => {
  it("is the headless <app-id>-dapr Service with Dapr's ports, our labels and Prometheus annotations", () => {
    expect(desiredAppService(app)).to.deep.equal({
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "checkout-dapr",
        namespace: "shop",
        labels: {
          "app.kubernetes.io/managed-by": "outrigger",
          "dapr.io/app-id": "checkout",
          "dapr.io/enabled": "true",
        },
        annotations: {
          "dapr.io/app-id": "checkout",
          "prometheus.io/probe": "true",
          "prometheus.io/scrape": "true",
          "prometheus.io/port": "9090",
          "prometheus.io/path": "/",
        },
      },
      spec: {
        clusterIP: "None",
        selector: { app: "checkout" },
        ports: [
          { name: "dapr-http", port: 80, targetPort: 3500, protocol: "TCP", appProtocol: "http" },
          { name: "dapr-grpc", port: 50001, targetPort: 50001, protocol: "TCP", appProtocol: "grpc" },
          { name: "dapr-internal", port: 50002, targetPort: 50002, protocol: "TCP", appProtocol: "grpc" },
          { name: "dapr-metrics", port: 9090, targetPort: 9090, protocol: "TCP", appProtocol: "http" },
        ],
      },
    });
  });

  it("follows the port annotations, and drops the Prometheus annotations when metrics are off", () => {
    const svc = desiredAppService({
      ...app,
      podAnnotations: {
        "dapr.io/grpc-port": "6001",
        "dapr.io/internal-grpc-port": "6002",
        "dapr.io/metrics-port": "9999",
        "dapr.io/enable-metrics": "false",
      },
    });
    expect(svc.spec?.ports?.map((p) => [p.name, p.port, p.targetPort])).to.deep.equal([
      ["dapr-http", 80, 3500],
      ["dapr-grpc", 6001, 6001],
      ["dapr-internal", 6002, 6002],
      ["dapr-metrics", 9999, 9999],
    ]);
    expect(svc.metadata?.annotations).to.deep.equal({ "dapr.io/app-id": "checkout" });
  });

  it("uses the defaults for values the injector would deny", () => {
    const svc = desiredAppService({ ...app, podAnnotations: { "dapr.io/grpc-port": "not-a-port" } });
    expect(svc.spec?.ports?.[1]?.port).to.equal(50001);
  });
});

describe("serviceNeedsUpdate and serviceForUpdate", () => {
  const desired = desiredAppService(app);

  it("needs nothing when the server's copy only adds defaults, other labels and annotations", () => {
    const existing = asServerReturns(desired);
    existing.metadata!.labels = { ...existing.metadata?.labels, team: "payments" };
    existing.metadata!.annotations = { ...existing.metadata?.annotations, "example.com/owner": "me" };
    expect(serviceNeedsUpdate(existing, desired)).to.equal(false);
    expect(serviceChange(existing, desired)).to.equal("none");
  });

  it("treats a numeric target port given as a string as the same", () => {
    const existing = asServerReturns(desired);
    existing.spec!.ports = existing.spec!.ports!.map((p) => ({ ...p, targetPort: String(p.targetPort) }));
    expect(serviceNeedsUpdate(existing, desired)).to.equal(false);
  });

  it("needs an update when the selector, a port, a label or our annotations differ", () => {
    const changedSelector = desiredAppService({ ...app, selector: { "dapr.io/app-id": "checkout" } });
    expect(serviceNeedsUpdate(asServerReturns(desired), changedSelector)).to.equal(true);
    const changedPort = desiredAppService({ ...app, podAnnotations: { "dapr.io/grpc-port": "7000" } });
    expect(serviceNeedsUpdate(asServerReturns(desired), changedPort)).to.equal(true);
    const noLabel = asServerReturns(desired);
    const { "dapr.io/enabled": _enabled, ...otherLabels } = noLabel.metadata?.labels ?? {};
    noLabel.metadata = { ...noLabel.metadata, labels: otherLabels };
    expect(serviceNeedsUpdate(noLabel, desired)).to.equal(true);
    const metricsOff = desiredAppService({ ...app, podAnnotations: { "dapr.io/enable-metrics": "false" } });
    expect(serviceNeedsUpdate(asServerReturns(desired), metricsOff)).to.equal(true);
  });

  it("updates our fields, removes Prometheus annotations we no longer want, and keeps the rest", () => {
    const existing = asServerReturns(desired);
    existing.metadata!.annotations = { ...existing.metadata?.annotations, "example.com/owner": "me" };
    const metricsOff = desiredAppService({ ...app, podAnnotations: { "dapr.io/enable-metrics": "false" } });
    const update = serviceForUpdate(existing, metricsOff);
    expect(update.metadata?.resourceVersion).to.equal("100");
    expect(update.spec?.clusterIPs).to.deep.equal(["None"]);
    expect(update.metadata?.annotations).to.deep.equal({
      "example.com/owner": "me",
      "dapr.io/app-id": "checkout",
    });
    expect(serviceNeedsUpdate(update, metricsOff)).to.equal(false);
  });

  it("asks for a re-create when the Service is not headless, which no update can fix", () => {
    const existing = asServerReturns(desired);
    existing.spec!.clusterIP = "10.0.0.12";
    expect(serviceChange(existing, desired)).to.equal("recreate");
    expect(serviceNeedsUpdate(existing, desired)).to.equal(false);
  });
});

describe("leftoverAppServices", () => {
  it("lists our Services whose app is gone, and never a Service that is not ours", () => {
    const ours = desiredAppService(app);
    const gone = desiredAppService({ ...app, appId: "gone" });
    const daprs: V1Service = {
      metadata: { name: "legacy-dapr", namespace: "shop", labels: { "dapr.io/enabled": "true" } },
    };
    const stale = leftoverAppServices([ours, gone, daprs], [app]);
    expect(stale.map((s) => s.metadata?.name)).to.deep.equal(["gone-dapr"]);
  });
});
