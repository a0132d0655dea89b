// The controller's own metrics (the runtime's are in runtime/metrics.ts, the reconcile counters
// in runtime/controller.ts). Created once per registry.
import { Counter, Gauge, type Registry } from "prom-client";

export interface ControllerMetrics {
  writes: Counter<"resource" | "verb">;
  apps: Gauge;
  components: Gauge;
  staleSidecars: Gauge;
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
  };
  byRegistry.set(registry, m);
  return m;
}
