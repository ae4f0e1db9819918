#!/usr/bin/env bash
# Builds the real Helm binaries the chart tests run, pinned, into .tools/bin: `helm`
# (v4) and `helm3` (v3), from the Go module proxy. Does nothing when both are already
# there at the pinned versions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

build_helm() { # <major> <version> <binary name>
  local major=$1 version=$2 name=$3
  if [ -x "$bin/$name" ] && "$bin/$name" version --template '{{.Version}}' 2>/dev/null | grep -qx "$version"; then
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    say "Go is needed to build Helm $version (go install); install Go 1.24 or newer"
    exit 1
  fi
  say "building Helm $version with go install (first time only; a few minutes)"
  local gobin
  gobin=$(mktemp -d)
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "helm.sh/helm/$major/cmd/helm@$version"
  mv "$gobin/helm" "$bin/$name"
  rmdir "$gobin"
}

build_helm v4 v4.3.1 helm
build_helm v3 v3.22.0 helm3
say "Helm ready: $("$bin/helm" version --short), $("$bin/helm3" version --short)"
