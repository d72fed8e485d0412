//! The sandbox against a hostile guest: every escape, hazard and limit attack the audit of
//! issue 12 found, as guests these tests write themselves. Each asserts what the host looks
//! like afterwards, not only how the guest ended.

#![cfg(unix)]

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use stage0_testkit::adversary::{nr, s, script, Arg, Op};
use stage0_testkit::{run_guest, Sandbox};
use vm::{Limit, RunError};

const O_WRONLY_CREAT_TRUNC: u32 = 0o1101;

fn sys(n: u32, args: Vec<Arg>) -> Op {
    Op::Sys(n, args)
}

/// A host directory beside the sandbox with a canary file, the target of the attacks.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("canary"), b"HOST CANARY").unwrap();
        Host { dir }
    }
    fn canary(&self) -> std::path::PathBuf {
        self.dir.path().join("canary")
    }
    fn assert_untouched(&self) {
        assert_eq!(std::fs::read(self.canary()).unwrap(), b"HOST CANARY");
        let names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("canary")],
            "host dir gained files"
        );
    }
}

fn run(sb: &Sandbox, prog: Vec<u8>) -> (Result<vm::ExitStatus, RunError>, Vec<u8>) {
    sb.put("/p", &prog);
    let (_k, r, out) = run_guest(sb, "/p", &["/p"], |_| {});
    (r, out)
}

/// Open /d for writing, write, rename `link` over /d, then close (or exit with it open).
fn rename_over_open_file(link: &str, close: bool) -> Vec<u8> {
    let mut ops = vec![
        sys(
            nr::OPEN,
            vec![s("/d"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        sys(nr::WRITE, vec![Arg::Ret(0), s("PWNED"), Arg::Imm(5)]),
        sys(nr::RENAME, vec![s(link), s("/d")]),
    ];
    if close {
        ops.push(sys(nr::CLOSE, vec![Arg::Ret(0)]));
    }
    script(&ops, 1)
}

#[test]
fn renaming_a_host_symlink_over_an_open_file_writes_nothing_outside() {
    for close in [true, false] {
        let host = Host::new();
        let sb = Sandbox::new("rename-over");
        symlink(host.canary(), sb.root.join("evil")).unwrap();
        let (r, _) = run(&sb, rename_over_open_file("/evil", close));
        assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
        host.assert_untouched();
        // /d is the link now; the file written through the old /d is gone with it.
        assert!(std::fs::symlink_metadata(sb.root.join("d"))
            .unwrap()
            .is_symlink());
    }
}

#[test]
fn renaming_a_guest_made_symlink_over_an_open_file_writes_nothing_outside() {
    let host = Host::new();
    let sb = Sandbox::new("rename-guest-link");
    let target = host.canary().to_str().unwrap().to_string();
    let ops = vec![
        sys(
            nr::OPEN,
            vec![s("/d"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        sys(nr::WRITE, vec![Arg::Ret(0), s("PWNED"), Arg::Imm(5)]),
        sys(nr::SYMLINK, vec![s(&target), s("/l")]),
        sys(nr::RENAME, vec![s("/l"), s("/d")]),
        sys(nr::CLOSE, vec![Arg::Ret(0)]),
    ];
    let (r, _) = run(&sb, script(&ops, 1));
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    host.assert_untouched();
}

#[test]
fn swapping_the_parent_directory_for_a_host_link_writes_nothing_outside() {
    for close in [true, false] {
        let host = Host::new();
        let sb = Sandbox::new("parent-swap");
        symlink(host.dir.path(), sb.root.join("hostdir")).unwrap();
        let mut ops = vec![
            sys(nr::MKDIR, vec![s("/dd"), Arg::Imm(0o755)]),
            sys(
                nr::OPEN,
                vec![s("/dd/f"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
            ),
            sys(nr::WRITE, vec![Arg::Ret(1), s("PWNED"), Arg::Imm(5)]),
            sys(nr::RENAME, vec![s("/dd"), s("/ee")]),
            sys(nr::RENAME, vec![s("/hostdir"), s("/dd")]),
        ];
        if close {
            ops.push(sys(nr::CLOSE, vec![Arg::Ret(1)]));
        }
        let (r, _) = run(&sb, script(&ops, 1));
        assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
        host.assert_untouched();
        // The bytes went where the file is now.
        assert_eq!(sb.get("/ee/f"), b"PWNED");
    }
}

#[test]
fn an_exec_after_the_swap_writes_back_inside_the_root() {
    let host = Host::new();
    let sb = Sandbox::new("swap-exec");
    symlink(host.canary(), sb.root.join("evil")).unwrap();
    sb.put("/x", &stage0_testkit::programs::hello(b"", 0));
    let ops = vec![
        sys(
            nr::OPEN,
            vec![s("/d"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        sys(nr::WRITE, vec![Arg::Ret(0), s("PWNED"), Arg::Imm(5)]),
        sys(nr::RENAME, vec![s("/d"), s("/kept")]),
        sys(nr::RENAME, vec![s("/evil"), s("/d")]),
        sys(nr::EXECVE, vec![s("/x"), Arg::Imm(0), Arg::Imm(0)]),
    ];
    let (r, _) = run(&sb, script(&ops, 1));
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    host.assert_untouched();
    assert_eq!(sb.get("/kept"), b"PWNED");
}

#[test]
fn setuid_setgid_and_sticky_bits_never_reach_the_host() {
    let sb = Sandbox::new("suid");
    let ops = vec![
        sys(
            nr::OPEN,
            vec![s("/s"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o6755)],
        ),
        sys(nr::CLOSE, vec![Arg::Ret(0)]),
        sys(nr::CHMOD, vec![s("/t"), Arg::Imm(0o4755)]),
        sys(nr::MKDIR, vec![s("/sd"), Arg::Imm(0o3777)]),
        sys(nr::CHMOD, vec![s("/sd"), Arg::Imm(0o7777)]),
        sys(nr::CHMOD, vec![s("/t"), Arg::Imm(0o6711)]),
    ];
    sb.put("/t", b"exists");
    let (r, _) = run(&sb, script(&ops, 1));
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    let mode = |p: &str| {
        std::fs::metadata(sb.root.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("s"), 0o755, "umask 022 applies, setuid/setgid dropped");
    assert_eq!(mode("sd"), 0o777);
    assert_eq!(mode("t"), 0o711);
}

#[test]
fn a_guest_made_absolute_symlink_leads_nowhere_on_the_host() {
    let host = Host::new();
    let sb = Sandbox::new("abs-link");
    let target = host.canary().to_str().unwrap().to_string();
    let ops = vec![
        sys(nr::SYMLINK, vec![s(&target), s("/abs")]),
        sys(nr::MKDIR, vec![s("/sub"), Arg::Imm(0o755)]),
        sys(
            nr::SYMLINK,
            vec![
                s("../../../../../../../../../../../etc/passwd"),
                s("/sub/up"),
            ],
        ),
        sys(nr::SYMLINK, vec![s("sub"), s("/down")]),
        // The guest reads back exactly what it wrote.
        sys(nr::READLINK, vec![s("/abs"), Arg::Buf, Arg::Imm(4096)]),
        sys(nr::WRITE, vec![Arg::Imm(1), Arg::Buf, Arg::Ret(4)]),
    ];
    let (r, out) = run(&sb, script(&ops, 1));
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    assert_eq!(out, target.as_bytes());
    for link in ["abs", "sub/up"] {
        let err = std::fs::read(sb.root.join(link)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc_enotdir()), "{link}");
    }
    // A link that stays below its directory is kept as written.
    assert_eq!(
        std::fs::read_link(sb.root.join("down")).unwrap(),
        Path::new("sub")
    );
    host.assert_untouched();
}

fn libc_enotdir() -> i32 {
    20
}

#[test]
fn two_runs_racing_a_symlink_swap_never_read_the_host_canary() {
    use std::sync::Arc;
    let host = Host::new();
    let sb = Arc::new(Sandbox::new("race"));
    sb.put("/d", b"GUEST FILE");
    symlink(host.canary(), sb.root.join("evil")).unwrap();
    sb.put(
        "/swapper",
        &script(
            &[
                sys(nr::RENAME, vec![s("/d"), s("/real")]),
                sys(nr::RENAME, vec![s("/evil"), s("/d")]),
                sys(nr::RENAME, vec![s("/d"), s("/evil")]),
                sys(nr::RENAME, vec![s("/real"), s("/d")]),
            ],
            0,
        ),
    );
    sb.put(
        "/reader",
        &script(
            &[
                sys(nr::OPEN, vec![s("/d"), Arg::Imm(0), Arg::Imm(0)]),
                Op::Skip {
                    ret: 0,
                    when_negative: false,
                    skip: 1,
                },
                sys(nr::WRITE, vec![Arg::Imm(1), s("!"), Arg::Imm(1)]),
                Op::Skip {
                    ret: 0,
                    when_negative: true,
                    skip: 3,
                },
                sys(nr::READ, vec![Arg::Ret(0), Arg::Buf, Arg::Imm(64)]),
                sys(nr::WRITE, vec![Arg::Imm(1), Arg::Buf, Arg::Ret(4)]),
                sys(nr::CLOSE, vec![Arg::Ret(0)]),
            ],
            0,
        ),
    );
    // The swapper stops by its own wall-clock limit, after the reader's.
    let swapper = {
        let sb = sb.clone();
        std::thread::spawn(move || {
            let (_k, r, _) = run_guest(&sb, "/swapper", &["/swapper"], |c| {
                c.limits.timeout = Some(Duration::from_secs(11));
            });
            r
        })
    };
    let (_k, r, out) = run_guest(&sb, "/reader", &["/reader"], |c| {
        c.limits.timeout = Some(Duration::from_secs(10));
    });
    assert!(
        matches!(
            r,
            Err(RunError::Limit {
                limit: Limit::Timeout,
                ..
            })
        ),
        "{r:?}"
    );
    let swapped = swapper.join().unwrap();
    assert!(
        matches!(
            swapped,
            Err(RunError::Limit {
                limit: Limit::Timeout,
                ..
            })
        ),
        "{swapped:?}"
    );
    let text = String::from_utf8_lossy(&out);
    let read_file = text.matches("GUEST FILE").count();
    let refused = text.matches('!').count();
    assert_eq!(
        text.matches("HOST CANARY").count(),
        0,
        "the host canary was read"
    );
    assert!(
        read_file > 100,
        "the reader read its file {read_file} times"
    );
    assert!(refused > 100, "the swap was seen {refused} times");
    host.assert_untouched();
}
