// Issues 3 and 13: the CRDs of every Dapr kind on a real API server. Every resource of Dapr's
// documentation is accepted, invalid resources are rejected with a message naming the field,
// and kubectl shows the printer columns, the status and the `dapr` category.
import { expect } from "chai";
import {
  CORPUS_SETS,
  corpusFiles,
  invalidCases,
  subscriptionV1alpha1Examples,
  type CorpusFile,
} from "../../src/apis/conformance.testing.ts";
import { parseManifests, type DaprKind } from "../../src/apis/crd-schema.ts";
import { repoRoot } from "./harness/cluster.ts";
import { useNamespace } from "./harness/namespace.ts";
import { kubectl } from "./harness/util.ts";
import { DAPR_RESOURCES } from "../../src/apis/resources.ts";

const CRD_NAMES = DAPR_RESOURCES.map(({ names }) => `${names.plural}.dapr.io`);
const RESOURCE = Object.fromEntries(
  DAPR_RESOURCES.map(({ names }) => [names.kind, `${names.plural}.dapr.io`]),
) as Record<DaprKind, string>;
/** How kubectl names an object in its output: component.dapr.io/statestore */
const objectRef = (kind: DaprKind, name: string) => `${kind.toLowerCase()}.dapr.io/${name}`;
/** Several objects as one kubectl input: a v1 List, since JSON documents cannot be joined with ---. */
const asList = (...items: object[]) => JSON.stringify({ apiVersion: "v1", kind: "List", items });

/**
 * The file's text with metadata.name and metadata.namespace replaced, everything else as
 * written, so kubectl parses the YAML itself. Names are replaced because Dapr's docs use
 * placeholders such as <NAME>, which no API server accepts as an object name, and repeat
 * names such as statestore across files.
 */
function withNameAndNamespace(text: string, name: string, namespace: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^metadata:\s*$/.test(l));
  if (start < 0) throw new Error("no top-level `metadata:` block");
  let end = start + 1;
  while (end < lines.length && /^(\s|$)/.test(lines[end] ?? "")) end++;
  const block = lines.slice(start + 1, end);
  const indent =
    /^(\s+)\S/.exec(block.find((l) => l.trim() !== "" && !l.trim().startsWith("#")) ?? "")?.[1] ?? "  ";
  const kept = block.filter((l) => !new RegExp(`^${indent}(name|namespace):`).test(l));
  const meta = [`${indent}name: ${JSON.stringify(name)}`, `${indent}namespace: ${JSON.stringify(namespace)}`];
  return [...lines.slice(0, start + 1), ...meta, ...kept, ...lines.slice(end)].join("\n");
}

/** kubectl's object name for a corpus file: the file name, which is unique and a valid name. */
function objectName(file: CorpusFile): string {
  return file.name.replace(/\.ya?ml$/, "");
}

describe("CRDs: every Dapr kind (dapr.io)", function () {
  const ns = useNamespace("crds");

  it("kubectl apply -f crds/ works and every CRD is Established", async () => {
    await kubectl(["apply", "-f", `${repoRoot}crds`]);
    await kubectl([
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      ...CRD_NAMES.map((n) => `crd/${n}`),
    ]);
    const crds = JSON.parse((await kubectl(["get", "crd", ...CRD_NAMES, "-o", "json"])).stdout) as {
      items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[];
    };
    for (const crd of crds.items) {
      const conditions = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
      expect(conditions, crd.metadata.name).to.include({ Established: "True", NamesAccepted: "True" });
    }
    expect(crds.items).to.have.length(CRD_NAMES.length);
    const resources = (await kubectl(["api-resources", "--api-group=dapr.io", "-o", "wide"])).stdout;
    for (const { names, versions } of DAPR_RESOURCES) {
      // kubectl lists the preferred version, the stored one (v2alpha1 for Subscription).
      const row = new RegExp(
        `^${names.plural}\\s+${names.shortNames.join(",")}\\s+dapr\\.io/${versions[0]}\\s+true\\s+${names.kind}\\s.*dapr`,
        "m",
      );
      expect(resources, names.kind).to.match(row);
    }
  });

  it("accepts every resource of Dapr's docs (conformance corpus)", async function () {
    this.timeout(300_000);
    const files = new Map(CORPUS_SETS.map(({ kind }) => [kind, corpusFiles(kind)]));
    const documents: string[] = [];
    const fileOf = new Map<string, CorpusFile>();
    for (const [kind, kindFiles] of files) {
      for (const file of kindFiles) {
        const name = objectName(file);
        const text = withNameAndNamespace(file.text, name, ns.name);
        // The edit must change nothing but the object's name and namespace.
        const [original, edited] = [parseManifests(file.text)[0], parseManifests(text)[0]] as Record<
          string,
          unknown
        >[];
        expect({ ...edited, metadata: undefined }, file.name).to.deep.equal({
          ...original,
          metadata: undefined,
        });
        expect(edited?.metadata, file.name).to.deep.equal({ name, namespace: ns.name });
        documents.push(text);
        fileOf.set(objectRef(kind, name), file);
      }
    }

    // One multi-document apply: kubectl applies each object and reports each success or error.
    const result = await kubectl(["apply", "-f", "-"], { input: documents.join("\n---\n"), allowFail: true });
    const applied = new Set(
      result.stdout
        .split("\n")
        .map((l) => /^(\S+) (created|configured|unchanged)$/.exec(l.trim())?.[1])
        .filter((x): x is string => x !== undefined),
    );
    const rejected = [...fileOf]
      .filter(([object]) => !applied.has(object))
      .map(([object, file]) => {
        const name = object.split("/")[1] ?? object;
        const error = result.stderr.split("\n").find((l) => l.includes(`"${name}"`)) ?? "no error line";
        return `${file.name}: ${error}`;
      });
    expect(rejected, `rejected corpus files\n${result.stderr}`).to.deep.equal([]);
    expect(result.code, result.stderr).to.equal(0);

    const stored = async (resource: string) =>
      (await kubectl(["get", resource, "-o", "name"], { namespace: ns.name })).stdout.trim().split("\n")
        .length;
    const counts: string[] = [];
    let total = 0;
    for (const [kind, kindFiles] of files) {
      const count = await stored(RESOURCE[kind]);
      expect(count, kind).to.equal(kindFiles.length);
      counts.push(`${count} ${kind}`);
      total += count;
    }
    console.log(`      conformance: ${total} of Dapr's docs resources accepted (${counts.join(", ")})`);
  });

  // With no injector serving /convert (this spec runs none), a v1alpha1 Subscription passes validation at
  // v1alpha1 and then fails at the conversion to the stored v2alpha1, with the API server's own
  // error naming the Service (docs/crds.md). v2alpha1 requests, `kubectl get subscriptions` and
  // `kubectl get dapr` need no conversion and work.
  it("validates Dapr's docs v1alpha1 Subscriptions, then reports the unreachable conversion webhook", async () => {
    const examples = subscriptionV1alpha1Examples();
    let refused = 0;
    for (const file of examples) {
      const text = withNameAndNamespace(file.text, objectName(file), ns.name);
      const result = await kubectl(["apply", "-f", "-"], { input: text, allowFail: true });
      expect(result.stderr, file.name).to.match(
        /conversion webhook for dapr\.io\/v1alpha1, Kind=Subscription failed: .*outrigger-injector/,
      );
      expect(result.stderr, file.name).to.not.include("is invalid");
      refused++;
    }
    console.log(
      `      Subscription v1alpha1: ${refused} of ${examples.length} docs examples valid, refused at the conversion (no injector serving it)`,
    );
  });

  describe("rejects invalid resources with a message naming the field", () => {
    for (const c of invalidCases()) {
      it(`${c.resource.kind}: ${c.title}`, async () => {
        const resource = { ...c.resource, metadata: { ...c.resource.metadata, namespace: ns.name } };
        const result = await kubectl(["apply", "-f", "-"], {
          input: JSON.stringify(resource),
          allowFail: true,
        });
        expect(result.code, `accepted:\n${result.stdout}`).to.not.equal(0);
        expect(result.stderr).to.include(c.field);
        expect(result.stderr).to.include(c.message);
        const get = await kubectl(["get", RESOURCE[c.resource.kind], c.resource.metadata.name], {
          namespace: ns.name,
          allowFail: true,
        });
        expect(get.stderr).to.include("NotFound");
      });
    }
  });

  it("shows the printer columns, the status written through the subresource, and the dapr category", async () => {
    const component = {
      apiVersion: "dapr.io/v1alpha1",
      kind: "Component",
      metadata: { name: "statestore", namespace: ns.name },
      spec: { type: "state.redis", version: "v1", metadata: [{ name: "redisHost", value: "redis:6379" }] },
      scopes: ["checkout"],
    };
    const configuration = {
      apiVersion: "dapr.io/v1alpha1",
      kind: "Configuration",
      metadata: { name: "appconfig", namespace: ns.name },
      spec: { tracing: { samplingRate: "1", stdout: true } },
    };
    // A status in the applied object is dropped: only the status subresource writes it.
    const withStatus = { ...component, status: { appCount: 7 } };
    await kubectl(["apply", "-f", "-"], { input: asList(withStatus, configuration) });
    const stored = JSON.parse(
      (await kubectl(["get", "component", "statestore", "-o", "json"], { namespace: ns.name })).stdout,
    );
    expect(stored.status).to.equal(undefined);

    const rows = async (args: string[]) =>
      (await kubectl(["get", ...args], { namespace: ns.name })).stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s{2,}/));
    const before = await rows(["components"]);
    expect(before[0]).to.deep.equal(["NAME", "TYPE", "VERSION", "READY", "AGE"]);
    expect(before[1]?.slice(0, 3)).to.deep.equal(["statestore", "state.redis", "v1"]);

    const status = (ready: string, appCount: number) => ({
      status: {
        observedGeneration: 1,
        appCount,
        conditions: [
          {
            type: "Ready",
            status: ready,
            reason: ready === "True" ? "Delivered" : "SecretNotFound",
            message: "",
            lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
          },
        ],
      },
    });
    const patchStatus = (resource: string, body: object) =>
      kubectl(["patch", resource, "--subresource=status", "--type=merge", "-p", JSON.stringify(body)], {
        namespace: ns.name,
        allowFail: true,
      });
    expect((await patchStatus("component/statestore", status("True", 2))).code).to.equal(0);
    expect((await patchStatus("configuration/appconfig", status("False", 1))).code).to.equal(0);

    const componentRows = await rows(["components"]);
    expect(componentRows[0]).to.deep.equal(["NAME", "TYPE", "VERSION", "READY", "AGE"]);
    expect(componentRows[1]?.slice(0, 4)).to.deep.equal(["statestore", "state.redis", "v1", "True"]);
    const wide = await rows(["components", "-o", "wide"]);
    expect(wide[0]).to.deep.equal(["NAME", "TYPE", "VERSION", "READY", "APPS", "AGE"]);
    expect(wide[1]?.slice(0, 5)).to.deep.equal(["statestore", "state.redis", "v1", "True", "2"]);

    const configurationRows = await rows(["configurations"]);
    expect(configurationRows[0]).to.deep.equal(["NAME", "READY", "AGE"]);
    expect(configurationRows[1]?.slice(0, 2)).to.deep.equal(["appconfig", "False"]);

    // The status schema holds: a condition status other than True/False/Unknown is refused.
    const bad = await patchStatus("component/statestore", {
      status: { conditions: [{ ...status("Yes", 0).status.conditions[0] }] },
    });
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.include("status.conditions[0].status");
    expect(bad.stderr).to.include("Unsupported value");

    const dapr = (await kubectl(["get", "dapr", "-o", "name"], { namespace: ns.name })).stdout
      .trim()
      .split("\n");
    expect(dapr).to.have.members(["component.dapr.io/statestore", "configuration.dapr.io/appconfig"]);
    const short = (await kubectl(["get", "dcomp,dconf", "-o", "name"], { namespace: ns.name })).stdout
      .trim()
      .split("\n");
    expect(short).to.have.members(dapr);
  });

  it("shows the new kinds' printer columns, short names and the dapr category", async () => {
    const meta = (name: string) => ({ name, namespace: ns.name });
    const objects = [
      {
        apiVersion: "dapr.io/v2alpha1",
        kind: "Subscription",
        metadata: meta("orders"),
        spec: { pubsubname: "pubsub", topic: "orders", routes: { default: "/orders" } },
      },
      {
        apiVersion: "dapr.io/v1alpha1",
        kind: "Resiliency",
        metadata: meta("retries"),
        spec: { policies: { timeouts: { general: "5s" } }, targets: { apps: { b: { timeout: "general" } } } },
      },
      {
        apiVersion: "dapr.io/v1alpha1",
        kind: "HTTPEndpoint",
        metadata: meta("external"),
        spec: { baseUrl: "https://api.example.com" },
      },
      {
        apiVersion: "dapr.io/v1alpha1",
        kind: "MCPServer",
        metadata: meta("tools"),
        spec: { endpoint: { streamableHTTP: { url: "https://mcp.example.com/mcp", timeout: "30s" } } },
      },
      {
        apiVersion: "dapr.io/v1alpha1",
        kind: "WorkflowAccessPolicy",
        metadata: meta("orders-policy"),
        spec: { rules: [{ callers: [{ appID: "checkout" }], activities: [{ name: "Charge*" }] }] },
      },
    ];
    await kubectl(["apply", "-f", "-"], { input: asList(...objects) });
    const header = async (resource: string, wide = false) =>
      (await kubectl(["get", resource, ...(wide ? ["-o", "wide"] : [])], { namespace: ns.name })).stdout
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s{2,}/));
    const subscriptions = await header("subscriptions");
    expect(subscriptions[0]).to.deep.equal(["NAME", "PUBSUB", "TOPIC", "READY", "AGE"]);
    expect(subscriptions[1]?.slice(0, 3)).to.deep.equal(["orders", "pubsub", "orders"]);
    expect((await header("httpendpoints"))[0]).to.deep.equal(["NAME", "BASE URL", "READY", "AGE"]);
    for (const resource of ["resiliencies", "mcpservers", "workflowaccesspolicies"]) {
      expect((await header(resource))[0], resource).to.deep.equal(["NAME", "READY", "AGE"]);
      expect((await header(resource, true))[0], resource).to.deep.equal(["NAME", "READY", "APPS", "AGE"]);
    }

    const names = objects.map((o) => `${o.kind.toLowerCase()}.dapr.io/${o.metadata.name}`);
    const dapr = (await kubectl(["get", "dapr", "-o", "name"], { namespace: ns.name })).stdout
      .trim()
      .split("\n");
    expect(dapr).to.include.members(names);
    // The category lists every kind crds/ defines: add the two older kinds, then compare kinds.
    await kubectl(["apply", "-f", "-"], {
      input: asList(
        {
          apiVersion: "dapr.io/v1alpha1",
          kind: "Component",
          metadata: meta("category-component"),
          spec: { type: "state.in-memory", version: "v1", metadata: [] },
        },
        {
          apiVersion: "dapr.io/v1alpha1",
          kind: "Configuration",
          metadata: meta("category-config"),
          spec: {},
        },
      ),
    });
    const every = (await kubectl(["get", "dapr", "-o", "name"], { namespace: ns.name })).stdout
      .trim()
      .split("\n");
    const kinds = [...new Set(every.map((n) => n.split("/")[0]))].sort();
    console.log(
      `      kubectl get dapr: ${every.length} objects of ${kinds.length} kinds (${kinds.join(", ")})`,
    );
    expect(kinds).to.deep.equal(DAPR_RESOURCES.map((r) => `${r.names.singular}.dapr.io`).sort());
    const short = (
      await kubectl(["get", "dsub,dres,dhttp,dmcp,dwap", "-o", "name"], { namespace: ns.name })
    ).stdout
      .trim()
      .split("\n");
    expect(short).to.have.members(names);
  });
});
