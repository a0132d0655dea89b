// A pod of app orders (namespace shop) injected with the current built-in defaults, so that no
// reason but the one a test sets up makes it stale. Test-only.
import type { V1Pod } from "@kubernetes/client-node";
import { builtInSidecarDefaults } from "../sidecar/defaults.ts";
import { SIDECAR_STATUS_ANNOTATION, expectedSidecarStatus } from "../sidecar/status.ts";

export function currentInjectedPod(
  extraAnnotations: Record<string, string> = {},
  status: V1Pod["status"] = { phase: "Running" },
  metadata: Partial<NonNullable<V1Pod["metadata"]>> = {},
): V1Pod {
  const annotations = { "dapr.io/enabled": "true", "dapr.io/app-id": "orders" };
  const expected = expectedSidecarStatus(annotations, "orders-1", builtInSidecarDefaults);
  if (!expected.ok) throw new Error("test pod must be injectable");
  return {
    metadata: {
      name: "orders-1",
      namespace: "shop",
      labels: { "dapr.io/app-id": "orders" },
      annotations: {
        ...annotations,
        [SIDECAR_STATUS_ANNOTATION]: JSON.stringify({
          version: "x",
          image: expected.image,
          settingsHash: expected.settingsHash,
        }),
        ...extraAnnotations,
      },
      ...metadata,
    },
    status,
  };
}
