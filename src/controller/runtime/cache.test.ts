import type { KubernetesObject } from "@kubernetes/client-node";
import { expect } from "chai";
import { ObjectCache, diffRelist, keyOf, objectKey, splitKey } from "./cache.ts";

interface Component extends KubernetesObject {
  spec: { secrets: string[] };
}

function component(
  ns: string,
  name: string,
  rv: string,
  secrets: string[] = [],
  uid = `${ns}-${name}`,
): Component {
  return {
    apiVersion: "dapr.io/v1alpha1",
    kind: "Component",
    metadata: { namespace: ns, name, resourceVersion: rv, uid },
    spec: { secrets },
  };
}

const names = (objs: KubernetesObject[]) => objs.map((o) => objectKey(o)).sort();

describe("ObjectCache", () => {
  it("keys namespaced and cluster-scoped objects", () => {
    expect(objectKey(component("ns", "a", "1"))).to.equal("ns/a");
    expect(objectKey({ metadata: { name: "node-1" } })).to.equal("node-1");
    expect(keyOf(undefined, "x")).to.equal("x");
    expect(splitKey("ns/a")).to.deep.equal({ namespace: "ns", name: "a" });
    expect(splitKey("node-1")).to.deep.equal({ namespace: undefined, name: "node-1" });
  });

  it("indexes by namespace and by custom multi-valued index functions", () => {
    const cache = new ObjectCache<Component>({
      secret: (c) => c.spec.secrets.map((s) => `${c.metadata!.namespace}/${s}`),
    });
    cache.upsert(component("a", "redis", "1", ["redis-pw", "tls"]));
    cache.upsert(component("a", "kafka", "1", ["tls"]));
    cache.upsert(component("b", "redis", "1", ["redis-pw"]));

    expect(names(cache.listNamespace("a"))).to.deep.equal(["a/kafka", "a/redis"]);
    expect(names(cache.listNamespace("c"))).to.deep.equal([]);
    expect(names(cache.byIndex("secret", "a/tls"))).to.deep.equal(["a/kafka", "a/redis"]);
    expect(names(cache.byIndex("secret", "a/redis-pw"))).to.deep.equal(["a/redis"]);
    expect(cache.indexValues("secret").sort()).to.deep.equal(["a/redis-pw", "a/tls", "b/redis-pw"]);
    expect(cache.getByName("b", "redis")?.metadata?.resourceVersion).to.equal("1");
    expect(() => cache.byIndex("nope", "x")).to.throw(/no index "nope"/);
  });

  it("moves an object between index values when it changes, and drops empty values", () => {
    const cache = new ObjectCache<Component>({ secret: (c) => c.spec.secrets });
    cache.upsert(component("a", "redis", "1", ["old"]));
    const old = cache.upsert(component("a", "redis", "2", ["new"]));
    expect(old?.metadata?.resourceVersion).to.equal("1");
    expect(cache.byIndex("secret", "old")).to.deep.equal([]);
    expect(names(cache.byIndex("secret", "new"))).to.deep.equal(["a/redis"]);
    expect(cache.indexValues("secret")).to.deep.equal(["new"]);

    expect(cache.remove("a/redis")?.metadata?.resourceVersion).to.equal("2");
    expect(cache.remove("a/redis")).to.equal(undefined);
    expect(cache.indexValues("secret")).to.deep.equal([]);
    expect(cache.indexValues("namespace")).to.deep.equal([]);
    expect(cache.size()).to.equal(0);
  });

  it("indexes existing objects when an index is added later", () => {
    const cache = new ObjectCache<Component>();
    cache.upsert(component("a", "redis", "1", ["pw"]));
    cache.addIndex("secret", (c) => c.spec.secrets);
    expect(names(cache.byIndex("secret", "pw"))).to.deep.equal(["a/redis"]);
    expect(() => cache.addIndex("secret", () => [])).to.throw(/already exists/);
  });

  it("replace() applies a relist and reports what changed", () => {
    const cache = new ObjectCache<Component>({ secret: (c) => c.spec.secrets });
    cache.upsert(component("a", "kept", "1", ["s"]));
    cache.upsert(component("a", "changed", "1"));
    cache.upsert(component("a", "deleted-while-away", "1", ["s"]));

    const diff = cache.replace([
      component("a", "kept", "1", ["s"]),
      component("a", "changed", "7"),
      component("a", "new", "8"),
    ]);

    expect(names(diff.added)).to.deep.equal(["a/new"]);
    expect(
      diff.updated.map((u) => [u.oldObj.metadata!.resourceVersion, u.newObj.metadata!.resourceVersion]),
    ).to.deep.equal([["1", "7"]]);
    expect(names(diff.deleted)).to.deep.equal(["a/deleted-while-away"]);
    expect(names(cache.list())).to.deep.equal(["a/changed", "a/kept", "a/new"]);
    expect(names(cache.byIndex("secret", "s"))).to.deep.equal(["a/kept"]);
  });
});

describe("diffRelist", () => {
  it("notices deletes that happened while disconnected", () => {
    const cached = new Map([
      ["a/x", component("a", "x", "1")],
      ["b/y", component("b", "y", "2")],
    ]);
    const diff = diffRelist(cached, [component("a", "x", "1")]);
    expect(diff).to.deep.equal({ added: [], updated: [], deleted: [component("b", "y", "2")] });
  });

  it("reports a delete plus an add for an object recreated under the same name", () => {
    const cached = new Map([["a/x", component("a", "x", "1", [], "uid-1")]]);
    const diff = diffRelist(cached, [component("a", "x", "5", [], "uid-2")]);
    expect(names(diff.deleted)).to.deep.equal(["a/x"]);
    expect(diff.deleted[0]!.metadata!.uid).to.equal("uid-1");
    expect(diff.added[0]!.metadata!.uid).to.equal("uid-2");
    expect(diff.updated).to.deep.equal([]);
  });

  it("reports nothing when every resourceVersion is the same", () => {
    const cached = new Map([["a/x", component("a", "x", "3")]]);
    expect(diffRelist(cached, [component("a", "x", "3")])).to.deep.equal({
      added: [],
      updated: [],
      deleted: [],
    });
  });
});
