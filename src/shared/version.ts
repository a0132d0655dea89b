// The Outrigger version, read from package.json so there is one place to change it.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};
export const outriggerVersion: string = pkg.version;
