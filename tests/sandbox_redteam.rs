//! A second adversary against the sandbox rebuilt for issue 12: attacks on the handle-based
//! confinement, the written-back contents and the limits, each asserting what the host holds
//! afterwards.

#![cfg(unix)]

use std::path::Path;

use stage0_testkit::adversary::{nr, s, script, Arg, Op};
use stage0_testkit::{run_guest, Sandbox};
use vm::{Limit, RunError};

const O_WRONLY: u32 = 1;
const O_RDWR: u32 = 2;
const O_CREAT: u32 = 0o100;
const O_WRONLY_CREAT_TRUNC: u32 = 0o1101;

fn sys(n: u32, args: Vec<Arg>) -> Op {
    Op::Sys(n, args)
}

fn run_with(
    sb: &Sandbox,
    ops: &[Op],
    tune: impl FnOnce(&mut vm::Config),
) -> (vm::Kernel, Result<vm::ExitStatus, RunError>, Vec<u8>) {
    sb.put("/p", &script(ops, 1));
    run_guest(sb, "/p", &["/p"], tune)
}

fn run(sb: &Sandbox, ops: &[Op]) -> (Result<vm::ExitStatus, RunError>, Vec<u8>) {
    let (_k, r, out) = run_with(sb, ops, |_| {});
    (r, out)
}

/// A host directory beside the sandbox holding a canary.
fn host_canary() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("canary");
    std::fs::write(&c, b"HOST CANARY").unwrap();
    (d, c)
}

fn assert_canary(dir: &Path, canary: &Path) {
    assert_eq!(std::fs::read(canary).unwrap(), b"HOST CANARY");
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        1,
        "host dir gained files"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(canary).unwrap().permissions().mode() & 0o7777,
        0o644
    );
}

#[test]
fn a_write_far_past_the_end_counts_its_hole_against_the_written_limit() {
    // lseek 100 MiB past the end, then one byte: the host holds 100 MiB for it.
    let sb = Sandbox::new("hole");
    let ops = [
        sys(
            nr::OPEN,
            vec![s("/f"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        sys(
            nr::LSEEK,
            vec![Arg::Ret(0), Arg::Imm(100 << 20), Arg::Imm(0)],
        ),
        sys(nr::WRITE, vec![Arg::Ret(0), s("x"), Arg::Imm(1)]),
        Op::ExitWith {
            ret: 2,
            negate: true,
        },
    ];
    let (k, r, _) = run_with(&sb, &ops, |c| c.limits.max_written = 1 << 20);
    assert!(
        matches!(
            r,
            Err(RunError::Limit {
                limit: Limit::Written,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(k.stats().bytes_written <= 1 << 20);
    assert!(std::fs::metadata(sb.root.join("f")).unwrap().len() <= 1 << 20);
}

#[test]
fn unlinking_another_name_of_an_open_file_keeps_what_is_written_through_it() {
    // /a and /b are one host file; the guest writes through /a and removes /b.
    for replace in [false, true] {
        let sb = Sandbox::new("hardlink");
        sb.put("/a", b"old");
        sb.put("/c", b"other");
        std::fs::hard_link(sb.root.join("a"), sb.root.join("b")).unwrap();
        let remove = if replace {
            sys(nr::RENAME, vec![s("/c"), s("/b")])
        } else {
            sys(nr::UNLINK, vec![s("/b")])
        };
        let ops = [
            sys(nr::OPEN, vec![s("/a"), Arg::Imm(O_WRONLY), Arg::Imm(0)]),
            sys(nr::WRITE, vec![Arg::Ret(0), s("NEW"), Arg::Imm(3)]),
            remove,
            sys(nr::CLOSE, vec![Arg::Ret(0)]),
        ];
        let (r, _) = run(&sb, &ops);
        assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
        assert_eq!(sb.get("/a"), b"NEW", "replace {replace}");
    }
}

#[test]
fn links_dotdot_and_dangling_targets_stay_inside() {
    use std::os::unix::fs::symlink;
    let (hd, canary) = host_canary();
    let sb = Sandbox::new("links");
    // Pre-existing host links: absolute to the canary, to its directory, and dangling.
    symlink(&canary, sb.root.join("abs")).unwrap();
    symlink(hd.path(), sb.root.join("hostdir")).unwrap();
    symlink(hd.path().join("new"), sb.root.join("dangling")).unwrap();
    let creat = |p: &str| {
        sys(
            nr::OPEN,
            vec![s(p), Arg::Imm(O_RDWR | O_CREAT), Arg::Imm(0o644)],
        )
    };
    let ops = [
        creat("/dangling"),
        sys(nr::WRITE, vec![Arg::Ret(0), s("PWN"), Arg::Imm(3)]),
        creat("/hostdir/canary"),
        creat("/hostdir/../hostdir/new2"),
        sys(nr::CHMOD, vec![s("/abs"), Arg::Imm(0o4777)]),
        sys(nr::CHMOD, vec![s("/hostdir/canary"), Arg::Imm(0o777)]),
        sys(nr::UNLINK, vec![s("/hostdir/canary")]),
        sys(nr::RENAME, vec![s("/abs"), s("/hostdir/moved")]),
        sys(nr::RMDIR, vec![s("/hostdir/..")]),
        sys(nr::EXECVE, vec![s("/abs"), Arg::Imm(0), Arg::Imm(0)]),
        sys(nr::CHDIR, vec![s("/hostdir")]),
        creat("x"),
        sys(nr::OPEN, vec![s("/abs"), Arg::Imm(0), Arg::Imm(0)]),
        sys(nr::READ, vec![Arg::Ret(12), Arg::Buf, Arg::Imm(64)]),
        sys(nr::WRITE, vec![Arg::Imm(1), Arg::Buf, Arg::Ret(13)]),
    ];
    let (r, out) = run(&sb, &ops);
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    assert!(!String::from_utf8_lossy(&out).contains("CANARY"));
    assert_canary(hd.path(), &canary);
}

#[test]
fn a_directory_swapped_for_a_link_under_an_open_descriptor_stays_inside() {
    use std::os::unix::fs::symlink;
    let (hd, canary) = host_canary();
    let sb = Sandbox::new("fchdir-swap");
    symlink(hd.path(), sb.root.join("hostdir")).unwrap();
    let ops = [
        sys(nr::MKDIR, vec![s("/w"), Arg::Imm(0o755)]),
        sys(nr::OPEN, vec![s("/w"), Arg::Imm(0), Arg::Imm(0)]),
        sys(nr::CHDIR, vec![s("/w")]),
        sys(nr::RENAME, vec![s("/w"), s("/gone")]),
        sys(nr::RENAME, vec![s("/hostdir"), s("/w")]),
        sys(
            nr::OPEN,
            vec![s("canary"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        sys(nr::FCHDIR, vec![Arg::Ret(1)]),
        sys(
            nr::OPEN,
            vec![s("f"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
        ),
        sys(nr::FCHMOD, vec![Arg::Ret(1), Arg::Imm(0o7777)]),
        sys(nr::ACCESS, vec![s("canary"), Arg::Imm(1)]),
    ];
    let (r, _) = run(&sb, &ops);
    assert_eq!(r.unwrap(), vm::ExitStatus::Code(0));
    assert_canary(hd.path(), &canary);
}
