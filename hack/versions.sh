# Pinned versions of the local control plane. Sourced by the other hack/ scripts.
# Changing a version changes the cache key, so the next `up` rebuilds only that component.
KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
# The newest daprd release whose dependencies the Go module proxy serves (v1.18.3 is refused).
DAPR_VERSION="${DAPR_VERSION:-v1.18.2}"
OUTRIGGER_CACHE="${OUTRIGGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/outrigger}"
