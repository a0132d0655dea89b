// The two sides of the CRDs' contract, shared by the unit tests and the e2e spec: the
// resources of Dapr's documentation (../shared/conformance/dapr-docs), which must all be
// accepted, and src/apis/testdata/invalid-resources.yaml, which must all be rejected.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseManifests, type DaprKind } from "./crd-schema.ts";

/**
 * Dapr docs' resources, one directory per kind and version. They live beside the repository
 * (../shared/conformance); a clone elsewhere on the same machine (CI) finds the workspace copy.
 * $OUTRIGGER_DAPR_DOCS_CORPUS overrides both. A missing corpus fails the tests that need it.
 */
export const DAPR_DOCS_CORPUS_DIR: string =
  process.env.OUTRIGGER_DAPR_DOCS_CORPUS ??
  [
    fileURLToPath(new URL("../../../shared/conformance/dapr-docs/", import.meta.url)),
    "/work/shared/conformance/dapr-docs/",
  ].find((dir) => existsSync(dir)) ??
  fileURLToPath(new URL("../../../shared/conformance/dapr-docs/", import.meta.url));

/** The corpus directories, one per kind and version; kinds without examples in Dapr's docs have none. */
export const CORPUS_SETS = [
  { kind: "Component", version: "v1alpha1", subdir: "component-v1alpha1" },
  { kind: "Configuration", version: "v1alpha1", subdir: "configuration-v1alpha1" },
  { kind: "Subscription", version: "v2alpha1", subdir: "subscription-v2alpha1" },
  { kind: "Resiliency", version: "v1alpha1", subdir: "resiliency-v1alpha1" },
  { kind: "HTTPEndpoint", version: "v1alpha1", subdir: "httpendpoint-v1alpha1" },
] as const satisfies readonly { kind: DaprKind; version: string; subdir: string }[];

export type CorpusKind = (typeof CORPUS_SETS)[number]["kind"];

/**
 * Subscription v1alpha1 examples of Dapr's docs, from the pages before they moved to v2alpha1;
 * kept in this repository (testdata/dapr-docs/), each file naming its page.
 */
export const SUBSCRIPTION_V1ALPHA1_EXAMPLES_DIR = fileURLToPath(
  new URL("./testdata/dapr-docs/subscription-v1alpha1/", import.meta.url),
);

export interface CorpusFile {
  /** File name, e.g. 001-developing-applications-integrations-autoscale-keda.yaml */
  name: string;
  path: string;
  text: string;
}

/** The corpus files of one kind, sorted by name. Throws when the corpus is missing. */
export function corpusFiles(kind: CorpusKind, dir: string = DAPR_DOCS_CORPUS_DIR): CorpusFile[] {
  const set = CORPUS_SETS.find((s) => s.kind === kind);
  if (!set) throw new Error(`no corpus for ${kind}`);
  return yamlFiles(`${dir}/${set.subdir}`);
}

/** The Subscription v1alpha1 examples, sorted by name. */
export function subscriptionV1alpha1Examples(dir: string = SUBSCRIPTION_V1ALPHA1_EXAMPLES_DIR): CorpusFile[] {
  return yamlFiles(dir);
}

function yamlFiles(sub: string): CorpusFile[] {
  return readdirSync(sub)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((name) => ({ name, path: `${sub}/${name}`, text: readFileSync(`${sub}/${name}`, "utf8") }));
}

export interface InvalidCase {
  /** What is wrong with the resource. */
  title: string;
  /** The field the rejection must name, as the API server writes it: spec.metadata[1].name */
  field: string;
  /** A fragment of the rejection message. */
  message: string;
  resource: { apiVersion: string; kind: DaprKind; metadata: { name: string } } & Record<string, unknown>;
}

export const INVALID_RESOURCES_FILE = fileURLToPath(
  new URL("./testdata/invalid-resources.yaml", import.meta.url),
);

export function invalidCases(file: string = INVALID_RESOURCES_FILE): InvalidCase[] {
  return parseManifests(readFileSync(file, "utf8")).map((doc, i) => {
    const c = doc as InvalidCase;
    if (!c.title || !c.field || !c.message || !c.resource?.metadata?.name) {
      throw new Error(`${file}: document ${i} needs title, field, message and resource.metadata.name`);
    }
    return c;
  });
}
