// What rendering one resource gave, kept for the next app that renders it. Resolving a
// Component (or a Configuration, or a delivered kind) is a pure function of the object and the
// Secrets it reads, and one Component reaches every app of its namespace, so without this a cold
// start resolved and dumped each one once per app it reaches (10 times in the benchmark's load;
// js-yaml was a tenth of a cold start's CPU profile samples).
//
// Entries are keyed by the object itself, as the informer's cache holds it: a change arrives as
// a new object, so a changed resource misses and a replaced one's entry goes with it. The Secrets
// a resolution read are compared the same way, by the object the lookup returns now.
import { dump } from "js-yaml";
import type { V1Secret } from "@kubernetes/client-node";
import type { Resolution, SecretLookup } from "./sidecar-config.ts";

type Resolve<T> = (obj: T, secrets: SecretLookup) => Resolution;
type SecretRead = { namespace: string; name: string; secret: V1Secret | undefined };

/** Options of every YAML document in a sidecar config. */
export const DUMP_OPTIONS = { lineWidth: -1, noRefs: true } as const;

export interface RenderMemo {
  /** `resolve(obj, secrets)`, or what it gave before for this object when its Secrets are the same. */
  resolve<T extends object>(obj: T, secrets: SecretLookup, resolve: Resolve<T>): Resolution;
  /** The YAML text of a rendered document (treated as immutable). */
  yaml(document: Record<string, unknown>): string;
}

/** Renders every time: for one-off renders (the CLI, tests). */
export const NO_MEMO: RenderMemo = {
  resolve: (obj, secrets, resolve) => resolve(obj, secrets),
  yaml: (document) => dump(document, DUMP_OPTIONS),
};

/** A memo for a controller's life: what it holds goes with the objects it was made from. */
export function renderMemo(): RenderMemo {
  const resolutions = new WeakMap<
    Resolve<never>,
    WeakMap<object, { reads: SecretRead[]; resolution: Resolution }>
  >();
  const texts = new WeakMap<object, string>();
  return {
    resolve<T extends object>(obj: T, secrets: SecretLookup, resolve: Resolve<T>): Resolution {
      let byObject = resolutions.get(resolve as Resolve<never>);
      if (!byObject) resolutions.set(resolve as Resolve<never>, (byObject = new WeakMap()));
      const hit = byObject.get(obj);
      if (hit && hit.reads.every((r) => secrets(r.namespace, r.name) === r.secret)) return hit.resolution;
      const reads: SecretRead[] = [];
      const resolution = resolve(obj, (namespace, name) => {
        const secret = secrets(namespace, name);
        reads.push({ namespace, name, secret });
        return secret;
      });
      byObject.set(obj, { reads, resolution });
      return resolution;
    },
    yaml(document) {
      let text = texts.get(document);
      if (text === undefined) texts.set(document, (text = dump(document, DUMP_OPTIONS)));
      return text;
    },
  };
}
