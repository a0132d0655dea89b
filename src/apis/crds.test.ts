import { expect } from "chai";
import {
  CORPUS_SETS,
  corpusFiles,
  invalidCases,
  subscriptionV1alpha1Examples,
  type CorpusFile,
} from "./conformance.testing.ts";
import { parseManifests, readCrd, versionSchema, type DaprKind, type JsonSchemaProps } from "./crd-schema.ts";
import {
  createCrdValidator,
  kubernetesFieldPath,
  pruneNulls,
  type CrdValidator,
} from "./crd-validator.testing.ts";
import { DAPR_CATEGORY, DAPR_GROUP, DAPR_RESOURCES, READY_CONDITION } from "./resources.ts";

/** A validator per served version of every kind, keyed by apiVersion and kind. */
const validators = new Map<string, CrdValidator>(
  DAPR_RESOURCES.flatMap(({ names, versions }) =>
    versions.map((v) => [
      `${DAPR_GROUP}/${v} ${names.kind}`,
      createCrdValidator(versionSchema(readCrd(names.kind), v)),
    ]),
  ),
);
function validatorFor(resource: { apiVersion?: unknown; kind?: unknown }): CrdValidator {
  const validator = validators.get(`${String(resource.apiVersion)} ${String(resource.kind)}`);
  if (!validator) throw new Error(`no CRD serves ${String(resource.apiVersion)} ${String(resource.kind)}`);
  return validator;
}

/** The printer columns shown without -o wide, by kind. */
const SHOWN_COLUMNS: Record<DaprKind, string[]> = {
  Component: ["Type", "Version", "Ready", "Age"],
  Configuration: ["Ready", "Age"],
  Subscription: ["Pubsub", "Topic", "Ready", "Age"],
  Resiliency: ["Ready", "Age"],
  HTTPEndpoint: ["Base URL", "Ready", "Age"],
  MCPServer: ["Ready", "Age"],
  WorkflowAccessPolicy: ["Ready", "Age"],
};

/** Paths of schema nodes that break the rules of a structural schema. */
function nonStructuralNodes(s: JsonSchemaProps, path = ""): string[] {
  const typed = s.type || s["x-kubernetes-preserve-unknown-fields"] || s["x-kubernetes-int-or-string"];
  const here = typed ? [] : [path || "<root>"];
  const props = Object.entries(s.properties ?? {}).flatMap(([k, v]) => nonStructuralNodes(v, `${path}.${k}`));
  const items = s.items ? nonStructuralNodes(s.items, `${path}[]`) : [];
  const extra =
    typeof s.additionalProperties === "object" ? nonStructuralNodes(s.additionalProperties, `${path}{}`) : [];
  return [...here, ...props, ...items, ...extra];
}

function defaultedNodes(s: JsonSchemaProps, path = ""): string[] {
  const here = s.default === undefined ? [] : [path];
  const children = [
    ...Object.entries(s.properties ?? {}).map(([k, v]) => [v, `${path}.${k}`] as const),
    ...(s.items ? [[s.items, `${path}[]`] as const] : []),
  ];
  return [...here, ...children.flatMap(([v, p]) => defaultedNodes(v, p))];
}

describe("crds/", () => {
  for (const { names, versions } of DAPR_RESOURCES) {
    const kind = names.kind;
    describe(kind, () => {
      const crd = readCrd(kind);

      it("declares the names of src/apis/resources.ts, short names and the dapr category", () => {
        expect(crd.metadata.name).to.equal(`${names.plural}.${DAPR_GROUP}`);
        expect(crd.spec.group).to.equal(DAPR_GROUP);
        expect(crd.spec.scope).to.equal("Namespaced");
        expect(crd.spec.names).to.deep.equal({
          kind: names.kind,
          listKind: names.listKind,
          plural: names.plural,
          singular: names.singular,
          shortNames: [...names.shortNames],
          categories: [DAPR_CATEGORY],
        });
      });

      it(`serves ${versions.join(" and ")} and stores ${versions[0]}, each with the status subresource`, () => {
        expect(crd.spec.versions.map((v) => v.name)).to.have.members([...versions]);
        for (const version of crd.spec.versions) {
          expect(version.served, version.name).to.equal(true);
          expect(version.storage, version.name).to.equal(version.name === versions[0]);
          expect(version.subresources, version.name).to.deep.equal({ status: {} });
        }
        // One version needs no conversion; two need the webhook that converts them.
        expect(crd.spec.conversion?.strategy ?? "None").to.equal(versions.length > 1 ? "Webhook" : "None");
      });

      it("has printer columns, Ready reading the Ready condition", () => {
        for (const version of crd.spec.versions) {
          const columns = version.additionalPrinterColumns ?? [];
          const shown = columns.filter((c) => !c.priority).map((c) => c.name);
          expect(shown, version.name).to.deep.equal(SHOWN_COLUMNS[kind]);
          const ready = columns.find((c) => c.name === "Ready");
          expect(ready?.jsonPath).to.equal(`.status.conditions[?(@.type=="${READY_CONDITION}")].status`);
          expect(columns.find((c) => c.name === "Apps")).to.include({
            jsonPath: ".status.appCount",
            priority: 1,
          });
        }
      });

      it("has a structural schema with no defaults", () => {
        for (const version of versions) {
          const schema = versionSchema(crd, version);
          expect(nonStructuralNodes(schema), version).to.deep.equal([]);
          // Dapr's CRD defaults metric and metrics to {enabled: true}; since metrics overrides metric
          // in daprd, that default would switch metrics back on for `metric: {enabled: false}`.
          // Dapr's HTTPEndpoint defaults clientTLS.renegotiation to Never, which daprd does anyway.
          expect(defaultedNodes(schema), version).to.deep.equal([]);
        }
      });

      it("types status like metav1.Condition plus observedGeneration and appCount", () => {
        const status = versionSchema(crd).properties?.status;
        // staleSidecars and uninjectedPods count pods whose sidecar is out of date or missing: a
        // property of the kinds the injector reads (Component, Configuration), not of the ones
        // daprd reloads.
        const stale =
          kind === "Component" || kind === "Configuration" ? ["staleSidecars", "uninjectedPods"] : [];
        expect(Object.keys(status?.properties ?? {})).to.have.members([
          "observedGeneration",
          "appCount",
          ...stale,
          "conditions",
        ]);
        const conditions = status?.properties?.conditions;
        expect(conditions?.["x-kubernetes-list-type"]).to.equal("map");
        expect(conditions?.["x-kubernetes-list-map-keys"]).to.deep.equal(["type"]);
        expect(conditions?.items?.required).to.have.members([
          "type",
          "status",
          "lastTransitionTime",
          "reason",
          "message",
        ]);
      });
    });
  }
});

describe("Dapr docs conformance corpus", () => {
  function expectAccepted(files: CorpusFile[], kind: DaprKind, apiVersion: string): void {
    expect(files.length).to.be.greaterThan(0);
    const rejected: string[] = [];
    let accepted = 0;
    for (const file of files) {
      const docs = parseManifests(file.text);
      if (docs.length !== 1) rejected.push(`${file.name}: ${docs.length} documents, want 1`);
      for (const doc of docs) {
        expect(doc).to.include({ kind, apiVersion });
        const result = validatorFor(doc as { apiVersion: string; kind: string })(doc);
        if (result.valid) accepted++;
        else
          rejected.push(`${file.name}: ${result.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
      }
    }
    expect(rejected, "rejected corpus files").to.deep.equal([]);
    expect(accepted).to.equal(files.length);
  }

  for (const { kind, version } of CORPUS_SETS) {
    const files = corpusFiles(kind);
    it(`accepts every ${kind} ${version} of the corpus (${files.length} files)`, () => {
      expectAccepted(files, kind, `${DAPR_GROUP}/${version}`);
    });
  }

  const v1alpha1 = subscriptionV1alpha1Examples();
  it(`accepts every Subscription v1alpha1 example of testdata/dapr-docs (${v1alpha1.length} files), each naming its page`, () => {
    expectAccepted(v1alpha1, "Subscription", `${DAPR_GROUP}/v1alpha1`);
    for (const file of v1alpha1)
      expect(file.text, file.name).to.match(/^# from dapr\/docs \S+\.md.*CC BY 4\.0/s);
  });

  it("holds the repeated metadata names that rule out a map keyed by name", () => {
    const repeated = corpusFiles("Component").filter((f) => {
      const names = (
        (parseManifests(f.text)[0] as { spec: { metadata: { name: string }[] } }).spec.metadata ?? []
      ).map((m) => m.name);
      return new Set(names).size < names.length;
    });
    expect(repeated.length).to.be.greaterThan(0);
  });
});

describe("invalid resources (src/apis/testdata/invalid-resources.yaml)", () => {
  const cases = invalidCases();

  it("has at least ten cases, and ten of the kinds after Component and Configuration, each with a distinct resource name", () => {
    expect(cases.length).to.be.at.least(10);
    const newKinds = cases.filter(
      (c) => c.resource.kind !== "Component" && c.resource.kind !== "Configuration",
    );
    expect(newKinds.length).to.be.at.least(10);
    const names = cases.map((c) => `${c.resource.kind}/${c.resource.metadata.name}`);
    expect(new Set(names).size).to.equal(names.length);
  });

  for (const c of cases) {
    it(`rejects ${c.resource.kind}: ${c.title}`, () => {
      const result = validatorFor(c.resource)(c.resource);
      expect(result.valid, "valid").to.equal(false);
      const errors = result.valid ? [] : result.errors;
      const atField = errors.filter((e) => e.field === c.field);
      expect(atField.length, `errors: ${JSON.stringify(errors)}`).to.be.greaterThan(0);
      expect(atField.map((e) => e.message).join("\n")).to.include(c.message);
    });
  }
});

describe("createCrdValidator", () => {
  const validate = validatorFor({ apiVersion: "dapr.io/v1alpha1", kind: "Component" });
  const component = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    apiVersion: "dapr.io/v1alpha1",
    kind: "Component",
    metadata: { name: "c" },
    spec: { type: "state.redis", version: "v1", metadata: [], ...spec },
    ...extra,
  });

  it("accepts a metadata value of any JSON type, and an empty value", () => {
    for (const value of ["s", 1, 1.5, true, [1, "a"], { a: { b: 1 } }, null, ""]) {
      expect(validate(component({ metadata: [{ name: "v", value }] })), JSON.stringify(value)).to.deep.equal({
        valid: true,
      });
    }
  });

  it("accepts a metadata name twice, envRef alone, and secretKeyRef without key", () => {
    const metadata = [
      { name: "redisPassword", envRef: "REDIS_PASSWORD" },
      { name: "redisPassword", secretKeyRef: { name: "redis" } },
      // The API server's CEL cannot see the schemaless value, so this is not checked there.
      { name: "redisHost", value: "", secretKeyRef: { name: "redis" } },
    ];
    expect(validate(component({ metadata }))).to.deep.equal({ valid: true });
  });

  it("accepts the duration forms of Go's time.ParseDuration", () => {
    for (const initTimeout of ["0", "30s", "1m30s", "1.5h", "500ms", "2us", "1µs"]) {
      expect(validate(component({ initTimeout })), initTimeout).to.deep.equal({ valid: true });
    }
  });

  it("prunes null fields before validating, as the API server does", () => {
    expect(validate(component({ initTimeout: null }, { scopes: null, auth: null }))).to.deep.equal({
      valid: true,
    });
    expect(
      pruneNulls({ a: null, b: [null], c: { d: null } }, { type: "object", properties: {} }),
    ).to.deep.equal({
      a: null,
      b: [null],
      c: { d: null },
    });
  });

  it("reports every schema error at its field, and runs CEL rules only when the schema holds", () => {
    const broken = validate(component({ type: 1, version: undefined }, { scopes: ["UPPER"] }));
    expect(broken.valid ? [] : broken.errors.map((e) => e.field)).to.have.members([
      "spec.type",
      "spec.version",
    ]);
    const scoped = validate(component({}, { scopes: ["UPPER", "ok"] }));
    expect(scoped.valid ? [] : scoped.errors.map((e) => e.field)).to.deep.equal(["scopes[0]"]);
  });

  it("fails on unknown fields alone, as strict field validation does", () => {
    const result = validate(component({ type: 1, typo: true, metadata: { a: 1 } }, { extra: {} }));
    expect(result.valid ? [] : result.errors).to.have.deep.members([
      { field: "spec.typo", message: 'unknown field "spec.typo"' },
      { field: "spec.metadata.a", message: 'unknown field "spec.metadata.a"' },
      { field: "extra", message: 'unknown field "extra"' },
    ]);
    // Preserved fields take anything; metadata is the API server's own business.
    const preserved = { name: "v", value: { any: { nested: ["thing"] } } };
    expect(
      validate(component({ metadata: [preserved] }, { metadata: { name: "c", labels: {} } })),
    ).to.deep.equal({
      valid: true,
    });
  });

  it("checks the status as the controller writes it", () => {
    const status = {
      observedGeneration: 3,
      appCount: 2,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Delivered",
          message: "",
          lastTransitionTime: "2026-01-02T03:04:05Z",
        },
      ],
    };
    expect(validate(component({}, { status }))).to.deep.equal({ valid: true });
    const bad = {
      ...status,
      conditions: [{ ...status.conditions[0], status: "Yes", lastTransitionTime: "now" }],
    };
    const result = validate(component({}, { status: bad }));
    expect(result.valid ? [] : result.errors.map((e) => e.field)).to.have.members([
      "status.conditions[0].status",
      "status.conditions[0].lastTransitionTime",
    ]);
  });
});

describe("kubernetesFieldPath", () => {
  it("writes JSON pointers the way the API server names fields", () => {
    expect(kubernetesFieldPath("")).to.equal("");
    expect(kubernetesFieldPath("/spec/metadata/0/secretKeyRef/name")).to.equal(
      "spec.metadata[0].secretKeyRef.name",
    );
    expect(kubernetesFieldPath("/scopes/1")).to.equal("scopes[1]");
    expect(kubernetesFieldPath("/spec/metrics/rules/0/labels/0/regex/orders~1")).to.equal(
      "spec.metrics.rules[0].labels[0].regex.orders/",
    );
  });
});
