#!/usr/bin/env bash
# Builds skaffold, pinned, from its Go module source into .tools/skaffold-<version>/bin.
# Does nothing when it is already there. The Go checksum database has no entry for
# skaffold v2.19.0, hence GONOSUMDB for its module only; v2.19 is the first release that
# reads skaffold.yaml's schema (skaffold/v4beta14).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
version=v2.19.0
bin="$root/.tools/skaffold-$version/bin"
if [ -x "$bin/skaffold" ]; then say "skaffold $version already built"; exit 0; fi
say "building skaffold $version from its module source (first time only, ~5 min)"
module=github.com/GoogleContainerTools/skaffold
export GONOSUMDB=$module GOFLAGS=-mod=mod CGO_ENABLED=0
dir=$(go mod download -json "$module/v2@$version" | jq -r .Dir)
src=$(mktemp -d "$root/.tools/skaffold-src.XXXXXX")
cp -r "$dir/." "$src/" && chmod -R u+w "$src"
mkdir -p "$bin"
(cd "$src" && nice go build -ldflags "-s -w -X $module/v2/pkg/skaffold/version.version=$version" -o "$bin/skaffold" ./cmd/skaffold)
rm -rf "$src"
say "skaffold: $("$bin/skaffold" version)"
