#!/usr/bin/env bash
# Makes sure `prometheus` and `promtool` (Debian's prometheus package) are installed for
# the observability tests. The tests start their own Prometheus; no service is started.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  apt_install prometheus
  # Debian's package may start its own server on :9090; the tests use their own.
fi
say "Prometheus ready: $(prometheus --version 2>&1 | head -n1)"
