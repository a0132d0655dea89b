// Writes docs/flags.md from the commands' flag tables.
// Run: node hack/gen-flag-docs.ts (Node 24, from the repository root).
import { writeFileSync } from "node:fs";
import { loadCommands } from "../src/cli.ts";
import { flagReferenceMarkdown } from "../src/shared/flag-docs.ts";

const target = new URL("../docs/flags.md", import.meta.url);
writeFileSync(target, flagReferenceMarkdown(await loadCommands()));
console.log(`wrote ${target.pathname}`);
