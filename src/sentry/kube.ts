// Sentry's API calls over the shared Kubernetes HTTP client: TokenReview, reading the pod a
// token is bound to, and its own Secret and trust-bundle ConfigMap.
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import { jsonOrUndefined, type KubeHttp } from "../shared/kube-http.ts";
import type { BoundPod, TokenReviewOutcome } from "./validate.ts";

const seg = encodeURIComponent;
const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

/** Asks the API server whether `token` is valid for `audience`. Throws only when the call fails. */
export async function reviewToken(
  http: KubeHttp,
  token: string,
  audience: string,
): Promise<TokenReviewOutcome> {
  const res = await http.json<{ status?: TokenReviewStatus }>({
    method: "POST",
    path: "/apis/authentication.k8s.io/v1/tokenreviews",
    body: {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences: [audience] },
    },
    timeoutMs: 10_000,
  });
  const s = res.status ?? {};
  const extra = s.user?.extra ?? {};
  return {
    authenticated: s.authenticated === true,
    ...(s.user?.username ? { username: s.user.username } : {}),
    ...(s.audiences ? { audiences: s.audiences } : {}),
    ...(extra[POD_NAME_EXTRA]?.[0] ? { podName: extra[POD_NAME_EXTRA][0] } : {}),
    ...(extra[POD_UID_EXTRA]?.[0] ? { podUid: extra[POD_UID_EXTRA][0] } : {}),
    ...(s.error ? { error: s.error } : {}),
  };
}

/** The pod, or undefined when it does not exist. */
export async function readPod(
  http: KubeHttp,
  namespace: string,
  name: string,
): Promise<BoundPod | undefined> {
  const pod = await jsonOrUndefined<V1Pod>(http, {
    path: `/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}`,
    timeoutMs: 10_000,
  });
  return (
    pod && {
      name: pod.metadata?.name ?? name,
      namespace: pod.metadata?.namespace ?? namespace,
      uid: pod.metadata?.uid ?? "",
      annotations: pod.metadata?.annotations ?? {},
    }
  );
}

/** Read, create and replace of one kind of namespaced object; read gives undefined on 404. */
export interface ObjectClient<T> {
  read(namespace: string, name: string): Promise<T | undefined>;
  create(namespace: string, body: T): Promise<T>;
  replace(namespace: string, name: string, body: T): Promise<T>;
}

function objectClient<T>(http: KubeHttp, resource: "secrets" | "configmaps"): ObjectClient<T> {
  const collection = (ns: string) => `/api/v1/namespaces/${seg(ns)}/${resource}`;
  return {
    read: (namespace, name) => jsonOrUndefined<T>(http, { path: `${collection(namespace)}/${seg(name)}` }),
    create: (namespace, body) => http.json<T>({ method: "POST", path: collection(namespace), body }),
    replace: (namespace, name, body) =>
      http.json<T>({ method: "PUT", path: `${collection(namespace)}/${seg(name)}`, body }),
  };
}

export const secretObjects = (http: KubeHttp): ObjectClient<V1Secret> => objectClient(http, "secrets");
export const configMapObjects = (http: KubeHttp): ObjectClient<V1ConfigMap> =>
  objectClient(http, "configmaps");
