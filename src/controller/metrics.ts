// The controller's own metrics (the runtime's are in runtime/metrics.ts, the reconcile counters
// in runtime/controller.ts). Created once per registry.
import { Counter, Gauge, type Registry } from "prom-client";

export interface ControllerMetrics {
  writes: Counter<"resource" | "verb">;
  apps: Gauge;
  components: Gauge;
  staleSidecars: Gauge;
  uninjectedPods: Gauge<"reason">;
  uninjectedPodDeletes: Counter;
}

const byRegistry = new WeakMap<Registry, ControllerMetrics>();

export function controllerMetrics(registry: Registry): ControllerMetrics {
  let m = byRegistry.get(registry);
  if (m) return m;
  const registers = [registry];
  m = {
    writes: new Counter({
      name: "outrigger_controller_writes_total",
      help: "API writes by resource (secrets, services, status, events) and verb (create, update, delete, patch).",
      labelNames: ["resource", "verb"] as const,
      registers,
    }),
    apps: new Gauge({
      name: "outrigger_apps",
      help: "Apps (namespace + app-id) with a sidecar config.",
      registers,
    }),
    components: new Gauge({ name: "outrigger_components", help: "Components in the cache.", registers }),
    staleSidecars: new Gauge({
      name: "outrigger_stale_sidecars",
      help: "Running pods whose injected sidecar differs from what the injector would inject now.",
      registers,
    }),
    uninjectedPods: new Gauge({
      name: "outrigger_uninjected_pods",
      help: 'Pods annotated dapr.io/enabled "true" without a sidecar, by reason (excluded-namespace, webhook-not-called).',
      labelNames: ["reason"] as const,
      registers,
    }),
    uninjectedPodDeletes: new Counter({
      name: "outrigger_uninjected_pod_deletes_total",
      help: "Un-injected pods deleted so that their owners recreate them through the webhook (--delete-uninjected-pods).",
      registers,
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
