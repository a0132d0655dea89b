import { expect } from "chai";
import { parseManifests } from "../../src/apis/crd-schema.ts";
import { TRY_IT_MANIFESTS, manifestsOfTryItBlock, tryItBlock } from "./try-it.ts";

describe("npm start's try-it block", () => {
  it("starts with the export line and gives back the manifests it shows", () => {
    const block = tryItBlock("/tmp/kc/kubeconfig");
    expect(block).to.include("\n  export KUBECONFIG=/tmp/kc/kubeconfig\n");
    expect(manifestsOfTryItBlock(block)).to.equal(TRY_IT_MANIFESTS);
  });

  it("shows a Component and a Deployment annotated for a sidecar", () => {
    const docs = parseManifests(TRY_IT_MANIFESTS) as Array<{ kind: string; spec: Record<string, unknown> }>;
    expect(docs.map((d) => d.kind)).to.deep.equal(["Component", "Deployment"]);
    const template = docs[1]?.spec.template as { metadata: { annotations: Record<string, string> } };
    expect(template.metadata.annotations).to.include({
      "dapr.io/enabled": "true",
      "dapr.io/app-id": "hello",
    });
  });

  it("says so when a process was not ready in time", () => {
    expect(tryItBlock("k", false)).to.include("did not report ready");
    expect(manifestsOfTryItBlock("no block here")).to.equal(undefined);
  });
});
