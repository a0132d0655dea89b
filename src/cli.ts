#!/usr/bin/env node
// The one `outrigger` binary: each subcommand owns its flags and its help text.
import { parseArgs } from "node:util";
import { isProblems, type Command } from "./shared/command.ts";
import { outriggerVersion } from "./shared/version.ts";

const versionCommand: Command<null> = {
  summary: "Print the Outrigger version",
  usage: "outrigger version",
  options: {},
  config: () => null,
  run: async () => {
    console.log(outriggerVersion);
    return 0;
  },
};

/** Every subcommand, loaded only when run. */
export const commands: Record<string, () => Promise<Command>> = {
  check: async () => (await import("./tools/check/command.ts")).checkCommand,
  controller: async () => (await import("./controller/command.ts")).controllerCommand,
  injector: async () => (await import("./injector/command.ts")).injectorCommand,
  inject: async () => (await import("./cli/inject-command.ts")).injectCommand,
  explain: async () => (await import("./cli/explain-command.ts")).explainCommand,
  sentry: async () => (await import("./sentry/command.ts")).sentryCommand,
  version: async () => versionCommand,
};

/** Every command, loaded (for the flag reference and its drift test). */
export async function loadCommands(): Promise<Array<[string, Command]>> {
  return Promise.all(
    Object.entries(commands).map(async ([name, load]) => [name, await load()] as [string, Command]),
  );
}

function topLevelHelp(): string {
  return [
    "outrigger: a Kubernetes control plane for Dapr sidecars",
    "",
    "Usage: outrigger <command> [flags]",
    "",
    "Commands:",
    "  check        Check a cluster before an install (--pre), or an installation",
    "  controller   Reconcile Components and Configurations into per-app sidecar configs",
    "  injector     Serve the mutating admission webhook that injects the daprd sidecar",
    "  inject       Write workload manifests back with the daprd sidecar injected, offline",
    "  explain      Explain why a pod was or was not injected, or what an app receives and why",
    "  sentry       Serve the CA that signs the sidecars' SVIDs (Dapr Sentry's API)",
    "  version      Print the Outrigger version",
    "",
    "Run 'outrigger <command> --help' for the flags of a command.",
  ].join("\n");
}

function commandHelp(name: string, cmd: Command): string {
  const lines = [`${cmd.summary}`, "", `Usage: ${cmd.usage}`];
  const flags = Object.entries(cmd.options);
  if (flags.length > 0) {
    lines.push("", "Flags:");
    for (const [flag, opt] of flags) {
      const doc = opt.description;
      const dflt = opt.default === undefined ? "" : ` (default: ${String(opt.default)})`;
      const short = opt.short ? `-${opt.short}, ` : "";
      const name = `  ${short}--${flag}${opt.type === "string" ? " <value>" : ""}`;
      lines.push(`${name.padEnd(38)} ${doc}${dflt}`);
    }
  }
  lines.push(`${"  --help".padEnd(38)} Show help for '${name}'`);
  return lines.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(topLevelHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") return main(["version"]);
  const load = commands[name];
  if (load === undefined) {
    console.error(`outrigger: unknown command "${name}"\n\n${topLevelHelp()}`);
    return 2;
  }
  const cmd = await load();
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: cmd.positionals === true,
    }) as { values: Record<string, string | boolean | undefined>; positionals: string[] });
  } catch (err) {
    console.error(`outrigger ${name}: ${(err as Error).message}\n\n${commandHelp(name, cmd)}`);
    return 2;
  }
  if (values.help === true) {
    console.log(commandHelp(name, cmd));
    return 0;
  }
  // Every problem with the flags stops the process here, before it touches anything.
  const config = cmd.config(values, process.env, positionals);
  if (isProblems(config)) {
    for (const p of config.problems) console.error(`outrigger ${name}: ${p}`);
    return 2;
  }
  return cmd.run(config);
}

// Run only when executed, not when imported by tests.
if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
