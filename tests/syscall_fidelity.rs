//! Linux behaviours the sandbox audit (issue 12) found missing, as a Linux kernel answers
//! them.

use stage0_testkit::adversary::{nr, s, script, Arg, Op};
use stage0_testkit::{run_guest, Sandbox};
use vm::ExitStatus;

fn exit_of(sb: &Sandbox, ops: &[Op]) -> ExitStatus {
    sb.put("/p", &script(ops, 1));
    let (_k, r, _) = run_guest(sb, "/p", &["/p"], |_| {});
    r.unwrap()
}

#[test]
fn open_of_a_missing_name_with_a_trailing_slash_and_o_creat_is_eisdir() {
    let sb = Sandbox::new("eisdir");
    let ops = [
        Op::Sys(
            nr::OPEN,
            vec![s("/newdir/"), Arg::Imm(0o101), Arg::Imm(0o644)],
        ),
        Op::ExitWith {
            ret: 0,
            negate: true,
        },
    ];
    assert_eq!(exit_of(&sb, &ops), ExitStatus::Code(21), "EISDIR");
    assert!(!sb.root.join("newdir").exists());
}

/// open /f, read(fd, buf, 8192), exit with the read's result (negated when `negate`).
fn read_into(buf: u32, negate: bool) -> Vec<Op> {
    vec![
        Op::Sys(nr::OPEN, vec![s("/f"), Arg::Imm(0), Arg::Imm(0)]),
        Op::Sys(nr::READ, vec![Arg::Ret(0), Arg::Imm(buf), Arg::Imm(8192)]),
        Op::ExitWith { ret: 1, negate },
    ]
}

#[test]
fn a_read_running_into_unmapped_memory_returns_what_fit() {
    let sb = Sandbox::new("partial-read");
    sb.put("/f", &[b'x'; 8192]);
    // The stack ends at 0xc0000000: 200 bytes below it there is room for 200 bytes.
    assert_eq!(
        exit_of(&sb, &read_into(0xc000_0000 - 200, false)),
        ExitStatus::Code(200)
    );
    // Nothing mapped at all: EFAULT.
    assert_eq!(exit_of(&sb, &read_into(0x1000, true)), ExitStatus::Code(14));
}

#[test]
fn a_write_running_into_unmapped_memory_writes_what_fit() {
    let sb = Sandbox::new("partial-write");
    let ops = [
        Op::Sys(nr::OPEN, vec![s("/out"), Arg::Imm(0o1101), Arg::Imm(0o644)]),
        Op::Sys(
            nr::WRITE,
            vec![Arg::Ret(0), Arg::Imm(0xc000_0000 - 100), Arg::Imm(4096)],
        ),
        Op::ExitWith {
            ret: 1,
            negate: false,
        },
    ];
    assert_eq!(exit_of(&sb, &ops), ExitStatus::Code(100));
    assert_eq!(sb.get("/out").len(), 100);
}
