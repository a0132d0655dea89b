// The "try it" block `npm start` prints once Outrigger is up: how to reach the cluster, a
// Component and an annotated Deployment to apply, and where to look. The manifests are the
// ones test/e2e/start.e2e.ts applies from the printed block, so the block is known to work.

/** A Component every app of the namespace receives, and a Deployment that asks for a sidecar. */
export const TRY_IT_MANIFESTS = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.in-memory
  version: v1
  metadata: []
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
      annotations:
        dapr.io/enabled: "true"
        dapr.io/app-id: hello
        dapr.io/app-port: "8080"
    spec:
      containers:
        - name: hello
          image: registry.k8s.io/pause:3.10
`;

export const TRY_IT_BEGIN = "kubectl apply -f - <<'EOF'";
export const TRY_IT_END = "EOF";

/** The block, ready to print; `ready` false adds that a process did not report ready in time. */
export function tryItBlock(kubeconfig: string, ready = true): string {
  const indent = (text: string) =>
    text
      .trimEnd()
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
  return [
    "",
    ready
      ? "Outrigger is running. Try it from another shell:"
      : "Outrigger started, but a process did not report ready yet (see the logs above). Try it from another shell:",
    "",
    indent(`export KUBECONFIG=${kubeconfig}`),
    indent(TRY_IT_BEGIN),
    indent(TRY_IT_MANIFESTS),
    indent(TRY_IT_END),
    "",
    "Then look:",
    "",
    indent(
      [
        "kubectl get pods -l app=hello -o jsonpath='{.items[0].spec.initContainers[*].name}'   # daprd, injected",
        "kubectl get secret hello-dapr-sidecar -o jsonpath='{.data.components\\.yaml}' | base64 -d   # its config",
        "kubectl get components statestore -o jsonpath='{.status.conditions}'   # Ready, and why not",
        "npx outrigger explain app/hello   # what the app receives, and why",
        "npx outrigger explain pod/<pod name>   # why a pod was (not) injected",
      ].join("\n"),
    ),
    "",
    "Ctrl-C stops Outrigger (and the local control plane, if this started it).",
    "",
  ].join("\n");
}

/** The manifests between the heredoc lines of a printed block (for the e2e spec). */
export function manifestsOfTryItBlock(printed: string): string | undefined {
  const lines = printed.split("\n");
  const begin = lines.findIndex((l) => l.trim() === TRY_IT_BEGIN);
  const end = lines.findIndex((l, i) => i > begin && l.trim() === TRY_IT_END);
  if (begin < 0 || end < 0) return undefined;
  return `${lines
    .slice(begin + 1, end)
    .map((l) => l.slice(2))
    .join("\n")}\n`;
}
