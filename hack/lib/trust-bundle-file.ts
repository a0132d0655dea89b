// A file kept in step with outrigger sentry's trust-bundle ConfigMap, for an injector that runs
// as a local process (npm start, the e2e harness): what the kubelet does for the chart's
// injector, which mounts the ConfigMap at its --trust-anchors-file.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { TRUST_BUNDLE_KEY } from "../../src/sidecar/identity.ts";

export interface TrustBundleFile {
  /** The injector's --trust-anchors-file. */
  readonly file: string;
  /** Copies the published bundle to the file now; returns it ("" while none is published). */
  sync(): Promise<string>;
  /** Stops the periodic copy and removes the file. */
  stop(): void;
}

export interface TrustBundleFileOptions {
  /** The bundle as published now (the ConfigMap's ca.crt), undefined while there is none. */
  read(): Promise<string | undefined>;
  /** Copy this often (0: only on sync()). The kubelet takes up to a minute; a local run need not. */
  intervalMs: number;
  onError?(err: Error): void;
}

export function trustBundleFile(o: TrustBundleFileOptions): TrustBundleFile {
  const dir = mkdtempSync(`${tmpdir()}/outrigger-trust-bundle-`);
  const file = `${dir}/${TRUST_BUNDLE_KEY}`;
  let written: string | undefined;
  const sync = async () => {
    const pem = (await o.read()) ?? "";
    // Replaced whole, never half-written: the injector may read it at any moment.
    if (pem !== written) {
      writeFileSync(`${file}.tmp`, pem);
      renameSync(`${file}.tmp`, file);
      written = pem;
    }
    return pem;
  };
  const timer =
    o.intervalMs > 0
      ? setInterval(() => void sync().catch((err: Error) => o.onError?.(err)), o.intervalMs)
      : undefined;
  timer?.unref();
  return {
    file,
    sync,
    stop() {
      clearInterval(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
