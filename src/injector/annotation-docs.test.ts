import { expect } from "chai";
import { readFileSync } from "node:fs";
import { annotationReferenceMarkdown } from "./annotation-docs.ts";
import { annotations, ignoredAnnotations } from "../sidecar/annotations.ts";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";

describe("docs/annotations.md", () => {
  const generated = annotationReferenceMarkdown(builtInSidecarDefaults);

  it("is up to date with the annotation table (regenerate: node hack/gen-annotation-docs.ts)", () => {
    const committed = readFileSync(new URL("../../docs/annotations.md", import.meta.url), "utf8");
    expect(committed).to.equal(generated);
  });

  it("has one row per annotation, deprecated or ignored key", () => {
    for (const { key } of Object.values(annotations)) expect(generated).to.contain(`| \`${key}\` |`);
    for (const key of Object.keys(ignoredAnnotations)) expect(generated).to.contain(`| \`${key}\` |`);
  });

  it("shows settings-backed defaults from the settings it is given", () => {
    const custom = annotationReferenceMarkdown({
      ...builtInSidecarDefaults,
      sidecarImage: "example/daprd:9",
    });
    expect(custom).to.contain("injector setting (`example/daprd:9`)");
    expect(generated).to.contain(`injector setting (\`${builtInSidecarDefaults.sidecarImage}\`)`);
  });
});
