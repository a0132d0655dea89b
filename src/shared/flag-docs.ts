// docs/flags.md, generated from the commands' own flag tables, so the reference cannot drift
// from what the binary accepts (a test compares the committed file with this output).
import type { Command } from "./command.ts";

const cell = (s: string) => s.replaceAll("|", "\\|");

export function flagReferenceMarkdown(commands: ReadonlyArray<[string, Command]>): string {
  const out = [
    "<!-- Generated from the commands' flag tables by `node hack/gen-flag-docs.ts`. Do not edit. -->",
    "",
    "# Flags",
    "",
    "Every subcommand reads its flags the same way (`src/shared/command.ts`): all problems are",
    "reported at once, each naming its flag, and the process exits 2 before it starts anything.",
    "Durations are written like Go's: `30s`, `90m`, `8760h`, `1h30m`. `outrigger <command> --help`",
    "prints the same lists.",
  ];
  for (const [name, cmd] of commands) {
    const flags = Object.entries(cmd.options);
    if (flags.length === 0) continue;
    out.push(
      "",
      `## outrigger ${name}`,
      "",
      `${cmd.summary}.`,
      "",
      "| Flag | Default | Meaning |",
      "| --- | --- | --- |",
    );
    for (const [flag, opt] of flags) {
      const dflt = opt.default === undefined || opt.default === "" ? "" : `\`${cell(String(opt.default))}\``;
      const short = opt.short ? `\`-${opt.short}\`, ` : "";
      out.push(`| ${short}\`--${flag}\` | ${dflt} | ${cell(opt.description)} |`);
    }
  }
  return `${out.join("\n")}\n`;
}
