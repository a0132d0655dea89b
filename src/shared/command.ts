// The shape of every `outrigger` subcommand: its flags, a pure `config(values)` that turns them
// into a validated Config or the list of problems (each naming its flag), and `run(config)`.
// cli.ts reads the flags once, for every command the same way; a problem stops the process at
// start. docs/ flag tables are generated from these (flag-docs.ts).
import type { ParseArgsOptionDescriptor } from "node:util";

/** A flag: parseArgs' descriptor plus the line shown by --help. */
export type Flag = ParseArgsOptionDescriptor & { description: string };

export type FlagValues = Record<string, string | boolean | undefined>;

export interface Command {
  summary: string;
  usage: string;
  options: Record<string, Flag>;
  run(values: FlagValues): Promise<number>;
}
