// The shape of every `outrigger` subcommand: its flag table, a pure `config(values, env)` that
// turns the flags into a validated Config or every problem at once (each naming its flag), and
// `run(config)`. cli.ts parses the flags the same way for every command and refuses to start on
// any problem. docs/ flag tables are generated from the tables (flag-docs.ts).
import type { ParseArgsOptionDescriptor } from "node:util";
import { parseDuration } from "./cert-renewal.ts";
import { parseAddress } from "./ops-server.ts";

/** A flag: parseArgs' descriptor plus the line shown by --help. */
export type Flag = ParseArgsOptionDescriptor & { description: string };

export type FlagValues = Record<string, string | boolean | undefined>;

/** What a config function returns when the flags are wrong: one message per problem. */
export interface Problems {
  problems: string[];
}

export interface Command<C = unknown> {
  summary: string;
  usage: string;
  options: Record<string, Flag>;
  /** Takes arguments besides flags (`explain pod/web`); they are passed to `config`. */
  positionals?: boolean;
  /** Flags to config; pure but for `env`. */
  config(values: FlagValues, env: NodeJS.ProcessEnv, positionals?: string[]): C | Problems;
  run(config: C): Promise<number>;
}

export function isProblems(c: unknown): c is Problems {
  return typeof c === "object" && c !== null && "problems" in c;
}

/** A string flag, with its default when it has one. */
export function stringFlag(description: string, dflt?: string): Flag {
  return dflt === undefined
    ? { type: "string", description }
    : { type: "string", default: dflt, description };
}

/** The log levels pino takes; the processes' own --log-level. */
export const PROCESS_LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/**
 * The one way to read flag values: by name, falling back to the flag table's default, with every
 * problem pushed onto `problems` as `--flag "value": what is wanted`.
 */
export function flagReader(options: Record<string, Flag>, values: FlagValues, problems: string[]) {
  const get = (k: string): string | undefined => {
    const v = values[k];
    return typeof v === "string" ? v : undefined;
  };
  const need = (k: string): string => get(k) ?? (options[k]?.default as string | undefined) ?? "";
  return {
    get,
    need,
    /** An integer from min to max; undefined when the flag and its default are empty. */
    integer(k: string, min: number, max: number): number | undefined {
      const raw = get(k) ?? (options[k]?.default as string | undefined);
      if (raw === undefined || raw === "") return undefined;
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < min || n > max) {
        problems.push(`--${k} ${JSON.stringify(raw)}: want an integer from ${min} to ${max}`);
        return undefined;
      }
      return n;
    },
    /** A duration of at least `min` ms; `examples` show the unit in the message. */
    duration(k: string, min: number, examples: string): number {
      const ms = parseDuration(need(k));
      if (ms === undefined || ms < min) {
        problems.push(
          `--${k} ${JSON.stringify(need(k))}: want a duration of at least ${min / 1000}s, e.g. ${examples}`,
        );
        return min;
      }
      return ms;
    },
    /** A listen address, host:port. */
    address(k: string): { host: string; port: number } {
      try {
        return parseAddress(need(k));
      } catch (err) {
        problems.push(`--${k}: ${(err as Error).message}`);
        return { host: "0.0.0.0", port: 0 };
      }
    },
    /** One of `values`; `raw` overrides what the flag holds (for env fallbacks). */
    oneOf<T extends string>(k: string, allowed: readonly T[], raw = need(k)): T {
      if (!allowed.includes(raw as T))
        problems.push(`--${k} ${JSON.stringify(raw)}: want ${allowed.join(", ")}`);
      return raw as T;
    },
  };
}
