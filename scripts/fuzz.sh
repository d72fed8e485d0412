#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/): `scripts/fuzz.sh SECONDS [TARGET...]` gives each
# target SECONDS of fuzzing (default: all three targets, 20 s each, as CI does).
#
# Installs cargo-fuzz when missing. cargo-fuzz passes nightly-only -Z flags; on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets rustc accept them. Without a sanitizer (--sanitizer
# none) libFuzzer's coverage instrumentation still works and a panic is a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf_load block_exec syscall_args)
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    echo "fuzz.sh: $t for ${secs} s"
    log="fuzz/$t.log"
    # Build first, so a build that fails (a full disk, a killed linker) is reported as
    # what it is and never as a crash the fuzzer found.
    if ! cargo fuzz build --sanitizer none "$t" >"$log" 2>&1; then
        tail -n 40 "$log"
        df -h fuzz/ || true
        echo "fuzz.sh: could not build fuzz target $t (a build failure, not a crash; log: $log)"
        exit 2
    fi
    if ! cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz.sh: $t found a crash (fuzz/artifacts/$t)"
        exit 1
    fi
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$log" || tail -n 5 "$log"
done
