// A Secret volume as the kubelet writes it (pkg/volume/util/atomic_writer.go):
//
//   <dir>/..2026_12_01_09_40_00.123456/   the payload, a fresh directory per change
//   <dir>/..data -> ..2026_12_01_09_40_00.123456
//   <dir>/<top-level entry> -> ..data/<top-level entry>   (what the container sees)
//
// A change writes a new timestamped directory, points `..data_tmp` at it and renames that over
// `..data` (the one atomic step), adds and removes the user-visible symlinks, then deletes the
// old directory. Watchers of a path under the old directory lose it at that point, which is
// exactly what daprd's file watch meets in a pod.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

const DATA_DIR = "..data";
const DATA_TMP = "..data_tmp";

/** Path inside the volume -> content. */
export type Payload = Map<string, Buffer>;

function timestampPrefix(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

function topLevel(path: string): string {
  return path.split("/")[0]!;
}

function samePayload(dir: string, payload: Payload): boolean {
  if (!existsSync(join(dir, DATA_DIR))) return false;
  for (const [path, content] of payload) {
    const file = join(dir, DATA_DIR, path);
    if (!existsSync(file) || !readFileSync(file).equals(content)) return false;
  }
  return true;
}

/**
 * Writes `payload` into `dir` the kubelet's way. Returns false (and touches nothing) when the
 * payload is what the volume already holds. `previousPaths` are the paths of the last write,
 * whose user-visible entries are removed when they are no longer in the payload.
 */
export function writeAtomically(
  dir: string,
  payload: Payload,
  previousPaths: readonly string[] = [],
  now = new Date(),
  mode = 0o644,
): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (samePayload(dir, payload) && previousPaths.every((p) => payload.has(p))) return false;

  const oldTsDir = existsSync(join(dir, DATA_DIR)) ? readlinkSync(join(dir, DATA_DIR)) : undefined;
  const tsDir = mkdtempSync(join(dir, timestampPrefix(now)));
  chmodSync(tsDir, 0o755); // as the kubelet does: mkdtemp makes it 0700
  for (const [path, content] of payload) {
    const file = join(tsDir, path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content, { mode });
  }
  const tsName = tsDir.slice(dir.length + 1);
  rmSync(join(dir, DATA_TMP), { force: true });
  symlinkSync(tsName, join(dir, DATA_TMP));
  renameSync(join(dir, DATA_TMP), join(dir, DATA_DIR));

  const visible = new Set([...payload.keys()].map(topLevel));
  for (const entry of visible) {
    const link = join(dir, entry);
    if (!existsSync(link)) symlinkSync(join(DATA_DIR, entry), link);
  }
  for (const entry of new Set(previousPaths.map(topLevel))) {
    if (!visible.has(entry)) rmSync(join(dir, entry), { force: true });
  }
  if (oldTsDir !== undefined && oldTsDir !== tsName)
    rmSync(join(dir, oldTsDir), { recursive: true, force: true });
  return true;
}
