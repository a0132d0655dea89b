// Round trip over Dapr's documentation: every Component of ../shared/conformance/dapr-docs,
// rendered into an app's sidecar config, parses back from the rendered file (the way daprd
// splits and reads it) as the same resource, with its Kubernetes secrets substituted.

import type { V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { corpusFiles } from "../apis/conformance.testing.ts";
import { parseManifests } from "../apis/crd-schema.ts";
import type { Component } from "../apis/types.ts";
import { COMPONENTS_KEY } from "../sidecar/config-secret.ts";
import {
  desiredSidecarConfig,
  parseSidecarFile,
  usesKubernetesSecrets,
  type SecretLookup,
} from "./sidecar-config.ts";

const DEFAULT_NAMESPACE = "round-trip";

/** A value that would break a careless writer: multi-line, a `---` line, YAML 1.1 words. */
const secretValue = (name: string, key: string) => `${name}/${key}\n---\nyes: on\n`;

function fakeSecrets(component: Component): SecretLookup {
  const byName = new Map<string, V1Secret>();
  for (const item of component.spec?.metadata ?? []) {
    const ref = item.secretKeyRef;
    if (!ref?.name) continue;
    const key = ref.key || ref.name;
    const secret = byName.get(ref.name) ?? { metadata: { name: ref.name }, data: {} };
    secret.data![key] = Buffer.from(secretValue(ref.name, key), "utf8").toString("base64");
    byName.set(ref.name, secret);
  }
  return (_namespace, name) => byName.get(name);
}

/** What the sidecar should see: the resource as written, secrets substituted, in its namespace. */
function expected(component: Component, namespace: string): Record<string, unknown> {
  const copy = structuredClone(component) as Component & Record<string, unknown>;
  copy.metadata = { ...copy.metadata, namespace };
  if (usesKubernetesSecrets(component) && copy.spec?.metadata) {
    copy.spec.metadata = copy.spec.metadata.map((item) => {
      if (!item.secretKeyRef?.name) return item;
      const { secretKeyRef, ...rest } = item;
      return { ...rest, value: secretValue(secretKeyRef.name, secretKeyRef.key || secretKeyRef.name) };
    });
  }
  return copy;
}

/** daprd's split: a document ends at "\n---", and the rest of that line is dropped. */
function daprdDocuments(text: string): string[] {
  return text.split(/\n---[^\n]*\n/).filter((d) => parseManifests(d).length > 0);
}

describe("round trip of Dapr's documented Components through a sidecar config", () => {
  const files = corpusFiles("Component");
  let components = 0;
  let withKubernetesSecrets = 0;

  for (const file of files) {
    it(file.name, () => {
      const docs = parseManifests(file.text) as Component[];
      expect(docs.length, "documents in the file").to.be.greaterThan(0);
      for (const doc of docs) {
        const namespace = doc.metadata?.namespace ?? DEFAULT_NAMESPACE;
        const component: Component = { ...doc, metadata: { ...doc.metadata, namespace } };
        const app = { namespace, appId: component.scopes?.[0] ?? "app", configName: undefined };
        const config = desiredSidecarConfig(app, [component], undefined, fakeSecrets(component), undefined);

        expect(config.components.map((c) => c.reason)).to.deep.equal(["Ready"]);
        const text = config.data[COMPONENTS_KEY] ?? "";
        expect(daprdDocuments(text), "documents as daprd splits them").to.have.length(1);
        const parsed = parseSidecarFile(text);
        expect(parsed).to.have.length(1);
        expect(parsed[0]).to.deep.equal(expected(component, namespace));

        components++;
        const refs = (component.spec?.metadata ?? []).some((m) => m.secretKeyRef?.name);
        if (refs && usesKubernetesSecrets(component)) {
          expect(text).to.not.contain("secretKeyRef");
          withKubernetesSecrets++;
        }
      }
    });
  }

  after(() => {
    console.log(
      `      round trip: ${components} Components from ${files.length} files, ${withKubernetesSecrets} with Kubernetes secrets substituted`,
    );
  });

  it("covered the whole corpus", () => {
    expect(files.length).to.be.greaterThan(200);
    expect(components).to.be.at.least(files.length);
    expect(withKubernetesSecrets).to.be.greaterThan(0);
  });
});
