#!/usr/bin/env bash
# Runs the e2e suite on a kind cluster: create the cluster, build and load the image, install
# the chart, run the specs with OUTRIGGER_E2E_PROVIDER=kind.
#
# This needs a container engine (docker or podman) and the kind binary. The development
# machines of this project have neither, so this script is not run by `npm test` or CI there;
# the same specs run against hack/local-cluster.sh instead. Keep it small.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${KIND_CLUSTER_NAME:-outrigger-e2e}"
image="outrigger:e2e"
command -v kind >/dev/null || { echo "kind-e2e: the kind binary is required" >&2; exit 1; }
command -v docker >/dev/null || { echo "kind-e2e: a container engine is required" >&2; exit 1; }

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 120s
export KUBECONFIG="$PWD/.outrigger/kind-$cluster.kubeconfig"
kind get kubeconfig --name "$cluster" > "$KUBECONFIG"
docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"
helm upgrade --install outrigger deploy/helm/outrigger --namespace outrigger-system --create-namespace \
  --set image.repository=outrigger --set image.tag=e2e --set image.pullPolicy=Never --wait
OUTRIGGER_E2E_PROVIDER=kind npx mocha --config test/e2e/.mocharc.json "$@"
