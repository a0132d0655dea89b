// The sidecar settings the injector's golden cases run with, shared by every test that runs them
// (the webhook's and `outrigger inject`'s).
import { readFileSync } from "node:fs";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";

// Pinned so that bumping the default image does not rewrite every golden file.
export const goldenSettings: SidecarDefaults = {
  ...builtInSidecarDefaults,
  sidecarImage: "ghcr.io/dapr/daprd:1.18.3",
};
const mtlsSettings: SidecarDefaults = {
  ...goldenSettings,
  mtls: {
    sentryAddress: "outrigger-sentry.outrigger-system.svc:443",
    trustDomain: "cluster.local",
    sentryNamespace: "outrigger-system",
  },
};
const trustAnchors = readFileSync(new URL("testdata/mtls-trust-anchors.pem", import.meta.url), "utf8");

/**
 * Settings and trust bundle of a golden case: cases named mtls-* run with mTLS on and the bundle
 * of testdata/mtls-trust-anchors.pem (none for mtls-no-anchors).
 */
export function goldenSettingsFor(name: string): [SidecarDefaults, string | undefined] {
  if (!name.startsWith("mtls")) return [goldenSettings, undefined];
  return [mtlsSettings, name === "mtls-no-anchors" ? undefined : trustAnchors];
}
