// Writes docs/annotations.md from the injector's annotation table.
// Run: node hack/gen-annotation-docs.ts (Node 24, from the repository root).
import { writeFileSync } from "node:fs";
import { annotationReferenceMarkdown } from "../src/injector/annotation-docs.ts";
import { builtInSidecarDefaults } from "../src/sidecar/defaults.ts";

const target = new URL("../docs/annotations.md", import.meta.url);
writeFileSync(target, annotationReferenceMarkdown(builtInSidecarDefaults));
console.log(`wrote ${target.pathname}`);
