//! The Go flate port against Go itself: round trips always, byte equality with Go's
//! `compress/gzip` when a Go toolchain (<= 1.25) is on PATH, and a digest taken from
//! Go 1.19 for a fixed input otherwise.

use std::io::Read;
use std::process::Command;

use goflate::gzip;
use sha2::{Digest, Sha256};

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic mixed content: text with variations, random runs (stored blocks),
/// zero runs, long repeats; large enough for window shifts and many blocks.
fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words = [
        "stage0 ",
        "hex0 ",
        "kaem ",
        "M2-Planet ",
        "mescc ",
        "\n",
        "bootstrap ",
        "0x8048000 ",
    ];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        match next() % 5 {
            0 => (0..next() % 400).for_each(|_| out.push(next() as u8)),
            1 => out.resize(out.len() + (next() % 3000) as usize, 0),
            2 => {
                let n = out.len();
                if n > 100 {
                    let start = (next() as usize) % (n - 50);
                    let l = (next() % 300) as usize;
                    let piece: Vec<u8> = out[start..(start + l).min(n)].to_vec();
                    out.extend(piece);
                }
            }
            _ => (0..next() % 200)
                .for_each(|_| out.extend_from_slice(words[(next() % 8) as usize].as_bytes())),
        }
    }
    out.truncate(len);
    out
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn round_trips() {
    for (len, seed) in [(0, 1), (1, 2), (300, 3), (70_000, 4), (400_000, 5)] {
        let data = sample(len, seed);
        assert_eq!(gunzip(&gzip(&data)), data, "len {len}");
    }
}

#[test]
fn digest_taken_from_go_1_19() {
    // sha256 of Go 1.19's gzip.NewWriterLevel(DefaultCompression) output for sample(1 MB, 42).
    let got = sha256_hex(&gzip(&sample(1_000_000, 42)));
    assert_eq!(got, GO_1_19_SAMPLE_DIGEST);
}

const GO_1_19_SAMPLE_DIGEST: &str =
    "7a3f343fc5afb38ba5d6ea911a1daa5f6ce8c044af0dde25d3a0094a2449904c";

#[test]
#[ignore = "needs `go` on PATH"]
fn matches_go_toolchain_when_present() {
    let Ok(v) = Command::new("go").arg("version").output() else {
        panic!("missing input: matches_go_toolchain_when_present needs `go` on PATH (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')");
    };
    let version = String::from_utf8_lossy(&v.stdout).to_string();
    eprintln!("using {}", version.trim());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.go"),
        "package main\nimport (\"compress/gzip\"; \"io\"; \"os\")\nfunc main() {\n\tzw, _ := gzip.NewWriterLevel(os.Stdout, gzip.DefaultCompression)\n\tif _, err := io.CopyBuffer(zw, os.Stdin, make([]byte, 32*1024)); err != nil { panic(err) }\n\tif err := zw.Close(); err != nil { panic(err) }\n}\n",
    )
    .unwrap();
    let exe = dir.path().join("gogz");
    let built = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&exe)
        .arg("main.go")
        .current_dir(dir.path())
        .env("GO111MODULE", "off")
        .env("GOCACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    for (len, seed) in [
        (0, 1),
        (1, 2),
        (5_000, 3),
        (70_000, 4),
        (1_000_000, 42),
        (3_000_000, 7),
    ] {
        let data = sample(len, seed);
        let path = dir.path().join("in");
        std::fs::write(&path, &data).unwrap();
        let go = Command::new(&exe)
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .unwrap();
        assert!(go.status.success());
        assert_eq!(
            sha256_hex(&gzip(&data)),
            sha256_hex(&go.stdout),
            "len {len} seed {seed}"
        );
    }
}
