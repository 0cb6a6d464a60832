#!/usr/bin/env bash
# Make sure the system Chromium used by tests/test_browser.py exists (Debian package
# "chromium" -> /usr/bin/chromium). Playwright drives it; no browser is ever downloaded.
# Called by `make test` only when CI=true; locally, install it yourself or the browser
# test is skipped:  sudo apt-get install chromium
set -euo pipefail

CHROMIUM="${FA_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    echo "chromium: found $CHROMIUM"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $CHROMIUM is missing and cannot be installed here (needs root and apt-get)." >&2
    echo "       Install it with: sudo apt-get install chromium   (Debian/Ubuntu)" >&2
    exit 1
fi
echo "chromium: not found, installing the Debian package (about 80 s) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q chromium
test -x "$CHROMIUM"
echo "chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
