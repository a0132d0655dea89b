import { expect } from "chai";
import { readFileSync } from "node:fs";
import { loadCommands } from "./cli.ts";
import { flagReferenceMarkdown } from "./shared/flag-docs.ts";

describe("docs/flags.md", () => {
  it("is up to date with the commands' flag tables (regenerate: node hack/gen-flag-docs.ts)", async () => {
    const committed = readFileSync(new URL("../docs/flags.md", import.meta.url), "utf8");
    expect(committed).to.equal(flagReferenceMarkdown(await loadCommands()));
  });

  it("has a row for every flag of every command", async () => {
    const generated = flagReferenceMarkdown(await loadCommands());
    for (const [name, cmd] of await loadCommands()) {
      if (Object.keys(cmd.options).length > 0) expect(generated).to.contain(`## outrigger ${name}`);
      for (const flag of Object.keys(cmd.options))
        expect(generated).to.match(new RegExp(`^\\| (\`-\\w\`, )?\`--${flag}\` \\|`, "m"));
    }
  });
});
