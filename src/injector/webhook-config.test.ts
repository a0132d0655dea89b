import { expect } from "chai";
import { WEBHOOK_NAME, desiredWebhookConfiguration, withCaBundle } from "./webhook-config.ts";

const registration = {
  configName: "outrigger-injector",
  url: "https://127.0.0.1:8443/mutate",
  namespace: "outrigger-system",
  timeoutSeconds: 5,
};

describe("desiredWebhookConfiguration", function () {
  it("registers pod CREATE for the local URL with the CA bundle", function () {
    const c = desiredWebhookConfiguration(registration, "PEM");
    expect(c.metadata).to.deep.equal({
      name: "outrigger-injector",
      labels: { "app.kubernetes.io/managed-by": "outrigger" },
    });
    const [w] = c.webhooks!;
    expect(w).to.deep.include({
      name: WEBHOOK_NAME,
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: "Fail",
      reinvocationPolicy: "IfNeeded",
      timeoutSeconds: 5,
    });
    expect(w!.clientConfig).to.deep.equal({
      url: "https://127.0.0.1:8443/mutate",
      caBundle: Buffer.from("PEM").toString("base64"),
    });
    expect(w!.rules).to.deep.equal([
      {
        apiGroups: [""],
        apiVersions: ["v1"],
        resources: ["pods"],
        operations: ["CREATE"],
        scope: "Namespaced",
      },
    ]);
  });

  it("never sends its own namespace or kube-system, and narrows to labelled namespaces on request", function () {
    const plain = desiredWebhookConfiguration(registration, undefined).webhooks![0]!;
    expect(plain.namespaceSelector).to.deep.equal({
      matchExpressions: [
        {
          key: "kubernetes.io/metadata.name",
          operator: "NotIn",
          values: ["outrigger-system", "kube-system"],
        },
      ],
    });
    expect(plain.clientConfig).to.not.have.property("caBundle");
    const scoped = desiredWebhookConfiguration({ ...registration, namespaceLabels: { team: "a" } }, "P");
    expect(scoped.webhooks![0]!.namespaceSelector!.matchLabels).to.deep.equal({ team: "a" });
  });
});

describe("withCaBundle", function () {
  const chartMade = {
    metadata: { name: "outrigger-injector", resourceVersion: "7" },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        clientConfig: {
          service: { name: "outrigger-injector", namespace: "outrigger-system", path: "/mutate" },
        },
      },
    ],
  };

  it("sets caBundle on every webhook and keeps the rest, resourceVersion included", function () {
    const updated = withCaBundle(chartMade, "PEM")!;
    expect(updated.metadata?.resourceVersion).to.equal("7");
    expect(updated.webhooks![0]!.clientConfig).to.deep.equal({
      ...chartMade.webhooks[0]!.clientConfig,
      caBundle: Buffer.from("PEM").toString("base64"),
    });
  });

  it("returns undefined when the bundle is already there", function () {
    expect(withCaBundle(withCaBundle(chartMade, "PEM")!, "PEM")).to.equal(undefined);
    expect(withCaBundle(withCaBundle(chartMade, "PEM")!, "OTHER")).to.not.equal(undefined);
  });
});
