#!/usr/bin/env bash
# Cross-builds the workspace for a foreign Linux target and runs its tests there under qemu-user.
#
#   scripts/cross-test.sh aarch64|s390x [--build-only] [--install-only]
#
# aarch64 (little-endian, 64-bit, 4 KiB pages under qemu but 16/64 KiB on real hosts) is built
# with Debian's newest Rust (rustc-web 1.96, bookworm-security); s390x (big-endian, 64-bit) with
# Debian's 1.85, the only version whose s390x std Debian ships, which is also the workspace's
# `rust-version`: so CI builds with the MSRV compiler too.
#
# Neither toolchain is installed with apt-get: both rustc-web versions cannot be installed
# together, and an installed /usr/bin/cargo would sit behind rustup's on PATH anyway. Their
# packages (rustc-web, cargo-web, the host std with librustc_driver, the host and the target
# std) are `apt-get download`ed and unpacked with `dpkg -x` into /opt/rust-VERSION (rustc
# finds its sysroot from librustc_driver's location, so the prefix is self-contained). Only
# shared libraries (libLLVM, cargo's libgit2/libcurl…), the cross C toolchain (linker, libc)
# and qemu-user are installed with apt-get. rustup's toolchains are not touched.
#
# Output: release binaries in target/TRIPLE/release/ (the workspace's release profile: fat
# LTO, so the qemu chain runs as fast as the native build would). Without --build-only, the
# tests of the crates listed in CROSS_TEST_PACKAGES run with cargo's target runner
# `qemu-ARCH -L /usr/GNU-TRIPLE` (unicorn is a host-only test engine and stays off).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 aarch64|s390x [--build-only] [--install-only]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
ARCH=$1
shift
BUILD_ONLY=0
INSTALL_ONLY=0
for arg in "$@"; do
    case "$arg" in
    --build-only) BUILD_ONLY=1 ;;
    --install-only) INSTALL_ONLY=1 ;;
    *) usage ;;
    esac
done

case "$ARCH" in
aarch64)
    DEB_ARCH=arm64
    GNU=aarch64-linux-gnu
    RUST_VERSION=1.96
    LLVM=22
    ;;
s390x)
    DEB_ARCH=s390x
    GNU=s390x-linux-gnu
    RUST_VERSION=1.85
    LLVM=19
    ;;
*) usage ;;
esac
TRIPLE=$ARCH-unknown-linux-gnu
PREFIX=/opt/rust-$RUST_VERSION
QEMU=qemu-$ARCH

log() { echo "cross-test[$ARCH]: $*"; }
now() { date +%s; }
T0=$(now)

# --- system packages -------------------------------------------------------------------------

APT_UPDATED=0
apt_update() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        apt-get update -q >/dev/null
        APT_UPDATED=1
    fi
}

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "cross-test: need root to install: $*" >&2
        exit 1
    fi
}

# Shared libraries rustc and cargo load, the cross C toolchain, and qemu-user.
PACKAGES=(
    "gcc-$GNU"               # the linker (cc driver) for the target
    "libc6-dev-$DEB_ARCH-cross" # the target's glibc, crt files; also qemu's -L root
    qemu-user                # qemu-$ARCH runs the target's test binaries
    "libllvm$LLVM"           # librustc_driver links it
    libcurl4 libssh2-1 libsqlite3-0 # cargo-web
)
if [ "$RUST_VERSION" = 1.96 ]; then
    PACKAGES+=(libgit2-1.5)
else
    PACKAGES+=(libhttp-parser2.9 libpcre3 zlib1g)
fi

export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx "$DEB_ARCH"; then
    need_root "dpkg --add-architecture $DEB_ARCH"
    log "dpkg --add-architecture $DEB_ARCH"
    dpkg --add-architecture "$DEB_ARCH"
    APT_UPDATED=0
    apt_update
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    need_root "${missing[*]}"
    apt_update
    log "apt-get install ${missing[*]}"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the Rust toolchain, unpacked into $PREFIX ---------------------------------------------

# The newest version of PACKAGE (name[:arch]) whose version starts with $RUST_VERSION.0+ and
# that comes from bookworm (main or security): other suites (an added trixie source) carry
# builds against another libc.
pick_version() {
    apt-cache madison "$1" |
        awk -F'|' -v want="$RUST_VERSION.0+" '
            { v = $2; gsub(/ /, "", v) }
            index(v, want) == 1 && $3 ~ /bookworm/ { print v; exit }'
}

STAMP=$PREFIX/.installed
if [ ! -f "$STAMP" ]; then
    need_root "Rust $RUST_VERSION into $PREFIX"
    version=$(pick_version rustc-web)
    if [ -z "$version" ]; then
        apt_update
        version=$(pick_version rustc-web)
    fi
    [ -n "$version" ] || { echo "cross-test: no rustc-web $RUST_VERSION in the apt sources" >&2; exit 1; }
    log "Rust $version into $PREFIX"
    debs=$(mktemp -d)
    chmod 755 "$debs" # apt-get download fetches as the _apt user
    (
        cd "$debs"
        apt-get download -q \
            "rustc-web=$version" "cargo-web=$version" \
            "libstd-rust-web-$RUST_VERSION=$version" "libstd-rust-web-dev=$version" \
            "libstd-rust-web-dev:$DEB_ARCH=$version" >/dev/null
    )
    rm -rf "$PREFIX.partial"
    mkdir -p "$PREFIX.partial"
    for deb in "$debs"/*.deb; do
        dpkg -x "$deb" "$PREFIX.partial"
    done
    rm -rf "$debs" "$PREFIX"
    mv "$PREFIX.partial" "$PREFIX"
    echo "$version" >"$STAMP"
fi

export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RUSTC=$PREFIX/usr/bin/rustc
export RUSTDOC=$PREFIX/usr/bin/rustdoc
CARGO_BIN=$PREFIX/usr/bin/cargo
log "$("$RUSTC" --version), $("$CARGO_BIN" --version)"
T_INSTALL=$(($(now) - T0))
log "install: ${T_INSTALL} s"
[ "$INSTALL_ONLY" -eq 0 ] || exit 0

# --- build -----------------------------------------------------------------------------------

TRIPLE_ENV=$(echo "$TRIPLE" | tr 'a-z-' 'A-Z_')
export "CARGO_TARGET_${TRIPLE_ENV}_LINKER=$GNU-gcc"
export "CARGO_TARGET_${TRIPLE_ENV}_RUNNER=$QEMU -L /usr/$GNU"
# rustup's cargo proxy exports these for its own toolchain; they must not leak into this one.
unset RUSTUP_TOOLCHAIN CARGO RUSTC_WRAPPER

T1=$(now)
log "cargo build --release --target $TRIPLE --workspace"
"$CARGO_BIN" build --locked --release --target "$TRIPLE" --workspace --bins
T_BUILD=$(($(now) - T1))
log "build: ${T_BUILD} s"
file "target/$TRIPLE/release/stage0-runner" 2>/dev/null || true
[ "$BUILD_ONLY" -eq 0 ] || exit 0

# --- tests under qemu-user -------------------------------------------------------------------

# The crates whose tests exercise what depends on the host: vm (CPU, guest memory, ELF,
# syscalls, processes, VFS), seed (the Rust seed tools' byte output), the root package's
# guest programs, and stage0-runner's unit tests (provenance, answers, reports).
# stage0-runner's integration tests are left out: they spawn host processes (qemu-i386, cc,
# the runner's own binary), and under qemu-user a failed spawn is not reported as one
# (glibc's posix_spawn shares memory with a vfork child, which qemu-user runs as a fork:
# bench_qemu_hook's missing-qemu test sees exit status 128 instead of the spawn error).
# Override with CROSS_TEST_PACKAGES="-p vm ...".
read -r -a TEST_PACKAGES <<<"${CROSS_TEST_PACKAGES:--p vm -p seed -p stage0-testkit}"
# Upstream-tree and slow tests stay on the host run (scripts/test.sh): under qemu the chain
# takes tens of minutes. The whole foreign chain is `scripts/cross-chain.sh`.
unset STAGE0_POSIX_TREE STAGE0_NATIVE_TREE STAGEX_ROOT STAGE0_MIRROR STAGE0_SLOW_TESTS
T2=$(now)
log "cargo test --target $TRIPLE ${TEST_PACKAGES[*]} (runner: $QEMU -L /usr/$GNU)"
# Doctests are left out: they test the docs' examples, not the target, and run on the host.
"$CARGO_BIN" test --locked --no-fail-fast --target "$TRIPLE" "${TEST_PACKAGES[@]}" --lib --bins --tests
"$CARGO_BIN" test --locked --target "$TRIPLE" -p stage0-runner -p stage0-chain --lib
T_TEST=$(($(now) - T2))
log "tests: ${T_TEST} s"
log "total: install ${T_INSTALL} s, build ${T_BUILD} s, tests ${T_TEST} s"
