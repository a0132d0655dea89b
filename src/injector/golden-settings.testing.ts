// The sidecar settings the injector's golden cases run with, shared by every test that runs them
// (the webhook's and `outrigger inject`'s).
import { readFileSync } from "node:fs";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";

// Pinned so that bumping the default image does not rewrite every golden file. mTLS is on, as
// by default.
export const goldenSettings: SidecarDefaults = {
  ...builtInSidecarDefaults,
  sidecarImage: "ghcr.io/dapr/daprd:1.18.3",
};
/** The same with the switch off (--mtls=false). */
export const goldenSettingsMtlsOff: SidecarDefaults = Object.fromEntries(
  Object.entries(goldenSettings).filter(([k]) => k !== "mtls"),
) as SidecarDefaults;
/** A trust bundle as outrigger sentry publishes it (one root). */
export const goldenTrustAnchors = readFileSync(
  new URL("testdata/mtls-trust-anchors.pem", import.meta.url),
  "utf8",
);

/**
 * Settings and trust bundle of a golden case: every case runs with mTLS on and the bundle of
 * testdata/mtls-trust-anchors.pem, except mtls-no-anchors (no bundle yet) and mtls-off (the
 * switch off).
 */
export function goldenSettingsFor(name: string): [SidecarDefaults, string | undefined] {
  if (name === "mtls-off") return [goldenSettingsMtlsOff, undefined];
  return [goldenSettings, name === "mtls-no-anchors" ? undefined : goldenTrustAnchors];
}
