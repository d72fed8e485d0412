//! Instruction traces replay a program under the real kernel in a scratch sandbox: every
//! syscall the chain's kernel serves works in a trace (fork included), what the program
//! writes it reads back, and the tree is never changed.

#![cfg(unix)]

use stage0_runner::trace::{self, Image, TracedInsn, Window};
use stage0_testkit::adversary::{nr, s, script, Arg, Op};
use stage0_testkit::Sandbox;

const O_WRONLY_CREAT_TRUNC: u32 = 0o1101;

/// Writes /out, forks (the parent waits), then reads /out back and exits 0.
fn writer_that_forks() -> Vec<u8> {
    let sys = Op::Sys;
    script(
        &[
            sys(
                nr::OPEN,
                vec![s("/out"), Arg::Imm(O_WRONLY_CREAT_TRUNC), Arg::Imm(0o644)],
            ),
            sys(nr::WRITE, vec![Arg::Ret(0), s("HELLO"), Arg::Imm(5)]),
            sys(nr::CLOSE, vec![Arg::Ret(0)]),
            sys(nr::FORK, vec![]),
            sys(
                nr::WAITPID,
                vec![Arg::Imm(u32::MAX), Arg::Imm(0), Arg::Imm(0)],
            ),
            sys(nr::OPEN, vec![s("/out"), Arg::Imm(0)]),
            sys(nr::READ, vec![Arg::Ret(5), Arg::Buf, Arg::Imm(16)]),
        ],
        1,
    )
}

fn image() -> Image<'static> {
    Image {
        exe: "/p",
        argv: Box::leak(Box::new(["/p".to_string()])),
        env: &[],
        cwd: "/",
    }
}

/// A sandbox holding the program as /p, and the trace of instructions `from..to`.
fn traced(name: &str, from: u64, to: u64) -> (Sandbox, Vec<TracedInsn>, Option<String>) {
    let sb = Sandbox::new(name);
    sb.put("/p", &writer_that_forks());
    let (insns, note) = trace::trace_image(&sb.root, &image(), Window { from, to }).unwrap();
    (sb, insns, note)
}

#[test]
fn a_trace_runs_past_fork_reads_its_own_writes_and_leaves_the_tree_alone() {
    let (sb, insns, note) = traced("trace-fork", 0, 100_000);
    assert_eq!(note.as_deref(), Some("the program exited with status 0"));
    let syscalls: Vec<&Vec<String>> = insns
        .iter()
        .filter(|i| i.bytes == [0xcd, 0x80])
        .map(|i| &i.changes)
        .collect();
    // open, write, close, fork, waitpid, open, read, exit (the child's run is not traced).
    assert_eq!(syscalls.len(), 8, "{syscalls:?}");
    let ret = |k: usize| syscalls[k].last().cloned().unwrap_or_default();
    assert_eq!(ret(0), "syscall -> eax=0x3");
    assert_eq!(
        ret(3),
        "syscall -> eax=0x3e9",
        "fork returns the child's pid"
    );
    assert_eq!(ret(4), "syscall -> eax=0x3e9", "waitpid reaps it");
    assert_eq!(
        ret(6),
        "syscall -> eax=0x5",
        "the read sees the bytes written"
    );
    assert!(
        !sb.root.join("out").exists(),
        "the trace wrote /out into the tree"
    );
    let names: Vec<_> = std::fs::read_dir(&sb.root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("p")]);
}

#[test]
fn a_window_shows_exactly_its_instructions_and_ends_without_a_note() {
    let (_, all, _) = traced("trace-window", 0, 100_000);
    let (_, part, note) = traced("trace-window", 3, 9);
    assert_eq!(note, None);
    assert_eq!(
        part.iter().map(|i| i.index).collect::<Vec<_>>(),
        (3..9).collect::<Vec<_>>()
    );
    assert_eq!(part, all[3..9]);
}

#[test]
fn a_missing_program_is_named() {
    let sb = Sandbox::new("trace-missing");
    let err = trace::trace_image(&sb.root, &image(), Window { from: 0, to: 10 }).unwrap_err();
    assert!(err.contains("/p"), "{err}");
}
