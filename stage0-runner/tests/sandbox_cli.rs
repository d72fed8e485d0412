//! `stage0-runner exec` against hostile guests, as a user runs it: limits under the default
//! flags (the runner's own peak memory measured with wait4), `--outcome`, and SIGTERM.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stage0_testkit::adversary::{self, nr, s, script, Arg, Op};
use stage0_testkit::programs;

const O_WRONLY_CREAT_TRUNC: u32 = 0o1101;

struct Ended {
    code: Option<i32>,
    /// Peak resident memory of the runner, in KiB.
    max_rss_kib: i64,
    outcome: serde_json::Value,
    stderr: String,
}

fn start(root: &Path, outcome: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["exec", "--root"])
        .arg(root)
        .arg("--outcome")
        .arg(outcome)
        .args(extra)
        .arg("/p")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stage0-runner")
}

/// Waits for `child` with wait4, which also tells its peak resident memory.
fn finish(mut child: Child, outcome: &Path) -> Ended {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own unwaited child; both pointers are valid for the call.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, child.id() as i32, "wait4");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    eprintln!("runner peak RSS {} KiB", usage.ru_maxrss);
    let outcome = std::fs::read_to_string(outcome)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Ended {
        code,
        max_rss_kib: usage.ru_maxrss,
        outcome,
        stderr,
    }
}

fn exec(prog: &[u8], extra: &[&str]) -> (tempfile::TempDir, Ended) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("p"), prog).unwrap();
    let out = dir.path().join("outcome.json");
    let child = start(&root, &out, extra);
    let ended = finish(child, &out);
    (dir, ended)
}

fn assert_limit(e: &Ended, limit: &str, flag: &str) {
    assert_eq!(e.code, Some(124), "{}", e.stderr);
    assert_eq!(e.outcome["outcome"], "limit", "{}", e.outcome);
    assert_eq!(e.outcome["limit"], limit);
    assert_eq!(e.outcome["flag"], flag);
    assert!(
        e.stderr.contains(flag),
        "the error names {flag}: {}",
        e.stderr
    );
}

#[test]
fn a_fork_bomb_stops_at_the_process_limit_with_little_host_memory() {
    let (_d, e) = exec(&adversary::fork_bomb(), &[]);
    assert_limit(&e, "processes", "--max-processes");
    assert!(
        e.max_rss_kib < 256 << 10,
        "runner peak RSS {} KiB",
        e.max_rss_kib
    );
}

#[test]
fn brk_then_fork_stops_at_the_memory_limit_before_copying() {
    // 700 MiB of break fits the 1 GiB default; its copy by fork does not.
    let (_d, e) = exec(&adversary::brk_then_fork(700 << 20), &[]);
    assert_limit(&e, "memory", "--max-memory");
    assert!(
        e.max_rss_kib < 1 << 20,
        "runner peak RSS {} KiB",
        e.max_rss_kib
    );
}

#[test]
fn a_4_gib_write_from_a_small_buffer_allocates_nothing_large() {
    let prog = script(
        &[
            Op::Sys(
                nr::WRITE,
                vec![Arg::Imm(1), Arg::Buf, Arg::Imm(0xffff_ffff)],
            ),
            // exit(returned count != 0)
        ],
        1,
    );
    let (_d, e) = exec(&prog, &[]);
    assert_eq!(e.code, Some(0), "{}", e.stderr);
    assert_eq!(e.outcome["outcome"], "guest-exit");
    assert!(
        e.max_rss_kib < 64 << 10,
        "runner peak RSS {} KiB",
        e.max_rss_kib
    );
}

#[test]
fn argv_amplification_is_refused_while_it_is_collected() {
    // 30,000 pointers to one 100 KB string: 3 GB of argv.
    let (_d, e) = exec(&adversary::argv_amplifier(100_000, 30_000), &[]);
    assert_eq!(e.code, Some(7), "execve returned E2BIG: {}", e.stderr);
    assert!(
        e.max_rss_kib < 64 << 10,
        "runner peak RSS {} KiB",
        e.max_rss_kib
    );
}

#[test]
fn many_short_lived_children_keep_little_host_memory() {
    // 100,000 children, one at a time: each leaves a record, which must stay small.
    let (_d, e) = exec(&adversary::fork_exit_wait(100_000), &[]);
    assert_eq!(e.code, Some(0), "{}", e.stderr);
    assert!(
        e.max_rss_kib < 160 << 10,
        "runner peak RSS {} KiB",
        e.max_rss_kib
    );
}

#[test]
fn a_spinning_guest_stops_at_the_timeout() {
    let (_d, e) = exec(&programs::spin(), &["--timeout", "1"]);
    assert_limit(&e, "timeout", "--timeout");
}

#[test]
fn file_size_and_written_bytes_are_limited() {
    let prog = adversary::script_with_prelude(
        &[Op::Sys(
            nr::OPEN,
            vec![s("/big"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        )],
        &[Op::Sys(
            nr::WRITE,
            vec![Arg::Ret(0), Arg::Buf, Arg::Imm(adversary::SCRATCH)],
        )],
        0,
    );
    let size = |d: &tempfile::TempDir| std::fs::metadata(d.path().join("root/big")).unwrap().len();
    let (d, e) = exec(&prog, &["--max-file-size", "100K"]);
    assert_limit(&e, "file-size", "--max-file-size");
    // What was written before the limit is on the host.
    assert_eq!(size(&d), adversary::SCRATCH as u64);
    let (d, e) = exec(&prog, &["--max-written", "1M"]);
    assert_limit(&e, "written", "--max-written");
    assert_eq!(size(&d), 1 << 20);
}

#[test]
fn sigterm_writes_everything_back_and_says_so() {
    for close in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let prog = once_then_spin(close);
        std::fs::write(root.join("p"), &prog).unwrap();
        let out = dir.path().join("outcome.json");
        let child = start(&root, &out, &[]);
        let file = root.join("out");
        let deadline = Instant::now() + Duration::from_secs(60);
        if close {
            // Closed: on the host while the guest still runs.
            while std::fs::read(&file).unwrap_or_default() != b"DATA" {
                assert!(
                    Instant::now() < deadline,
                    "closed file never reached the host"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            while !file.exists() {
                assert!(Instant::now() < deadline, "file never created");
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let e = finish(child, &out);
        assert_eq!(e.code, Some(143), "{}", e.stderr);
        assert_eq!(e.outcome["outcome"], "interrupted", "{}", e.outcome);
        assert_eq!(e.outcome["signal"], 15);
        assert_eq!(std::fs::read(&file).unwrap(), b"DATA", "close={close}");
    }
}

/// Opens /out, writes DATA, closes it when `close`, then makes syscalls forever.
fn once_then_spin(close: bool) -> Vec<u8> {
    let mut ops = vec![
        Op::Sys(
            nr::OPEN,
            vec![s("/out"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        Op::Sys(nr::WRITE, vec![Arg::Ret(0), s("DATA"), Arg::Imm(4)]),
    ];
    if close {
        ops.push(Op::Sys(nr::CLOSE, vec![Arg::Ret(0)]));
    }
    let spin = [Op::Sys(nr::READ, vec![Arg::Imm(99), Arg::Buf, Arg::Imm(1)])];
    adversary::script_with_prelude(&ops, &spin, 0)
}
