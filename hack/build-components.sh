#!/usr/bin/env bash
# Builds the real Kubernetes components from their Go modules, once per version.
#
# Output: $OUTRIGGER_CACHE/bin/<component>-<version>/<binary>. A finished build leaves a
# `.done` stamp; anything without one is rebuilt. Usage: build-components.sh [component...]
# (default: all). Prints the bin directory of each component it was asked for.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/versions.sh"

export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0
mkdir -p "$OUTRIGGER_CACHE/bin"

log() { echo "build-components: $*" >&2; }

# done_or_build <dir> <fn> : runs <fn> <dir> unless <dir>/.done exists.
done_or_build() {
  local dir="$1" fn="$2"
  if [[ -f "$dir/.done" ]]; then echo "$dir"; return; fi
  # One build per component at a time: a second caller waits for the first, then reuses it.
  exec {lock}> "$dir.lock"
  flock "$lock"
  if [[ -f "$dir/.done" ]]; then exec {lock}>&-; echo "$dir"; return; fi
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  local start=$SECONDS
  "$fn" "$dir.tmp"
  rm -rf "$dir" && mv "$dir.tmp" "$dir" && touch "$dir/.done"
  log "built $(basename "$dir") in $((SECONDS - start))s"
  exec {lock}>&-
  echo "$dir"
}

# go install refuses k8s.io/kubernetes because its go.mod replaces the staging modules with
# local paths. A throwaway wrapper module pins each staging module to its published v0.Y.Z.
build_kubernetes() {
  local out="$1" mod="$1/wrapper" staging_version="v0.${KUBE_VERSION#v1.}"
  mkdir -p "$mod"
  local gomod
  gomod="$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  {
    echo "module outrigger.local/kube-wrapper"
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | while read -r m; do
      echo "  $m => $m $staging_version"
    done
    echo ")"
  } > "$mod/go.mod"
  cat > "$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local pkg="k8s.io/component-base/version"
  local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  (
    cd "$mod"
    go mod tidy -e >/dev/null 2>&1 || true
    go mod download
    GOFLAGS="$GOFLAGS -tags=tools" go mod tidy
    for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
      log "go build $cmd $KUBE_VERSION"
      go build -ldflags "$ldflags" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
  rm -rf "$mod"
}

build_etcd() {
  local out="$1" mod="$1/wrapper"
  mkdir -p "$mod"
  printf 'module outrigger.local/etcd-wrapper\ngo %s\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')" "$ETCD_VERSION" > "$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$mod/tools.go"
  (
    cd "$mod"
    GOFLAGS="$GOFLAGS -tags=tools" go mod tidy
    log "go build etcd $ETCD_VERSION"
    go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  )
  rm -rf "$mod"
}

build_kwok() {
  log "go install kwok $KWOK_VERSION"
  GOBIN="$1" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok runs no stages unless configured. Use the ones its module publishes: nodes become Ready
  # and renew their Lease, pods become Ready, and completed or deleted pods finish.
  local dir
  dir="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/kustomize/stage"
  for f in "$dir"/node/fast/node-initialize.yaml "$dir"/node/heartbeat-with-lease/*.yaml "$dir"/pod/fast/pod-*.yaml; do
    cat "$f"; echo "---"
  done > "$1/stages.yaml"
}

# helm's default Kubernetes version (what `helm template` assumes without --kube-version) is set
# by ldflags, as helm's own Makefile does; without them it is v1.20.0 and the chart's kubeVersion
# (>=1.30) refuses to render offline. Set to the pinned Kubernetes version, so the local helm
# agrees with the local cluster.
helm_ldflags() {
  local major="${HELM_VERSION%%.*}" kube_minor="${KUBE_VERSION#v1.}"
  kube_minor="${kube_minor%%.*}"
  local flags="-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION"
  for pkg in chartutil lint/rules; do
    flags+=" -X helm.sh/helm/$major/pkg/$pkg.k8sVersionMajor=1 -X helm.sh/helm/$major/pkg/$pkg.k8sVersionMinor=$kube_minor"
  done
  echo "$flags"
}

build_helm() {
  local major="${HELM_VERSION%%.*}"
  log "go install helm $HELM_VERSION (default Kubernetes $KUBE_VERSION)"
  GOBIN="$1" go install -ldflags "$(helm_ldflags)" "helm.sh/helm/$major/cmd/helm@$HELM_VERSION"
}

# daprd the way kube-apiserver is built: a throwaway wrapper module requires github.com/dapr/dapr
# at the pinned release and copies every replace directive of dapr's go.mod (go install ignores
# them in a dependency). allcomponents is the tag dapr's release build uses.
build_daprd() {
  local out="$1" mod="$1/wrapper"
  mkdir -p "$mod"
  local gomod
  gomod="$(cd "$mod" && go mod download -json "github.com/dapr/dapr@$DAPR_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  {
    echo "module outrigger.local/daprd-wrapper"
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo "require github.com/dapr/dapr $DAPR_VERSION"
    echo "replace ("
    # Both forms: `replace a => b v` lines and the members of `replace ( ... )` blocks.
    awk '/^[[:space:]]*\/\//{next}
         /^replace[[:space:]]*\(/{inblock=1; next}
         inblock && /^[[:space:]]*\)/{inblock=0; next}
         inblock && /=>/{sub(/\/\/.*/, ""); print "  " $0; next}
         /^replace[[:space:]].*=>/{sub(/^replace[[:space:]]+/, ""); sub(/\/\/.*/, ""); print "  " $0}' "$gomod"
    echo ")"
  } > "$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/dapr/dapr/cmd/daprd"\n' > "$mod/tools.go"
  (
    cd "$mod"
    GOFLAGS="$GOFLAGS -tags=tools,allcomponents" go mod tidy
    log "go build daprd $DAPR_VERSION"
    go build -tags allcomponents \
      -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION#v}" \
      -o "$out/daprd" github.com/dapr/dapr/cmd/daprd
  )
  rm -rf "$mod"
}

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(etcd kubernetes kwok helm daprd)
for c in "${components[@]}"; do
  case "$c" in
    kubernetes) done_or_build "$OUTRIGGER_CACHE/bin/kubernetes-$KUBE_VERSION" build_kubernetes ;;
    etcd) done_or_build "$OUTRIGGER_CACHE/bin/etcd-$ETCD_VERSION" build_etcd ;;
    kwok) done_or_build "$OUTRIGGER_CACHE/bin/kwok-$KWOK_VERSION" build_kwok ;;
    # The ldflags are part of the key: a cache built with other ones is rebuilt once.
    helm) done_or_build "$OUTRIGGER_CACHE/bin/helm-$HELM_VERSION-$(helm_ldflags | sha256sum | cut -c1-12)" build_helm ;;
    daprd) done_or_build "$OUTRIGGER_CACHE/bin/daprd-$DAPR_VERSION" build_daprd ;;
    *) echo "unknown component: $c" >&2; exit 2 ;;
  esac
done
