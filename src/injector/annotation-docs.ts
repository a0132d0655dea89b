// Renders docs/annotations.md from the annotation table, so the reference cannot drift from
// what the injector accepts. `node hack/gen-annotation-docs.ts` writes it; a unit test fails
// when the committed file differs.

import { annotationEntries, ignoredAnnotations, type AnnotationSpec } from "../sidecar/annotations.ts";
import { MAX_APP_ID_LENGTH } from "../sidecar/parsers.ts";
import {
  SIDECAR_CONFIG_MOUNT_PATH,
  SIDECAR_CONFIG_VOLUME,
  sidecarConfigSecretName,
} from "../sidecar/config-secret.ts";
import { SIDECAR_STATUS_ANNOTATION } from "../sidecar/status.ts";
import { TRUST_ANCHORS_ANNOTATION } from "../sidecar/trust-anchors.ts";
import { SIDECAR_CONTAINER_NAME, SIDECAR_HTTP_PORT, SIDECAR_PUBLIC_PORT } from "../sidecar/resolve.ts";
import { METRICS_ENABLED_LABEL, SIDECAR_INJECTED_LABEL, STARTUP_BUDGET_SECONDS } from "./sidecar.ts";
import type { SidecarDefaults } from "../sidecar/defaults.ts";

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function defaultText(spec: AnnotationSpec<unknown>, settings: SidecarDefaults): string {
  if (spec.defaultDoc !== undefined)
    return typeof spec.defaultDoc === "function" ? spec.defaultDoc(settings) : spec.defaultDoc;
  const d = spec.default;
  if (d === undefined) return "not set";
  if (typeof d === "object" && d !== null && "type" in d) return `\`${String(d.type)}\``;
  return `\`${String(d)}\``;
}

/** The full Markdown of docs/annotations.md for the given (default) injector settings. */
export function annotationReferenceMarkdown(settings: SidecarDefaults): string {
  const current = annotationEntries.filter(([, s]) => s.deprecated === undefined);
  const deprecated = annotationEntries.filter(([, s]) => s.deprecated !== undefined);
  const lines: string[] = [
    "<!-- Generated from src/sidecar/annotations.ts by `node hack/gen-annotation-docs.ts`. Do not edit. -->",
    "",
    "# Pod annotations",
    "",
    "Outrigger's injector reads the same `dapr.io/*` pod annotations as Dapr's. Put them on the pod,",
    "or on the pod template of a Deployment, StatefulSet, Job or other workload.",
    "",
    "- A pod is injected when `dapr.io/enabled` is `true` (any case). Pods without it are left alone,",
    "  and their other `dapr.io/*` annotations are not read.",
    "- Every value is checked. An invalid value **denies** the pod, and `kubectl` shows a message",
    '  such as `dapr.io/app-port: "http" is not a port number (1-65535)`. Dapr would ignore such a value.',
    "- Booleans are `true` or `false` in any case. Dapr's `yes`/`no`, `on`/`off`, `y`/`n`, `t`/`f` and",
    "  `1`/`0` are accepted too, so existing manifests keep working.",
    "- A deprecated annotation still works, and the pod is admitted with a warning. So is a `dapr.io/*`",
    "  key the injector does not know (the warning suggests the key you probably meant) or one that",
    "  has no effect under Outrigger.",
    `- The app-id defaults to the pod's name, as in Dapr. It must be a DNS-1123 label of at most ${MAX_APP_ID_LENGTH}`,
    "  characters, so that the app's Service `<app-id>-dapr` is a valid name. Pods created by",
    "  workloads have no name at admission time, only `generateName`, so they must set `dapr.io/app-id`.",
    `- Fixed, as in Dapr: the Dapr HTTP API port (${SIDECAR_HTTP_PORT}) and the health port (${SIDECAR_PUBLIC_PORT}).`,
    "  Ports that would clash inside the pod deny it.",
    '- "injector setting" defaults come from the flags of `outrigger injector`; the values shown are',
    "  those used when no flag is given.",
    "",
    "## Annotations",
    "",
    "| Annotation | Value | Default | Meaning |",
    "| --- | --- | --- | --- |",
    ...current.map(
      ([, s]) =>
        `| \`${s.key}\` | ${cell(s.parser.syntax)} | ${cell(defaultText(s, settings))} | ${cell(s.doc)} |`,
    ),
    "",
    "## What injection adds",
    "",
    `- A \`${SIDECAR_CONTAINER_NAME}\` container running \`daprd --mode standalone\`. By default it is a native sidecar:`,
    "  an init container with `restartPolicy: Always` and a startup probe on `/v1.0/healthz/outbound`,",
    `  so app containers start once daprd can serve (the probe allows ${STARTUP_BUDGET_SECONDS} seconds). With`,
    '  `dapr.io/enable-native-sidecar: "false"` it is the last of the regular containers.',
    `- The read-only volume \`${SIDECAR_CONFIG_VOLUME}\` of the Secret \`${sidecarConfigSecretName("<app-id>")}\`, which the controller`,
    `  writes, mounted at \`${SIDECAR_CONFIG_MOUNT_PATH}\`: daprd's \`--resources-path\` and \`--config\` point into it.`,
    "- A securityContext that passes the `restricted` Pod Security Standard.",
    "- `DAPR_HTTP_PORT`, `DAPR_GRPC_PORT` and `APP_PROTOCOL` in every app container that does not set them.",
    `- Labels \`${SIDECAR_INJECTED_LABEL}: "true"\`, \`dapr.io/app-id\` and \`${METRICS_ENABLED_LABEL}\`.`,
    `- The annotation \`${SIDECAR_STATUS_ANNOTATION}\`: JSON with the Outrigger version, the daprd image and a hash`,
    "  of the sidecar settings, used to find pods whose sidecar is out of date.",
    `- With mTLS, the annotation \`${TRUST_ANCHORS_ANNOTATION}\`: the SHA-256 of each trust anchor given to daprd, used to`,
    "  find pods a root rotation leaves behind ([identity.md](identity.md)).",
    "",
    "A pod that already has a `daprd` container is left alone, so a second admission changes nothing.",
    "",
    "## Deprecated annotations",
    "",
    "They still work; the pod is admitted with a warning.",
    "",
    "| Annotation | Value | Meaning | Instead |",
    "| --- | --- | --- | --- |",
    ...deprecated.map(
      ([, s]) => `| \`${s.key}\` | ${cell(s.parser.syntax)} | ${cell(s.doc)} | ${cell(s.deprecated ?? "")} |`,
    ),
    "",
    "## Dapr annotations without effect",
    "",
    "Dapr knows these, but they do nothing under Outrigger. The pod is admitted with a warning.",
    "",
    "| Annotation | Why |",
    "| --- | --- |",
    ...Object.entries(ignoredAnnotations).map(([key, why]) => `| \`${key}\` | ${cell(why)} |`),
    "",
  ];
  return lines.join("\n");
}
