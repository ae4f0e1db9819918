#!/usr/bin/env bash
# Step 2: Kubernetes and CoreDNS, built from their Go module source into .tools/ (keyed by
# version) the first time; later runs find them there. No release binaries are fetched:
# everything comes from the Go module proxy, like Helm in scripts/ensure-helm.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
export CGO_ENABLED=0 GOFLAGS=-mod=mod

have_all() {
  for command in "${K8S_COMMANDS[@]}"; do [ -x "$K8S_BIN/$command" ] || return 1; done
}

build_kubernetes() {
  if have_all; then say "Kubernetes $K8S_VERSION already built in ${K8S_BIN#$ROOT/}"; return 0; fi
  say "building Kubernetes $K8S_VERSION from its module source (first time only, ~15 min on 2 cores)"
  local dir src
  dir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)
  src=$(mktemp -d "$TOOLS/kubernetes-src.XXXXXX")
  cp -r "$dir/." "$src/" && chmod -R u+w "$src"
  # The module's go.mod points every k8s.io/X at ./staging/src/k8s.io/X, which the module
  # zip does not ship in a buildable form; the published staging modules are the same code.
  rm -rf "$src/vendor" "$src"/go.work*
  sed -i -E "s#(k8s.io/[a-z0-9-]+) => \./staging/src/k8s.io/[a-z0-9-]+#\1 => \1 $K8S_STAGING_VERSION#" "$src/go.mod"
  # Helm checks a chart's kubeVersion against what the API server reports: set it.
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $package.gitVersion=$K8S_VERSION -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    ldflags+=" -X $package.gitTreeState=clean -X $package.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$K8S_BIN"
  (cd "$src" && nice go build -ldflags "$ldflags" -o "$K8S_BIN/" \
    $(printf './cmd/%s ' "${K8S_COMMANDS[@]}"))
  rm -rf "$src"
}

build_coredns() {
  if [ -x "$COREDNS_BIN/coredns" ]; then say "CoreDNS $COREDNS_VERSION already built"; return 0; fi
  say "building CoreDNS $COREDNS_VERSION with go install (first time only, ~7 min)"
  mkdir -p "$COREDNS_BIN"
  GOBIN="$COREDNS_BIN" nice go install -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
}

build_kubernetes
build_coredns
say "Kubernetes: $("$K8S_BIN/kubectl" version --client 2>/dev/null | head -1)"
