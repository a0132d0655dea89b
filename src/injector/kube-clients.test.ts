import { expect } from "chai";
import type { KubeHttp, KubeRequest } from "../shared/kube-http.ts";
import { secretClient, webhookConfigClient } from "./kube-clients.ts";

/** A KubeHttp that records each request and answers with its echo. */
function recordingHttp(): { http: KubeHttp; requests: KubeRequest[] } {
  const requests: KubeRequest[] = [];
  const http: KubeHttp = {
    json: async <T>(req: KubeRequest) => {
      requests.push(req);
      return { echo: req.path } as T;
    },
    chunks: async () => {
      throw new Error("no streams here");
    },
  };
  return { http, requests };
}

describe("the injector's API clients", () => {
  it("read, create and replace the certificate Secret at the core API paths", async () => {
    const { http, requests } = recordingHttp();
    const core = secretClient(http);
    const body = { metadata: { name: "certs" }, data: { a: "Yg==" } };
    expect(await core.readNamespacedSecret({ name: "certs", namespace: "outrigger-system" })).to.deep.equal({
      echo: "/api/v1/namespaces/outrigger-system/secrets/certs",
    });
    await core.createNamespacedSecret({ namespace: "outrigger-system", body });
    await core.replaceNamespacedSecret({ name: "certs", namespace: "outrigger-system", body });
    expect(requests.map((r) => `${r.method ?? "GET"} ${r.path}`)).to.deep.equal([
      "GET /api/v1/namespaces/outrigger-system/secrets/certs",
      "POST /api/v1/namespaces/outrigger-system/secrets",
      "PUT /api/v1/namespaces/outrigger-system/secrets/certs",
    ]);
    expect(requests[1]?.body).to.equal(body);
    expect(requests[2]?.body).to.equal(body);
  });

  it("read, create, replace and delete (with preconditions) the webhook configuration", async () => {
    const { http, requests } = recordingHttp();
    const api = webhookConfigClient(http);
    const body = { metadata: { name: "outrigger" } };
    await api.readMutatingWebhookConfiguration({ name: "outrigger" });
    await api.createMutatingWebhookConfiguration({ body });
    await api.replaceMutatingWebhookConfiguration({ name: "outrigger", body });
    await api.deleteMutatingWebhookConfiguration({
      name: "outrigger",
      body: { preconditions: { resourceVersion: "42" } },
    });
    const path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
    expect(requests.map((r) => `${r.method ?? "GET"} ${r.path}`)).to.deep.equal([
      `GET ${path}/outrigger`,
      `POST ${path}`,
      `PUT ${path}/outrigger`,
      `DELETE ${path}/outrigger`,
    ]);
    expect(requests[3]?.body).to.deep.equal({
      apiVersion: "v1",
      kind: "DeleteOptions",
      preconditions: { resourceVersion: "42" },
    });
  });

  it("escapes names in paths", async () => {
    const { http, requests } = recordingHttp();
    await secretClient(http).readNamespacedSecret({ name: "a/b", namespace: "n s" });
    expect(requests[0]?.path).to.equal("/api/v1/namespaces/n%20s/secrets/a%2Fb");
  });
});
