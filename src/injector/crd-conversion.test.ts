import { expect } from "chai";
import {
  publishConversionCaBundle,
  withConversionCaBundle,
  type ConversionCrd,
  type CrdClient,
} from "./crd-conversion.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const crd = (clientConfig: Record<string, unknown>, strategy = "Webhook"): ConversionCrd => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "subscriptions.dapr.io", resourceVersion: "7" },
  spec: {
    group: "dapr.io",
    conversion: { strategy, webhook: { conversionReviewVersions: ["v1"], clientConfig } },
  },
});
const service = { namespace: "outrigger-system", name: "outrigger-injector", path: "/convert", port: 443 };

/** A fake API holding one CRD; `conflicts` replaces fail with 409 first. */
function fakeApi(initial: ConversionCrd | undefined, conflicts = 0) {
  let stored = initial;
  const writes: ConversionCrd[] = [];
  const api: CrdClient = {
    read: async () => {
      if (!stored) throw Object.assign(new Error("not found"), { statusCode: 404, code: 404 });
      return structuredClone(stored);
    },
    replace: async (_, body) => {
      if (conflicts-- > 0) throw Object.assign(new Error("conflict"), { statusCode: 409, code: 409 });
      writes.push(body);
      stored = body;
      return body;
    },
  };
  return { api, writes, get: () => stored };
}

describe("the Subscription CRD's conversion caBundle", () => {
  it("is set next to the chart's service reference, which stays", () => {
    const out = withConversionCaBundle(crd({ service }), PEM);
    expect(out?.spec?.conversion?.webhook?.clientConfig).to.deep.equal({ service, caBundle: b64(PEM) });
    expect(out?.spec?.conversion?.webhook?.conversionReviewVersions).to.deep.equal(["v1"]);
    expect(out?.metadata?.resourceVersion, "a replace carries what was read").to.equal("7");
  });

  it("is left alone when already current, or when the CRD converts without a webhook", () => {
    expect(withConversionCaBundle(crd({ service, caBundle: b64(PEM) }), PEM)).to.equal(undefined);
    expect(withConversionCaBundle(crd({}, "None"), PEM)).to.equal(undefined);
  });

  it("keeps a url reference as it is (a local run's, set by whoever runs it)", () => {
    const url = "https://127.0.0.1:8443/convert";
    const out = withConversionCaBundle(crd({ url }), PEM);
    expect(out?.spec?.conversion?.webhook?.clientConfig).to.deep.equal({ url, caBundle: b64(PEM) });
  });

  it("is published once, read again after a conflict, and a missing CRD is an outcome", async () => {
    const f = fakeApi(crd({ service }), 1);
    expect(await publishConversionCaBundle(f.api, "subscriptions.dapr.io", PEM)).to.equal("updated");
    expect(f.writes).to.have.length(1);
    expect(await publishConversionCaBundle(f.api, "subscriptions.dapr.io", PEM)).to.equal("unchanged");
    expect(f.writes).to.have.length(1);
    expect(await publishConversionCaBundle(fakeApi(undefined).api, "subscriptions.dapr.io", PEM)).to.equal(
      "not-found",
    );
    expect(await publishConversionCaBundle(fakeApi(crd({}, "None")).api, "x", PEM)).to.equal("no-webhook");
  });
});
