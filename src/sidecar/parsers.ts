// Strict parsers of annotation and flag values. Each returns the problem as a value; the
// annotation table (annotations.ts) and the flag readers use them, and the value lists here are
// the only spelling of each closed set.

import { isIPv4, isIPv6 } from "node:net";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface Parser<T> {
  /** Short human description of the accepted syntax, for the docs. */
  syntax: string;
  parse(raw: string): Parsed<T>;
}

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

// ---------------------------------------------------------------------------------------------
// Parsers. Each returns the problem as the tail of a message: `<key>: "<raw>" <problem>`.

const TRUE_WORDS = new Set(["true", "t", "yes", "y", "on", "1"]);
const FALSE_WORDS = new Set(["false", "f", "no", "n", "off", "0"]);

/** true/false in any case; Dapr's yes/no/on/off/1/0 synonyms are kept so existing manifests work. */
export const boolean: Parser<boolean> = {
  syntax: "`true` or `false`",
  parse(raw) {
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return ok(true);
    if (FALSE_WORDS.has(word)) return ok(false);
    return bad("is not a boolean (true or false)");
  },
};

const DIGITS = /^[0-9]+$/;
const INT32_MAX = 2147483647;

export const port: Parser<number> = {
  syntax: "port number (1-65535)",
  parse(raw) {
    const s = raw.trim();
    const n = DIGITS.test(s) && s.length <= 5 ? Number(s) : NaN;
    return n >= 1 && n <= 65535 ? ok(n) : bad("is not a port number (1-65535)");
  },
};

function integerAtLeast(min: number, syntax: string, problem: string): Parser<number> {
  return {
    syntax,
    parse(raw) {
      const s = raw.trim();
      const n = DIGITS.test(s) && s.length <= 10 ? Number(s) : NaN;
      return n >= min && n <= INT32_MAX ? ok(n) : bad(problem);
    },
  };
}

export const positiveInt = integerAtLeast(1, "integer ≥ 1", "is not a positive integer");
export const nonNegativeInt = integerAtLeast(0, "integer ≥ 0", "is not a non-negative integer");

// Go's time.ParseDuration syntax, which daprd uses for its duration flags.
const GO_DURATION =
  /^(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*)$/;

export const duration: Parser<string> = {
  syntax: "Go duration (`500ms`, `5s`, `1m30s`)",
  parse(raw) {
    const s = raw.trim();
    return GO_DURATION.test(s) ? ok(s) : bad("is not a duration (e.g. 500ms, 5s, 1m30s)");
  },
};

// Kubernetes resource.Quantity, non-negative (a negative request or body size means nothing here).
const QUANTITY = /^(?<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
const BINARY_SUFFIX: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The numeric value of a quantity that `quantity` accepted; only used to compare requests with limits. */
export function quantityValue(q: string): number {
  const m = QUANTITY.exec(q);
  if (!m?.groups) return NaN;
  const num = Number(m.groups.num);
  const suffix = m.groups.suffix ?? "";
  if (suffix in BINARY_SUFFIX) return num * (BINARY_SUFFIX[suffix] ?? NaN);
  if (suffix in DECIMAL_SUFFIX) return num * (DECIMAL_SUFFIX[suffix] ?? NaN);
  return num * 10 ** Number(suffix.slice(1));
}

export const quantity: Parser<string> = {
  syntax: "Kubernetes quantity (`100m`, `0.5`, `256Mi`, `1G`)",
  parse(raw) {
    const s = raw.trim();
    return QUANTITY.test(s) ? ok(s) : bad("is not a Kubernetes quantity (e.g. 100m, 256Mi)");
  },
};

export function oneOf<const T extends string>(values: readonly T[]): Parser<T> {
  const byLower = new Map(values.map((v) => [v.toLowerCase(), v]));
  return {
    syntax: values.map((v) => `\`${v}\``).join(", "),
    parse(raw) {
      const v = byLower.get(raw.trim().toLowerCase());
      return v === undefined ? bad(`is not one of: ${values.join(", ")}`) : ok(v);
    },
  };
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** The longest app-id whose Service `<app-id>-dapr` is still a DNS-1123 label. */
export const MAX_APP_ID_LENGTH = 63 - "-dapr".length;

/** Why `id` cannot be an app-id, or undefined when it can. */
export function appIdProblem(id: string): string | undefined {
  if (id.length === 0) return "is empty";
  if (id.length > MAX_APP_ID_LENGTH)
    return `is ${id.length} characters long; an app-id has at most ${MAX_APP_ID_LENGTH} so that its Service "<app-id>-dapr" fits the 63-character limit`;
  if (!DNS1123_LABEL.test(id))
    return "is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)";
  return undefined;
}

export const appId: Parser<string> = {
  syntax: `DNS-1123 label, at most ${MAX_APP_ID_LENGTH} characters`,
  parse(raw) {
    const problem = appIdProblem(raw);
    return problem === undefined ? ok(raw) : bad(problem);
  },
};

/** Names of Kubernetes objects such as Secrets and Configurations. */
export const objectName: Parser<string> = {
  syntax: "Kubernetes object name (DNS-1123 subdomain)",
  parse(raw) {
    const s = raw.trim();
    return s.length <= 253 && DNS1123_SUBDOMAIN.test(s)
      ? ok(s)
      : bad("is not a Kubernetes object name (lowercase DNS-1123 subdomain)");
  },
};

const NO_SPACE = /^\S+$/;

export const image: Parser<string> = {
  syntax: "container image reference",
  parse(raw) {
    const s = raw.trim();
    return s.length > 0 && s.length <= 1024 && NO_SPACE.test(s)
      ? ok(s)
      : bad("is not a container image reference");
  },
};

export const absolutePath: Parser<string> = {
  syntax: "absolute path",
  parse(raw) {
    const s = raw.trim();
    return s.startsWith("/") && NO_SPACE.test(s) && !s.includes(",") && !s.includes(":")
      ? ok(s)
      : bad("is not an absolute path (starting with /, without spaces, commas or colons)");
  },
};

export const httpPath: Parser<string> = {
  syntax: "HTTP path starting with `/`",
  parse(raw) {
    const s = raw.trim();
    return s.startsWith("/") && NO_SPACE.test(s) ? ok(s) : bad("is not an HTTP path starting with /");
  },
};

function splitList(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const HOSTNAME = /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;

function isHost(host: string): boolean {
  if (host.startsWith("[") && host.endsWith("]")) return isIPv6(host.slice(1, -1));
  return isIPv4(host) || (host.length <= 253 && HOSTNAME.test(host));
}

export const host: Parser<string> = {
  syntax: "IP address or DNS name",
  parse(raw) {
    const s = raw.trim();
    return isHost(s) || isIPv6(s) ? ok(s) : bad("is not an IP address or DNS name");
  },
};

export const listenAddresses: Parser<string> = {
  syntax: "comma-separated IP addresses (`127.0.0.1`, `[::1]`, `0.0.0.0`, `[::]`)",
  parse(raw) {
    const items = splitList(raw);
    const isAddress = (a: string) =>
      isIPv4(a) || a === "localhost" || (a.startsWith("[") && a.endsWith("]") && isIPv6(a.slice(1, -1)));
    if (items.length === 0 || !items.every(isAddress))
      return bad("is not a comma-separated list of IP addresses (e.g. [::1],127.0.0.1)");
    return ok(items.join(","));
  },
};

/** `host:port` list; empty is allowed and means "none" (Dapr's way to turn placement off). */
export const hostPortList: Parser<string> = {
  syntax: "comma-separated `host:port` list, or empty for none",
  parse(raw) {
    const items = splitList(raw.trim().replace(/^["']|["']$/g, ""));
    for (const item of items) {
      const colon = item.lastIndexOf(":");
      if (colon <= 0 || !isHost(item.slice(0, colon)) || !port.parse(item.slice(colon + 1)).ok)
        return bad("is not a comma-separated list of host:port addresses");
    }
    return ok(items.join(","));
  },
};

export function enumList<const T extends string>(values: readonly T[]): Parser<T[]> {
  const one = oneOf(values);
  return {
    syntax: `comma-separated list of ${one.syntax}`,
    parse(raw) {
      const out: T[] = [];
      for (const item of splitList(raw)) {
        const p = one.parse(item);
        if (!p.ok) return bad(`is not a comma-separated list of: ${values.join(", ")}`);
        if (!out.includes(p.value)) out.push(p.value);
      }
      return out.length > 0 ? ok(out) : bad(`is not a comma-separated list of: ${values.join(", ")}`);
    },
  };
}

// --- env lists ------------------------------------------------------------------------------

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Dapr splits `A=1,B=x,y` at a comma only when a `NAME=` follows, so values may hold commas.
const ENV_ITEM_START = /,\s*(?=[A-Za-z_][A-Za-z0-9_]*=)/;

export interface EnvPair {
  name: string;
  value: string;
}

function parsePairs(raw: string, what: string): Parsed<EnvPair[]> {
  const pairs: EnvPair[] = [];
  for (const part of raw.split(ENV_ITEM_START)) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    if (eq < 0 || !ENV_NAME.test(name)) return bad(`is not a list of ${what}: "${item}" is not NAME=value`);
    if (pairs.some((p) => p.name === name)) return bad(`sets ${name} twice`);
    pairs.push({ name, value: item.slice(eq + 1) });
  }
  return pairs.length > 0 ? ok(pairs) : bad(`is not a list of ${what}`);
}

export const envList: Parser<EnvPair[]> = {
  syntax: "`NAME=value` pairs separated by commas (a value may contain commas)",
  parse: (raw) => parsePairs(raw, "NAME=value pairs"),
};

export interface SecretEnv {
  name: string;
  secret: string;
  key: string;
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export const envFromSecretList: Parser<SecretEnv[]> = {
  syntax: "`NAME=secret` or `NAME=secret:key` pairs separated by commas (key defaults to the secret name)",
  parse(raw) {
    const pairs = parsePairs(raw, "NAME=secret[:key] pairs");
    if (!pairs.ok) return pairs;
    const out: SecretEnv[] = [];
    for (const { name, value } of pairs.value) {
      const [secretRaw = "", keyRaw, extra] = value.split(":");
      const secret = secretRaw.trim();
      const key = keyRaw === undefined ? secret : keyRaw.trim();
      if (extra !== undefined || !objectName.parse(secret).ok || !SECRET_KEY.test(key))
        return bad(
          `is not a list of NAME=secret[:key] pairs: "${name}=${value}" names no valid secret and key`,
        );
      out.push({ name, secret, key });
    }
    return ok(out);
  },
};

// --- volume mounts --------------------------------------------------------------------------

export interface VolumeMountRef {
  volume: string;
  path: string;
}

export const volumeMountList: Parser<VolumeMountRef[]> = {
  syntax: "`volume:/path` pairs separated by commas",
  parse(raw) {
    const out: VolumeMountRef[] = [];
    for (const item of splitList(raw)) {
      const [volume = "", path = "", extra] = item.split(":").map((s) => s.trim());
      if (extra !== undefined || !isDns1123Label(volume) || !absolutePath.parse(path).ok)
        return bad(`is not a list of volume:/path pairs: "${item}" is not volume:/absolute/path`);
      out.push({ volume, path });
    }
    return out.length > 0 ? ok(out) : bad("is not a list of volume:/path pairs");
  },
};

// --- seccomp --------------------------------------------------------------------------------

export type SeccompProfile =
  { type: "RuntimeDefault" } | { type: "Unconfined" } | { type: "Localhost"; localhostProfile: string };

export const seccompProfile: Parser<SeccompProfile> = {
  syntax: "`RuntimeDefault`, `Unconfined` or `Localhost/<profile path>`",
  parse(raw) {
    const s = raw.trim();
    if (s.toLowerCase() === "runtimedefault") return ok({ type: "RuntimeDefault" });
    if (s.toLowerCase() === "unconfined") return ok({ type: "Unconfined" });
    const m = /^localhost\/(\S+)$/i.exec(s);
    if (m?.[1]) return ok({ type: "Localhost", localhostProfile: m[1] });
    if (s.toLowerCase() === "localhost")
      return bad("names no profile: write Localhost/<path relative to the kubelet's seccomp directory>");
    return bad("is not one of: RuntimeDefault, Unconfined, Localhost/<profile path>");
  },
};

// ---------------------------------------------------------------------------------------------
// Closed sets of values, each spelled once: annotations, flags and types derive from these.

export const LOG_LEVEL_VALUES = ["debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVEL_VALUES)[number];
export const APP_PROTOCOL_VALUES = ["http", "grpc", "https", "grpcs", "h2c"] as const;
export type AppProtocol = (typeof APP_PROTOCOL_VALUES)[number];
export const INIT_ENDPOINT_VALUES = ["config", "subscribe"] as const;
export const IMAGE_PULL_POLICY_VALUES = ["Always", "IfNotPresent", "Never"] as const;
export type ImagePullPolicy = (typeof IMAGE_PULL_POLICY_VALUES)[number];
