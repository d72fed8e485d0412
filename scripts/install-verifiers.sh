#!/usr/bin/env bash
# Installs the outside verifiers the attestation test uses into a virtual environment
# (target/verifiers) and prints the path of its python (for STAGE0_VERIFIER_PYTHON):
#   in-toto-attestation  the in-toto project's Statement v1 / SLSA Provenance v1 bindings
#   jsonschema           JSON Schema validation of the provenance, report and --json files
# Needs python3 with the venv module (Debian: python3-venv, from install-test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/verifiers
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    'in-toto-attestation==0.9.3' 'jsonschema>=4.18,<5' >&2
echo "$PWD/$venv/bin/python"
