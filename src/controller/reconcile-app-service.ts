// Reconciler of one output: an app's `<app-id>-dapr` headless Service. Key "namespace/appId".
import type { Logger } from "pino";
import { appServiceName } from "../sidecar/config-secret.ts";
import { desiredAppService, serviceChange, serviceForUpdate } from "./app-service.ts";
import { appsIn, type ControllerCaches } from "./caches.ts";
import { contentHash } from "./hash.ts";
import type { OwnedWriter } from "./owned-writer.ts";
import { splitKey } from "./runtime/cache.ts";
import type { ReconcileResult } from "./runtime/controller.ts";

export interface AppServiceIO {
  caches: ControllerCaches;
  writer: OwnedWriter;
}

export async function reconcileAppService(
  key: string,
  io: AppServiceIO,
  log: Logger,
): Promise<ReconcileResult> {
  const { namespace = "", name: appId } = splitKey(key);
  const app = appsIn(io.caches, namespace).apps.find((a) => a.appId === appId);
  const ref = { kind: "Service" as const, namespace, name: appServiceName(appId) };
  const existing = io.caches.services.getByName(namespace, ref.name);
  if (!app) return io.writer.deleteOurs(ref, existing, log);
  const desired = desiredAppService(app);
  const fingerprint = contentHash(desired);
  if (io.writer.alreadyWritten(ref, fingerprint)) return;
  const change = existing ? serviceChange(existing, desired) : "create";
  if (change === "none") return;
  if (change === "update" && existing)
    return io.writer.update(ref, existing, serviceForUpdate(existing, desired), fingerprint, log);
  // clusterIP cannot change in place: a Service of ours that is not headless is replaced.
  if (change === "recreate") await io.writer.deleteOurs(ref, existing, log);
  // A Service of that name without our label is not in our (label-selected) cache: the
  // create fails with AlreadyExists, which the writer reports as a conflict.
  await io.writer.create(ref, desired, fingerprint, log);
}
