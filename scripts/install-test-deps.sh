#!/usr/bin/env bash
# Installs the system packages the test suite needs on a fresh Debian machine (run as root).
#
# Idempotent: each package is checked with dpkg first; `apt-get update` runs only when
# something is missing, and at most once. A failed `apt-get update` (an unreachable or
# broken index the tests do not need) is reported and the install is tried anyway with
# the lists already there; only a failed install stops the script.
#
# Needed for: the optional `unicorn` feature (differential tests against unicorn-engine),
# whose crate builds the bundled unicorn C library with cmake and generates bindings
# with bindgen (libclang); qemu-i386 for the tests of `stage0-runner bench`'s qemu hook.
set -euo pipefail

PACKAGES=(
    cmake        # builds unicorn's bundled C library
    libclang-dev # bindgen, used by unicorn-engine's build script
    pkg-config   # unicorn-engine's build script probes with it
    qemu-user    # qemu-i386 for the bench command's qemu hook tests
    python3-venv # the attestation test's verifiers (scripts/install-verifiers.sh)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        echo "install-test-deps: $pkg already installed"
    else
        echo "install-test-deps: $pkg missing"
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-test-deps: nothing to install"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: apt-get update"
if ! apt-get update -q; then
    echo "install-test-deps: apt-get update failed; installing from the package lists already there" >&2
fi
echo "install-test-deps: apt-get install ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-test-deps: done"
