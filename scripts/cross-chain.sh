#!/usr/bin/env bash
# The whole stage0-posix chain on a foreign build under qemu-user, checked against a host run.
#
#   scripts/cross-chain.sh aarch64|s390x TREE [--reference PROV] [--work DIR]
#
# TREE is a pristine stage0-posix checkout (it is copied, never written). The foreign
# release build (scripts/cross-test.sh ARCH --build-only) runs the chain under
# `qemu-ARCH -L /usr/GNU-TRIPLE` with --provenance; the provenance must be byte-identical to
# the host's: PROV when given (a `stage0-runner run --provenance` of the same tree), else a
# run of the host's target/release/stage0-runner on another copy. Exit 0 only when the
# foreign run verified 19/19 answers and the two provenance files are identical.
#
# Slow: the chain that takes ~3 min natively takes tens of minutes under qemu (README
# "Other hosts"). scripts/test.sh runs it for both targets when STAGE0_SLOW_TESTS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 aarch64|s390x TREE [--reference PROV] [--work DIR]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
ARCH=$1
TREE=$2
shift 2
REFERENCE=
WORK=
while [ $# -gt 0 ]; do
    case "$1" in
    --reference) REFERENCE=$(realpath "$2"); shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    *) usage ;;
    esac
done
case "$ARCH" in
aarch64) GNU=aarch64-linux-gnu ;;
s390x) GNU=s390x-linux-gnu ;;
*) usage ;;
esac
[ -d "$TREE/bootstrap-seeds" ] || { echo "cross-chain: $TREE is not a stage0-posix checkout (no bootstrap-seeds/)" >&2; exit 2; }

log() { echo "cross-chain[$ARCH]: $*"; }
BIN=target/$ARCH-unknown-linux-gnu/release/stage0-runner
[ -x "$BIN" ] || bash scripts/cross-test.sh "$ARCH" --build-only
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")

# `run` prints the verdict last; its exit status is 0 only when every answer matched.
run_chain() { # NAME RUNNER...
    local name=$1
    shift
    rm -rf "${WORK:?}/tree-$name"
    cp -a "$TREE" "$WORK/tree-$name"
    local start end status=0
    start=$(date +%s.%N)
    nice -n 10 "$@" run --provenance "$WORK/$name.prov" --report "$WORK/$name.report" \
        "$WORK/tree-$name" >"$WORK/$name.out" 2>&1 || status=$?
    end=$(date +%s.%N)
    log "$name: exit $status, wall $(echo "$end - $start" | bc) s: $(grep -E 'VERIFIED|FAILED' "$WORK/$name.out" | tail -1)"
    return "$status"
}

ok=0
if [ -z "$REFERENCE" ]; then
    [ -x target/release/stage0-runner ] || nice -n 10 cargo build --release -p stage0-runner
    run_chain host target/release/stage0-runner || ok=1
    REFERENCE=$WORK/host.prov
fi
run_chain "$ARCH" "qemu-$ARCH" -L "/usr/$GNU" "$BIN" || ok=1
if cmp "$REFERENCE" "$WORK/$ARCH.prov"; then
    log "provenance identical to $REFERENCE ($(sha256sum <"$REFERENCE" | cut -c1-16)…)"
else
    log "provenance DIFFERS from $REFERENCE"
    ok=1
fi
log "work files in $WORK"
exit "$ok"
