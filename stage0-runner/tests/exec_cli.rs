//! `stage0-runner exec` as a user runs it: exit statuses, messages, adversarial guests.

use std::process::{Command, Output};

use iced_x86::code_asm::*;
use stage0_testkit::programs::{self, hello, just, spin};
use stage0_testkit::Sandbox;

fn exec(sb: &Sandbox, extra: &[&str], program: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .arg("exec")
        .arg("--root")
        .arg(&sb.root)
        .args(extra)
        .arg(program)
        .output()
        .expect("runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn passes_through_exit_status_and_stdout() {
    let sb = Sandbox::new("cli-hello");
    sb.put("bin/hello", &hello(b"hi\n", 42));
    let o = exec(&sb, &["-v"], "/bin/hello");
    assert_eq!(o.status.code(), Some(42));
    assert_eq!(o.stdout, b"hi\n");
    let e = stderr(&o);
    assert!(
        e.contains("8 instructions") && e.contains("2 syscalls"),
        "{e}"
    );
}

#[test]
fn faults_exit_like_a_shell_and_explain_themselves() {
    let sb = Sandbox::new("cli-fault");
    sb.put("bin/ud2", &just(|a| a.ud2()));
    sb.put(
        "bin/wild",
        &just(|a| {
            a.mov(eax, 0xdead_0000u32)?;
            a.jmp(eax)
        }),
    );
    sb.put(
        "bin/div",
        &just(|a| {
            a.xor(ecx, ecx)?;
            a.div(ecx)
        }),
    );
    let o = exec(&sb, &[], "/bin/ud2");
    assert_eq!(o.status.code(), Some(132));
    let e = stderr(&o);
    assert!(
        e.contains("SIGILL")
            && e.contains("0x08048054")
            && e.contains("0f 0b")
            && e.contains("ud2"),
        "{e}"
    );
    let o = exec(&sb, &[], "/bin/wild");
    assert_eq!(o.status.code(), Some(139));
    assert!(stderr(&o).contains("0xdead0000"), "{}", stderr(&o));
    let o = exec(&sb, &[], "/bin/div");
    assert_eq!(o.status.code(), Some(136));
    assert!(stderr(&o).contains("divide error"), "{}", stderr(&o));
}

#[test]
fn runaway_loop_is_stopped_by_max_insns() {
    let sb = Sandbox::new("cli-spin");
    sb.put("bin/spin", &spin());
    let o = exec(&sb, &["--max-insns", "5000000"], "/bin/spin");
    assert_eq!(o.status.code(), Some(124));
    assert!(
        stderr(&o).contains("instruction limit of 5000000"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_syscalls_are_reported_or_stop_a_strict_run() {
    let sb = Sandbox::new("cli-enosys");
    sb.put("bin/s", &programs::syscall_then_exit(400));
    let o = exec(&sb, &[], "/bin/s");
    assert_eq!(o.status.code(), Some(38));
    assert!(stderr(&o).contains("400 (x1)"), "{}", stderr(&o));
    let o = exec(&sb, &["--strict-syscalls"], "/bin/s");
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("syscall 400"), "{}", stderr(&o));
}

#[test]
fn bad_programs_are_named_with_the_reason() {
    let sb = Sandbox::new("cli-bad");
    sb.put(
        "bin/text",
        b"just text, not an ELF file at all...................................",
    );
    let mut elf64 = hello(b"", 0);
    elf64[4] = 2;
    sb.put("bin/elf64", &elf64);
    let o = exec(&sb, &[], "/bin/missing");
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("/bin/missing") && stderr(&o).contains("ENOENT"),
        "{}",
        stderr(&o)
    );
    let o = exec(&sb, &[], "/bin/text");
    assert!(stderr(&o).contains("bad magic"), "{}", stderr(&o));
    let o = exec(&sb, &[], "/bin/elf64");
    assert!(stderr(&o).contains("64-bit"), "{}", stderr(&o));
    let o = exec(&sb, &[], "/../../bin/sh");
    assert_eq!(
        o.status.code(),
        Some(125),
        "a host program outside the root must not run"
    );
}

#[test]
fn strace_logs_each_syscall() {
    let sb = Sandbox::new("cli-strace");
    sb.put("bin/t", &programs::try_open("/etc/passwd"));
    let log = sb.root.join("strace.log");
    let o = exec(&sb, &["--strace", log.to_str().unwrap()], "/bin/t");
    assert_eq!(o.status.code(), Some(2));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("1000 open(\"/etc/passwd\", 0x0, 0o0) = -1 ENOENT (2)"),
        "{text}"
    );
    assert!(text.contains("1000 exit(2) = ?"), "{text}");
}
