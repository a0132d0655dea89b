// The injector's few API calls (its certificate Secret, its webhook configuration) over the
// shared Kubernetes HTTP client, with the method names and shapes of client-node's generated
// clients: the code that uses them, and its tests, do not care which one they get. Not
// client-node itself: importing it costs ~68 MB of RSS (docs/performance.md).
import type {
  AdmissionregistrationV1Api,
  CoreV1Api,
  V1MutatingWebhookConfiguration,
  V1Secret,
} from "@kubernetes/client-node";
import type { KubeHttp } from "../shared/kube-http.ts";

export type SecretClient = Pick<
  CoreV1Api,
  "readNamespacedSecret" | "createNamespacedSecret" | "replaceNamespacedSecret"
>;

export type WebhookConfigClient = Pick<
  AdmissionregistrationV1Api,
  | "readMutatingWebhookConfiguration"
  | "createMutatingWebhookConfiguration"
  | "replaceMutatingWebhookConfiguration"
  | "deleteMutatingWebhookConfiguration"
>;

const seg = encodeURIComponent;

export function secretClient(http: KubeHttp): SecretClient {
  const collection = (namespace: string) => `/api/v1/namespaces/${seg(namespace)}/secrets`;
  return {
    readNamespacedSecret: ({ name, namespace }) =>
      http.json<V1Secret>({ path: `${collection(namespace)}/${seg(name)}` }),
    createNamespacedSecret: ({ namespace, body }) =>
      http.json<V1Secret>({ method: "POST", path: collection(namespace), body }),
    replaceNamespacedSecret: ({ name, namespace, body }) =>
      http.json<V1Secret>({ method: "PUT", path: `${collection(namespace)}/${seg(name)}`, body }),
  };
}

export function webhookConfigClient(http: KubeHttp): WebhookConfigClient {
  const collection = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
  return {
    readMutatingWebhookConfiguration: ({ name }) =>
      http.json<V1MutatingWebhookConfiguration>({ path: `${collection}/${seg(name)}` }),
    createMutatingWebhookConfiguration: ({ body }) =>
      http.json<V1MutatingWebhookConfiguration>({ method: "POST", path: collection, body }),
    replaceMutatingWebhookConfiguration: ({ name, body }) =>
      http.json<V1MutatingWebhookConfiguration>({ method: "PUT", path: `${collection}/${seg(name)}`, body }),
    deleteMutatingWebhookConfiguration: ({ name, body }) =>
      http.json({
        method: "DELETE",
        path: `${collection}/${seg(name)}`,
        body: { apiVersion: "v1", kind: "DeleteOptions", ...body },
      }),
  };
}
