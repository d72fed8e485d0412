#!/usr/bin/env bash
# Installs what the browser test of the report page needs (run as root on Debian):
# Chromium and Node.js from apt, and playwright-core from the npm registry at the version
# pinned in tests/browser/package-lock.json (never a browser download of Playwright's own:
# the test drives /usr/bin/chromium).
#
# Exits 0 when everything is in place, 1 (with the reason) when it cannot be installed;
# scripts/test.sh then skips the browser test loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in chromium nodejs npm; do
    if dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        echo "install-browser-test-deps: $pkg already installed"
    elif [ "$pkg" = npm ] && command -v npm >/dev/null; then
        echo "install-browser-test-deps: npm present ($(command -v npm))"
    elif [ "$pkg" = nodejs ] && command -v node >/dev/null; then
        echo "install-browser-test-deps: node present ($(command -v node))"
    else
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-browser-test-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "install-browser-test-deps: apt-get install ${missing[*]}"
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }; then
        echo "install-browser-test-deps: apt-get could not install ${missing[*]}" >&2
        exit 1
    fi
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "install-browser-test-deps: /usr/bin/chromium missing after install" >&2
    exit 1
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "install-browser-test-deps: npm ci (tests/browser)"
    if ! npm ci --prefix tests/browser --no-audit --no-fund; then
        echo "install-browser-test-deps: npm ci failed" >&2
        exit 1
    fi
fi
echo "install-browser-test-deps: done ($(/usr/bin/chromium --version 2>/dev/null || echo chromium))"
