import type { V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { corpusFiles } from "../apis/conformance.testing.ts";
import { parseManifests } from "../apis/crd-schema.ts";
import type { Component, Configuration } from "../apis/types.ts";
import { NO_MEMO, renderMemo } from "./render-memo.ts";
import { desiredSidecarConfig, resolveComponent, type SecretLookup } from "./sidecar-config.ts";

const NS = "shop";
const secret = (name: string, value: string): V1Secret => ({
  metadata: { name, namespace: NS, resourceVersion: value },
  data: { password: Buffer.from(value).toString("base64") },
});
const redis: Component = {
  apiVersion: "dapr.io/v1alpha1",
  kind: "Component",
  metadata: { name: "store", namespace: NS },
  spec: {
    type: "state.redis",
    version: "v1",
    metadata: [
      { name: "redisHost", value: "redis:6379" },
      { name: "redisPassword", secretKeyRef: { name: "redis", key: "password" } },
    ],
  },
};

/** A lookup over a map that the test changes as an informer would: by replacing objects. */
function secretsOf(map: Map<string, V1Secret>): SecretLookup {
  return (_ns, name) => map.get(name);
}

describe("render memo", () => {
  it("resolves an object once while it and the Secrets it read stay the same objects", () => {
    const memo = renderMemo();
    const secrets = new Map([["redis", secret("redis", "one")]]);
    let calls = 0;
    const counted = (c: Component, s: SecretLookup) => (calls++, resolveComponent(c, s));

    const first = memo.resolve(redis, secretsOf(secrets), counted);
    const again = memo.resolve(redis, secretsOf(secrets), counted);
    expect(again).to.equal(first);
    expect(calls).to.equal(1);

    // The Secret changes: the informer holds a new object, so the memo resolves again.
    secrets.set("redis", secret("redis", "two"));
    const changed = memo.resolve(redis, secretsOf(secrets), counted);
    expect(calls).to.equal(2);
    expect(JSON.stringify(changed)).to.include('"value":"two"');

    // The Secret goes: the resolution fails, and is not served from before.
    secrets.delete("redis");
    const missing = memo.resolve(redis, secretsOf(secrets), counted);
    expect(missing).to.deep.include({ ok: false });
    expect(calls).to.equal(3);

    // It comes back: resolved again, no stale failure.
    secrets.set("redis", secret("redis", "three"));
    expect(memo.resolve(redis, secretsOf(secrets), counted)).to.deep.include({ ok: true });
    expect(calls).to.equal(4);

    // A changed Component is a new object, whatever its name.
    const edited: Component = { ...redis, spec: { ...redis.spec!, version: "v2" } };
    memo.resolve(edited, secretsOf(secrets), counted);
    expect(calls).to.equal(5);
  });

  it("keeps resolutions of different functions over one object apart", () => {
    const memo = renderMemo();
    const a = memo.resolve(
      redis,
      () => undefined,
      () => ({ ok: true, rendered: { from: "a" } }),
    );
    const b = memo.resolve(
      redis,
      () => undefined,
      () => ({ ok: true, rendered: { from: "b" } }),
    );
    expect([a, b]).to.deep.equal([
      { ok: true, rendered: { from: "a" } },
      { ok: true, rendered: { from: "b" } },
    ]);
  });

  it("renders the same sidecar configs as no memo, app after app, over Dapr's documented resources", () => {
    const components = corpusFiles("Component").flatMap((f) =>
      (parseManifests(f.text) as Component[]).map((c) => ({
        ...c,
        metadata: { ...c.metadata, namespace: NS },
      })),
    );
    const configurations = corpusFiles("Configuration").flatMap((f) =>
      (parseManifests(f.text) as Configuration[]).map((c) => ({
        ...c,
        metadata: { ...c.metadata, namespace: NS },
      })),
    );
    expect(components.length, "documented Components").to.be.greaterThan(100);
    // Every Secret a Component names exists (one object each, as in a cache), so that the
    // secret path is taken and memoized too.
    const made = new Map<string, V1Secret>();
    const secrets: SecretLookup = (_ns, name) => {
      const s = made.get(name) ?? {
        metadata: { name },
        data: new Proxy({}, { get: () => Buffer.from(`${name}-value`).toString("base64") }),
      };
      made.set(name, s);
      return s;
    };
    const memo = renderMemo();
    const scoped = [...new Set(components.flatMap((c) => c.scopes ?? []))].slice(0, 3);
    const appIds = ["app", "checkout", ...scoped];
    let compared = 0;
    for (const appId of appIds)
      for (const configuration of [undefined, ...configurations.slice(0, 4)]) {
        const app = { namespace: NS, appId, configName: configuration?.metadata?.name };
        const plain = desiredSidecarConfig(app, components, configuration, secrets, undefined, {}, NO_MEMO);
        const memoized = desiredSidecarConfig(app, components, configuration, secrets, undefined, {}, memo);
        expect(memoized.data, `${appId} with ${app.configName}`).to.deep.equal(plain.data);
        expect(memoized.hash).to.equal(plain.hash);
        compared++;
      }
    expect(compared).to.be.greaterThan(10);
  });
});
