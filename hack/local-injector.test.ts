import { readFileSync } from "node:fs";
import { expect } from "chai";
import { load } from "js-yaml";
import { SUBSCRIPTION_CRD, conversionClientConfigPatch, crdConversionService } from "./local-injector.ts";

const crd = load(readFileSync(new URL(`../crds/${SUBSCRIPTION_CRD}.yaml`, import.meta.url), "utf8"));

describe("the local conversion webhook patches (npm start)", () => {
  it("point the Subscription CRD at the local injector's /convert, removing the Service", () => {
    expect(JSON.parse(conversionClientConfigPatch({ port: 8443 }))).to.deep.equal({
      spec: {
        conversion: { webhook: { clientConfig: { service: null, url: "https://127.0.0.1:8443/convert" } } },
      },
    });
  });

  it("put back the Service crds/ names, removing the url", () => {
    const service = crdConversionService(crd);
    expect(service).to.include({ name: "outrigger-injector", path: "/convert" });
    expect(JSON.parse(conversionClientConfigPatch({ service }))).to.deep.equal({
      spec: { conversion: { webhook: { clientConfig: { url: null, service } } } },
    });
  });

  it("refuse a CRD without a conversion webhook service, naming what is missing", () => {
    expect(() => crdConversionService({ spec: { conversion: { strategy: "None" } } })).to.throw(
      /no conversion webhook service/,
    );
  });
});
