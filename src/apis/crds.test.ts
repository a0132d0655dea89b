import { expect } from "chai";
import { corpusFiles, invalidCases } from "./conformance.testing.ts";
import { parseManifests, readCrd, versionSchema, type DaprKind, type JsonSchemaProps } from "./crd-schema.ts";
import {
  createCrdValidator,
  kubernetesFieldPath,
  pruneNulls,
  type CrdValidator,
} from "./crd-validator.testing.ts";
import {
  COMPONENT_RESOURCE,
  CONFIGURATION_RESOURCE,
  DAPR_CATEGORY,
  DAPR_GROUP,
  DAPR_VERSION,
  READY_CONDITION,
} from "./resources.ts";

const KINDS: DaprKind[] = ["Component", "Configuration"];
const RESOURCES = { Component: COMPONENT_RESOURCE, Configuration: CONFIGURATION_RESOURCE };
const validators: Record<DaprKind, CrdValidator> = {
  Component: createCrdValidator(versionSchema(readCrd("Component"))),
  Configuration: createCrdValidator(versionSchema(readCrd("Configuration"))),
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
  for (const kind of KINDS) {
    describe(kind, () => {
      const crd = readCrd(kind);
      const names = RESOURCES[kind];
      const version = crd.spec.versions[0];

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

      it("serves and stores exactly v1alpha1, with the status subresource", () => {
        expect(crd.spec.versions).to.have.length(1);
        expect(version?.name).to.equal(DAPR_VERSION);
        expect(version?.served).to.equal(true);
        expect(version?.storage).to.equal(true);
        expect(version?.subresources).to.deep.equal({ status: {} });
      });

      it("has printer columns, Ready reading the Ready condition", () => {
        const columns = version?.additionalPrinterColumns ?? [];
        const shown = columns.filter((c) => !c.priority).map((c) => c.name);
        expect(shown).to.deep.equal(
          kind === "Component" ? ["Type", "Version", "Ready", "Age"] : ["Ready", "Age"],
        );
        const ready = columns.find((c) => c.name === "Ready");
        expect(ready?.jsonPath).to.equal(`.status.conditions[?(@.type=="${READY_CONDITION}")].status`);
        expect(columns.find((c) => c.name === "Apps")).to.include({
          jsonPath: ".status.appCount",
          priority: 1,
        });
      });

      it("has a structural schema with no defaults", () => {
        const schema = versionSchema(crd);
        expect(nonStructuralNodes(schema)).to.deep.equal([]);
        // Dapr's CRD defaults metric and metrics to {enabled: true}; since metrics overrides metric
        // in daprd, that default would switch metrics back on for `metric: {enabled: false}`.
        expect(defaultedNodes(schema)).to.deep.equal([]);
      });

      it("types status like metav1.Condition plus observedGeneration, appCount and staleSidecars", () => {
        const status = versionSchema(crd).properties?.status;
        expect(Object.keys(status?.properties ?? {})).to.have.members([
          "observedGeneration",
          "appCount",
          "staleSidecars",
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
  for (const kind of KINDS) {
    const files = corpusFiles(kind);
    it(`accepts every ${kind} of the corpus (${files.length} files)`, () => {
      expect(files.length).to.be.greaterThan(0);
      const rejected: string[] = [];
      let accepted = 0;
      for (const file of files) {
        const docs = parseManifests(file.text);
        if (docs.length !== 1) rejected.push(`${file.name}: ${docs.length} documents, want 1`);
        for (const doc of docs) {
          expect(doc).to.have.property("kind", kind);
          const result = validators[kind](doc);
          if (result.valid) accepted++;
          else
            rejected.push(`${file.name}: ${result.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
        }
      }
      expect(rejected, "rejected corpus files").to.deep.equal([]);
      expect(accepted).to.equal(files.length);
    });
  }

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

  it("has at least ten cases, each with a distinct resource name", () => {
    expect(cases.length).to.be.at.least(10);
    const names = cases.map((c) => `${c.resource.kind}/${c.resource.metadata.name}`);
    expect(new Set(names).size).to.equal(names.length);
  });

  for (const c of cases) {
    it(`rejects ${c.resource.kind}: ${c.title}`, () => {
      const result = validators[c.resource.kind](c.resource);
      expect(result.valid, "valid").to.equal(false);
      const errors = result.valid ? [] : result.errors;
      const atField = errors.filter((e) => e.field === c.field);
      expect(atField.length, `errors: ${JSON.stringify(errors)}`).to.be.greaterThan(0);
      expect(atField.map((e) => e.message).join("\n")).to.include(c.message);
    });
  }
});

describe("createCrdValidator", () => {
  const validate = validators.Component;
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
