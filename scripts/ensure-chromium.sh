#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed for the tests that open compare's
# report.html as a person would (tests/report). Playwright drives it through
# playwright-core, which brings no browser of its own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
say "Chromium ready: $(chromium --version 2>/dev/null | head -n1)"
