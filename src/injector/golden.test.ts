// Golden cases: testdata/<case>.input.yaml is a pod sent as a Pod CREATE; <case>.expected.yaml
// is the outcome, and for injections the pod obtained by applying the returned JSON Patch to
// the input, so the patch itself is what is checked. UPDATE_GOLDEN=1 rewrites the expected
// files (review the diff).

import { expect } from "chai";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as yaml from "js-yaml";
import { SIDECAR_STATUS_ANNOTATION } from "../sidecar/status.ts";
import { outriggerVersion } from "../shared/version.ts";
import { admit, type AdmissionOutcome } from "./admit.ts";
import { annotations } from "../sidecar/annotations.ts";
import { applyJsonPatch, type JsonPatchOp } from "./patch.ts";
import { builtInSidecarDefaults, type SidecarDefaults } from "../sidecar/defaults.ts";

const dir = new URL("./testdata/", import.meta.url);
const update = process.env.UPDATE_GOLDEN === "1";
// Pinned so that bumping the default image does not rewrite every golden file.
const settings: SidecarDefaults = { ...builtInSidecarDefaults, sidecarImage: "ghcr.io/dapr/daprd:1.18.3" };
const VERSION_PLACEHOLDER = "OUTRIGGER_VERSION";
// Cases named mtls-* run with mTLS on and the trust bundle of testdata/mtls-trust-anchors.pem
// (none for mtls-no-anchors).
const mtlsSettings: SidecarDefaults = {
  ...settings,
  mtls: {
    sentryAddress: "outrigger-sentry.outrigger-system.svc:443",
    trustDomain: "cluster.local",
    sentryNamespace: "outrigger-system",
  },
};
const trustAnchors = readFileSync(new URL("mtls-trust-anchors.pem", dir), "utf8");
const settingsFor = (name: string): [SidecarDefaults, string | undefined] =>
  !name.startsWith("mtls")
    ? [settings, undefined]
    : [mtlsSettings, name === "mtls-no-anchors" ? undefined : trustAnchors];

interface Expected {
  result: AdmissionOutcome["result"];
  reason: AdmissionOutcome["reason"];
  appId?: string;
  message?: string;
  warnings?: string[];
  pod?: unknown;
}

function request(pod: unknown) {
  return {
    uid: "00000000-0000-0000-0000-000000000001",
    kind: { group: "", version: "v1", kind: "Pod" },
    resource: { group: "", version: "v1", resource: "pods" },
    operation: "CREATE",
    namespace: "shop",
    object: pod,
  };
}

function decodePatch(outcome: AdmissionOutcome): JsonPatchOp[] | undefined {
  const b64 = outcome.response.patch;
  return b64 === undefined
    ? undefined
    : (JSON.parse(Buffer.from(b64, "base64").toString("utf8")) as JsonPatchOp[]);
}

/** The status annotation carries the package version; goldens hold a placeholder instead. */
function withVersionPlaceholder(pod: unknown): unknown {
  const annotationsOf = (pod as { metadata?: { annotations?: Record<string, string> } }).metadata
    ?.annotations;
  const status = annotationsOf?.[SIDECAR_STATUS_ANNOTATION];
  if (annotationsOf && status) {
    const parsed = JSON.parse(status) as { version: string };
    expect(parsed.version).to.equal(outriggerVersion);
    annotationsOf[SIDECAR_STATUS_ANNOTATION] = JSON.stringify({ ...parsed, version: VERSION_PLACEHOLDER });
  }
  return pod;
}

function outcomeToExpected(input: unknown, outcome: AdmissionOutcome): Expected {
  const expected: Expected = { result: outcome.result, reason: outcome.reason };
  if (outcome.appId !== undefined) expected.appId = outcome.appId;
  if (outcome.response.status) expected.message = outcome.response.status.message;
  if (outcome.response.warnings) expected.warnings = outcome.response.warnings;
  const ops = decodePatch(outcome);
  if (ops) {
    const applied = applyJsonPatch(input, ops);
    if (!applied.ok) throw new Error(`patch does not apply: ${applied.message}`);
    expected.pod = withVersionPlaceholder(applied.document);
  }
  return expected;
}

const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".input.yaml"))
  .map((f) => f.slice(0, -".input.yaml".length))
  .sort();

describe("injector golden cases", () => {
  it("has the cases the issue asks for", () => {
    expect(cases).to.include.members([
      "minimal",
      "every-annotation",
      "already-injected",
      "invalid-port",
      "app-id-too-long",
      "not-enabled",
      "native-sidecar-off",
      "bare-pod",
      "no-metadata-fields",
      "unix-domain-socket",
      "missing-volume",
      "env-from-secret",
      "mtls",
      "mtls-no-anchors",
    ]);
  });

  it("every-annotation sets every key of the annotation table", () => {
    const pod = yaml.load(readFileSync(new URL("every-annotation.input.yaml", dir), "utf8")) as {
      metadata: { annotations: Record<string, string> };
    };
    const missing = Object.values(annotations)
      .map((a) => a.key)
      .filter((k) => !(k in pod.metadata.annotations));
    expect(missing).to.deep.equal([]);
  });

  for (const name of cases) {
    it(name, () => {
      const input = yaml.load(readFileSync(new URL(`${name}.input.yaml`, dir), "utf8"));
      const [caseSettings, anchors] = settingsFor(name);
      const outcome = admit(request(input), caseSettings, anchors);
      expect(outcome.response.uid).to.equal("00000000-0000-0000-0000-000000000001");
      const actual = outcomeToExpected(input, outcome);
      const expectedFile = new URL(`${name}.expected.yaml`, dir);
      if (update) {
        const header =
          "# Generated by `UPDATE_GOLDEN=1 npx mocha src/injector/golden.test.ts`; review the diff.\n";
        writeFileSync(expectedFile, header + yaml.dump(actual, { lineWidth: -1, noRefs: true }));
      }
      const expected = yaml.load(readFileSync(expectedFile, "utf8")) as Expected;
      expect(actual).to.deep.equal(expected);

      // Allowed exactly when injected or skipped; a patch exactly when injected.
      expect(outcome.response.allowed).to.equal(outcome.result !== "denied");
      expect(outcome.response.patch !== undefined).to.equal(outcome.result === "injected");
      if (outcome.result === "injected") {
        expect(outcome.response.patchType).to.equal("JSONPatch");
        // A second pass (reinvocationPolicy: IfNeeded) must change nothing.
        const again = admit(request(actual.pod), caseSettings, anchors);
        expect(again.result).to.equal("skipped");
        expect(again.reason).to.equal("already-injected");
        expect(again.response.patch).to.equal(undefined);
      }
    });
  }
});
