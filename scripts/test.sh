#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
#
# Installs the system packages the tests need, then runs every test of the workspace with
# the unicorn differential engine enabled. Tests that need the upstream stage0-posix tree
# read STAGE0_POSIX_TREE (a pristine checkout with submodules); when it is unset and
# ./stage0-posix exists, that checkout is used. Without a tree they print SKIPPED lines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
if [ -z "${STAGE0_POSIX_TREE:-}" ] && [ -d stage0-posix/bootstrap-seeds ]; then
    export STAGE0_POSIX_TREE="$PWD/stage0-posix"
fi
echo "test.sh: STAGE0_POSIX_TREE=${STAGE0_POSIX_TREE:-<unset: upstream-tree tests will skip>}"
cargo test --workspace --features stage0-testkit/unicorn

# Foreign hosts (README "Other hosts"): aarch64 built with Debian's Rust 1.96 and big-endian
# s390x built with Debian's Rust 1.85 (the workspace's rust-version), each tested under
# qemu-user. With STAGE0_SLOW_TESTS=1 and a tree, also the whole chain on both builds under
# qemu (hours on a loaded machine), compared byte for byte with the host's provenance.
bash scripts/cross-test.sh aarch64
bash scripts/cross-test.sh s390x
if [ "${STAGE0_SLOW_TESTS:-}" = 1 ] && [ -n "${STAGE0_POSIX_TREE:-}" ]; then
    chain_work=$(mktemp -d)
    bash scripts/cross-chain.sh aarch64 "$STAGE0_POSIX_TREE" --work "$chain_work"
    bash scripts/cross-chain.sh s390x "$STAGE0_POSIX_TREE" --reference "$chain_work/host.prov" --work "$chain_work"
fi
