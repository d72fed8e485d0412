#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
#
# Installs the system packages the tests need, then runs every test of the workspace with
# the unicorn differential engine enabled. Tests that need the upstream stage0-posix tree
# read STAGE0_POSIX_TREE (a pristine checkout with submodules); when it is unset and
# ./stage0-posix exists, that checkout is used. Without a tree they are reported ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
# The debug build, the fuzz build and the foreign builds need about 25 GiB together; a disk
# that runs full shows up as odd tool crashes (ar died with SIGBUS once), so say it up front.
free_kib=$(df -Pk . | awk 'NR==2 {print $4}')
echo "test.sh: $(( free_kib / 1048576 )) GiB free on the build disk"
if [ "$free_kib" -lt $(( 25 * 1048576 )) ]; then
    echo "test.sh: warning: less than 25 GiB free; builds may fail for want of space"
fi
# Incremental state is of no use to a one-shot run and doubles the debug target's size.
export CARGO_INCREMENTAL=0
if [ -z "${STAGE0_POSIX_TREE:-}" ] && [ -d stage0-posix/bootstrap-seeds ]; then
    export STAGE0_POSIX_TREE="$PWD/stage0-posix"
fi
# The container engine (dockerd 26 + buildx + containerd image store) for stagex-pipeline's
# engine tests, which run only when STAGE0_DOCKER=1; a dockerd started here is stopped at exit.
engine_start=$(date +%s)
engine_pid_before="$(cat /var/run/stage0-engine/dockerd.pid 2>/dev/null || true)"
bash scripts/engine-setup.sh
if [ "$(cat /var/run/stage0-engine/dockerd.pid 2>/dev/null || true)" != "$engine_pid_before" ]; then
    trap 'bash scripts/engine-setup.sh stop' EXIT
fi
export STAGE0_DOCKER=1
echo "test.sh: engine ready in $(( $(date +%s) - engine_start )) s (STAGE0_DOCKER=1)"
echo "test.sh: STAGE0_POSIX_TREE=${STAGE0_POSIX_TREE:-<unset: upstream-tree tests stay ignored>}"
cargo test --workspace --features stage0-testkit/unicorn
# A short run of every cargo-fuzz target (ELF loader, block execution, syscall arguments):
# a crash fails the tests. Longer runs: scripts/fuzz.sh SECONDS.
bash scripts/fuzz.sh 20
# The report page in headless Chromium, driven by Playwright (tests/browser). Installed
# here; skipped loudly only where Chromium or playwright-core cannot be installed.
if bash scripts/install-browser-test-deps.sh; then
    cargo test --workspace --features stage0-testkit/unicorn --test teach_page -- --ignored
else
    echo "test.sh: ######## SKIPPED the browser test: Chromium or playwright-core could not be installed ########"
fi
# Tests ignored without an outside input (README "Tests and the upstream tree") whose input
# CI has: the unicorn engine (the feature above), qemu-i386 (install-test-deps.sh) and a
# kernel that runs i386 executables. Run without the input, each fails naming it.
cargo test --workspace --features stage0-testkit/unicorn --test engines_guest_programs \
    --test bench_qemu_hook --test native_cross_check -- --ignored
# With a tree (./stage0-posix or STAGE0_POSIX_TREE), the tests that need only the tree;
# STAGE0_SLOW_TESTS=1 adds the whole-chain ones. The full list with every input set:
# README, "Tests and the upstream tree".
if [ -n "${STAGE0_POSIX_TREE:-}" ]; then
    tree_tests=(hex0_seed_rebuilds_itself_in_the_emulator
        kaem_optional_seed_runs_the_seed_script_like_a_native_run
        seed_stage_narrative_matches_its_provenance
        every_byte_of_hex0_maps_to_the_source_line_that_spells_it
        seed_steps_agree_in_lockstep rust_hex0_matches_emulated_hex0_seed
        host_compiled_m1_writes_what_rust_m1_writes
        host_m2_planet_reserves_stack_as_the_chains_m2_planet_does
        hex0_seed_all_181_bytes_and_its_syscalls)
    if [ "${STAGE0_SLOW_TESTS:-}" = 1 ]; then
        tree_tests+=(whole_upstream_chain_gives_19_of_19_and_identical_provenance_twice
            whole_chain_on_unicorn_gives_every_answer
            ddc_with_every_substitute_set_is_identical_to_the_emulated_chain)
    fi
    cargo test --workspace --features stage0-testkit/unicorn -- --ignored --exact "${tree_tests[@]}"
fi
# stagex-pipeline's engine tests (ignored without an engine): same features, so nothing rebuilds.
cargo test --workspace --features stage0-testkit/unicorn --test engine_build -- --ignored
# The attestation, provenance, report and --json files checked by outside verifiers
# (PyPI in-toto-attestation and jsonschema in target/verifiers; ~20 s the first time).
STAGE0_VERIFIER_PYTHON="$(bash scripts/install-verifiers.sh)" \
    cargo test --workspace --features stage0-testkit/unicorn --test attestation_json -- --ignored

# Foreign hosts (README "Other hosts"): aarch64 built with Debian's Rust 1.96 and big-endian
# s390x built with Debian's Rust 1.85 (the workspace's rust-version), each tested under
# qemu-user. The release build here skips fat LTO: LTO only makes the qemu chain faster and
# costs most of the build's time (18 of 40 minutes per architecture on a loaded machine);
# what CI checks is that the release build compiles and that the tests pass on the target.
# Cost (issue 14): cold, about 8 minutes per architecture on a quiet machine (aarch64: 237 s
# build + 223 s tests); with a warm target, the tests alone (3-4 minutes each).
# STAGE0_CROSS_TESTS=0 leaves them out (a quick local run). With
# STAGE0_SLOW_TESTS=1 and a tree, also the whole chain on both builds under qemu (about two
# 30-40 minutes each), compared byte for byte with the host's provenance.
if [ "${STAGE0_CROSS_TESTS:-1}" != 0 ]; then
    for arch in aarch64 s390x; do
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 \
            bash scripts/cross-test.sh "$arch"
    done
    if [ "${STAGE0_SLOW_TESTS:-}" = 1 ] && [ -n "${STAGE0_POSIX_TREE:-}" ]; then
        chain_work=$(mktemp -d)
        bash scripts/cross-chain.sh aarch64 "$STAGE0_POSIX_TREE" --work "$chain_work"
        bash scripts/cross-chain.sh s390x "$STAGE0_POSIX_TREE" --reference "$chain_work/host.prov" --work "$chain_work"
    fi
else
    echo "test.sh: ######## cross tests (aarch64, s390x under qemu-user) left out: STAGE0_CROSS_TESTS=0 ########"
fi
