import { expect } from "chai";
import { answerProblem, splitTemplate } from "./load.ts";
import { benchReviewTemplate } from "./injector.ts";

const review = (response: Record<string, unknown>) =>
  JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response });

describe("bench load generator", () => {
  it("splits the review around its uid", () => {
    const [head, tail] = splitTemplate(benchReviewTemplate());
    const body = JSON.parse(head + JSON.stringify("abc") + tail) as {
      request: { uid: string; object: unknown };
    };
    expect(body.request.uid).to.equal("abc");
    expect(body.request.object).to.have.nested.property("metadata.annotations.dapr\\.io/enabled", "true");
    expect(() => splitTemplate('{"uid":"x"}')).to.throw(/exactly once/);
  });

  it("accepts only correct admission answers", () => {
    expect(answerProblem(review({ uid: "u", allowed: true }), "u", "allowed")).to.equal(undefined);
    expect(
      answerProblem(review({ uid: "u", allowed: true, patchType: "JSONPatch", patch: "W10=" }), "u", "patch"),
    ).to.equal(undefined);
    expect(answerProblem(review({ uid: "u", allowed: true }), "u", "patch")).to.match(/not injected/);
    expect(answerProblem(review({ uid: "v", allowed: true }), "u", "allowed")).to.match(/uid v/);
    expect(
      answerProblem(review({ uid: "u", allowed: false, status: { code: 400 } }), "u", "allowed"),
    ).to.match(/not allowed/);
    expect(answerProblem("<html>", "u", "allowed")).to.match(/not JSON/);
    expect(answerProblem('{"kind":"Status"}', "u", "allowed")).to.match(/not an admission/);
  });
});
