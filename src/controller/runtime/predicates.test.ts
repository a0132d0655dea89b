import { expect } from "chai";
import { generationOrMetadataChanged, readFieldsChanged } from "./predicates.ts";

const component = (generation: number | undefined, extra: Record<string, unknown> = {}) => ({
  apiVersion: "dapr.io/v1alpha1",
  kind: "Component",
  metadata: { name: "c", namespace: "ns", resourceVersion: String(Math.random()), generation, ...extra },
  spec: { type: "state.redis" },
});

describe("predicates", () => {
  describe("generationOrMetadataChanged", () => {
    it("drops a status-only update (same generation, labels and annotations)", () => {
      const a = component(3, { labels: { x: "1" } });
      const b = { ...component(3, { labels: { x: "1" } }), status: { conditions: [] } };
      expect(generationOrMetadataChanged(a, b)).to.equal(false);
    });

    it("passes a spec change, a label or annotation change and a deletion", () => {
      expect(generationOrMetadataChanged(component(3), component(4))).to.equal(true);
      expect(generationOrMetadataChanged(component(3), component(3, { labels: { x: "1" } }))).to.equal(true);
      expect(generationOrMetadataChanged(component(3), component(3, { annotations: { a: "b" } }))).to.equal(
        true,
      );
      expect(
        generationOrMetadataChanged(
          component(3),
          component(3, { deletionTimestamp: "2026-01-01T00:00:00Z" }),
        ),
      ).to.equal(true);
    });

    it("passes a resync (the same object) and objects without a generation", () => {
      const a = component(3);
      expect(generationOrMetadataChanged(a, a)).to.equal(true);
      expect(generationOrMetadataChanged(component(undefined), component(undefined))).to.equal(true);
    });
  });

  describe("readFieldsChanged", () => {
    it("ignores resourceVersion, generation and managedFields only", () => {
      const a = component(1, { managedFields: [{ manager: "a" }] });
      const b = component(2, { managedFields: [{ manager: "b" }] });
      expect(readFieldsChanged(a, b)).to.equal(false);
      const changed = { ...b, spec: { type: "state.postgresql" } };
      expect(readFieldsChanged(a, changed)).to.equal(true);
      expect(readFieldsChanged(a, component(1, { labels: { x: "1" } }))).to.equal(true);
      expect(readFieldsChanged(a, a)).to.equal(true);
    });
  });
});
