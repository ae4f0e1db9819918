#!/usr/bin/env bash
# Brings a fresh machine to the point where `npm start` and `npm test` work, saying
# what it does at each step and skipping what is already done:
#   1. JavaScript dependencies, Node 24 among them (the `node` devDependency), via npm ci;
#   2. a local RabbitMQ with its management and Prometheus plugins;
#   3. with --test: Helm v4 and v3 (built with go install) and Prometheus/promtool.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

# npm writes node_modules/.package-lock.json on every install; when it is newer than the
# lockfile, node_modules matches the lockfile and there is nothing to do.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ ! -x node_modules/.bin/node ]; then
  say "installing dependencies with npm ci (Node 24 comes with them)"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "Node $(node_modules/.bin/node --version) from node_modules/.bin"

bash scripts/ensure-rabbitmq.sh

if [ "${1:-}" = "--test" ]; then
  bash scripts/ensure-helm.sh
  bash scripts/ensure-prometheus.sh
  bash scripts/ensure-chromium.sh
fi
