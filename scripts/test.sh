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
# The attestation, provenance, report and --json files checked by outside verifiers
# (PyPI in-toto-attestation and jsonschema in target/verifiers; ~20 s the first time).
STAGE0_VERIFIER_PYTHON="$(bash scripts/install-verifiers.sh)" \
    cargo test --workspace --features stage0-testkit/unicorn --test attestation_json -- --ignored
