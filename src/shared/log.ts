// Logger construction. Loggers are created here and passed down; no module keeps one globally.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { component } });
}
