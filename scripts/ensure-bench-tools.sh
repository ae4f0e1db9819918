#!/usr/bin/env bash
# Installs the neutral load generators `npm run bench` drives, pinned: ghz (gRPC) built
# with go install from the Go module proxy into .tools/bin, and wrk (HTTP/1.1) from
# Debian. Does nothing when both are already there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

GHZ_VERSION=v0.121.0

# go install leaves the binary's --version at "dev"; the module version is in its build info.
if ! [ -x "$bin/ghz" ] || ! go version -m "$bin/ghz" 2>/dev/null | grep -q "github.com/bojand/ghz[[:space:]]*$GHZ_VERSION"; then
  if ! command -v go >/dev/null 2>&1; then
    say "Go is needed to build ghz $GHZ_VERSION (go install); install Go 1.24 or newer"
    exit 1
  fi
  say "building ghz $GHZ_VERSION with go install (first time only; a few minutes)"
  gobin=$(mktemp -d)
  GOBIN="$gobin" GOFLAGS=-mod=mod nice go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  mv "$gobin/ghz" "$bin/ghz"
  rmdir "$gobin"
fi

command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v taskset >/dev/null 2>&1 || apt_install util-linux
say "bench tools ready: ghz $GHZ_VERSION, $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
