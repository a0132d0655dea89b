// Logger construction. Loggers are created here and passed down; no module keeps one globally.
// JSON lines for machines, or one readable line per record for a person at a terminal
// (--log-format; by default pretty exactly when stdout is a terminal). The pretty form is a
// small formatter over pino's own JSON line rather than pino-pretty: the format below is all
// we need, and it keeps the worker thread and the dependencies of a transport out of the processes.
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { stringFlag, type Flag } from "./command.ts";

export type { Logger };

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const logFormatFlag: Flag = stringFlag(
  "Log format: json, or pretty (one readable line per record) (default: pretty when stdout is a terminal, else json)",
);

/** The flag's value, or the default for where stdout goes; undefined when the flag's value is not a format. */
export function logFormatOf(flag: string | undefined, stdoutIsTTY: boolean): LogFormat | undefined {
  if (flag === undefined || flag === "") return stdoutIsTTY ? "pretty" : "json";
  return (LOG_FORMATS as readonly string[]).includes(flag) ? (flag as LogFormat) : undefined;
}

/** The --log-format flag's value, checked; a problem names the flag. Undefined: not given. */
export function logFormatFlagValue(flag: string | undefined, problems: string[]): LogFormat | undefined {
  if (flag !== undefined && logFormatOf(flag, false) === undefined)
    problems.push(`--log-format ${JSON.stringify(flag)}: want ${LOG_FORMATS.join(", ")}`);
  return flag ? (flag as LogFormat) : undefined;
}

/** A process's logger: pretty at a terminal unless --log-format says otherwise. */
export function processLogger(component: string, level: string, format: LogFormat | undefined): Logger {
  return createLogger(component, { level, format: logFormatOf(format, process.stdout.isTTY === true) });
}

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go (default stdout); with `color`, pretty lines color their level. */
  out?: NodeJS.WritableStream;
  color?: boolean;
}

export function createLogger(component: string, options: LoggerOptions | string = {}): Logger {
  const o = typeof options === "string" ? { level: options } : options;
  const level = o.level ?? process.env.LOG_LEVEL ?? "info";
  const format = o.format ?? "json";
  const out = o.out ?? process.stdout;
  if (format === "json")
    return o.out ? pino({ level, base: { component } }, o.out) : pino({ level, base: { component } });
  const color = o.color ?? (out === process.stdout && process.stdout.isTTY === true);
  const pretty = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n"))
        if (line.trim() !== "") out.write(`${prettyLine(line, color)}\n`);
      done();
    },
  });
  return pino({ level, base: { component } }, pretty);
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: "TRACE", color: "\x1b[90m" },
  20: { name: "DEBUG", color: "\x1b[36m" },
  30: { name: "INFO", color: "\x1b[32m" },
  40: { name: "WARN", color: "\x1b[33m" },
  50: { name: "ERROR", color: "\x1b[31m" },
  60: { name: "FATAL", color: "\x1b[35m" },
};
const RESET = "\x1b[0m";
const HIDDEN = new Set(["level", "time", "pid", "hostname", "component", "msg", "err"]);

/**
 * One pino JSON record as `12:04:05.123 INFO  controller  message  key=value ...`, with an
 * error's stack on the lines below. A line that is not a record is returned as it is.
 */
export function prettyLine(json: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  if (typeof rec !== "object" || rec === null) return json;
  const time = typeof rec.time === "number" ? new Date(rec.time).toISOString().slice(11, 23) : "";
  const lvl = LEVELS[Number(rec.level)] ?? { name: String(rec.level ?? ""), color: "" };
  const levelText = lvl.name.padEnd(5);
  const parts = [
    time,
    color ? `${lvl.color}${levelText}${RESET}` : levelText,
    typeof rec.component === "string" ? rec.component : "",
    typeof rec.msg === "string" ? rec.msg : "",
  ].filter((p) => p !== "");
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    parts.push(`${k}=${typeof v === "string" && !/[\s"=]/.test(v) && v !== "" ? v : JSON.stringify(v)}`);
  }
  let out = parts.join("  ");
  const err = rec.err as { message?: unknown; stack?: unknown } | undefined;
  if (err && typeof err === "object") {
    out += `  err=${JSON.stringify(err.message ?? "")}`;
    if (typeof err.stack === "string") out += `\n    ${err.stack.split("\n").join("\n    ")}`;
  }
  return out;
}
