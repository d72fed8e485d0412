//! Whole programs through the emulator: syscalls, files, processes, memory, faults, limits
//! and the sandbox, on programs assembled here.

use iced_x86::code_asm::*;
use stage0_testkit::programs::{self, *};
use stage0_testkit::{run_guest, Sandbox};
use vm::kernel::signal;
use vm::{ExitStatus, FaultKind, RecordEnd, RunError};

#[test]
fn hello_writes_stdout_and_exits_with_its_code() {
    let sb = Sandbox::new("hello");
    sb.put("bin/hello", &hello(b"hello, world\n", 3));
    let (k, r, out) = run_guest(&sb, "/bin/hello", &["hello"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(3));
    assert_eq!(out, b"hello, world\n");
    let rec = &k.records()[0];
    assert_eq!(rec.syscalls.get("write"), Some(&1));
    assert_eq!(rec.syscalls.get("exit"), Some(&1));
    assert_eq!(rec.instructions, 8);
    assert_eq!(rec.bytes_written, 13);
}

#[test]
fn copy_one_byte_at_a_time_and_record_hashes() {
    let sb = Sandbox::new("copy");
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    sb.put("in/data", &data);
    sb.put("bin/copy", &copy("/in/data", "out"));
    let (k, r, _) = run_guest(&sb, "/bin/copy", &["copy"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(0));
    assert_eq!(sb.get("out"), data);
    let rec = &k.records()[0];
    assert_eq!(rec.syscalls.get("read"), Some(&10_001));
    assert_eq!(rec.syscalls.get("write"), Some(&10_000));
    let hash = vm::record::sha256_hex(&data);
    assert_eq!(rec.reads.len(), 1);
    assert_eq!(
        (rec.reads[0].path.as_str(), rec.reads[0].sha256.as_str()),
        ("/in/data", hash.as_str())
    );
    assert_eq!(rec.writes.len(), 1);
    assert_eq!(
        (rec.writes[0].path.as_str(), rec.writes[0].sha256.as_str()),
        ("/out", hash.as_str())
    );
}

#[test]
fn copy_reports_missing_input() {
    let sb = Sandbox::new("copy-missing");
    sb.put("bin/copy", &copy("/nope", "out"));
    let (_, r, _) = run_guest(&sb, "/bin/copy", &["copy"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(10 + 2)); // ENOENT
}

#[test]
fn fork_execve_waitpid_propagate_status_and_output() {
    let sb = Sandbox::new("fork");
    sb.put("bin/child", &hello(b"from child\n", 7));
    sb.put("bin/parent", &fork_exec_wait("/bin/child", "arg1"));
    let (k, r, out) = run_guest(&sb, "/bin/parent", &["parent"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(8));
    assert_eq!(out, b"from child\n");
    let recs = k.records();
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0].pid, recs[0].parent), (1000, 0));
    assert_eq!((recs[1].pid, recs[1].parent), (1001, 1000));
    assert_eq!(recs[1].exe, "/bin/child");
    assert_eq!(recs[1].argv, vec!["/bin/child", "arg1"]);
    assert_eq!(recs[1].end, RecordEnd::Exited(ExitStatus::Code(7)));
    assert_eq!(recs[0].syscalls.get("fork"), Some(&1));
    assert_eq!(recs[0].syscalls.get("waitpid"), Some(&1));
}

#[test]
fn failed_execve_returns_errno_to_the_caller() {
    let sb = Sandbox::new("exec-fail");
    sb.put("bin/parent", &fork_exec_wait("/bin/missing", "x"));
    let (_, r, _) = run_guest(&sb, "/bin/parent", &["parent"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(100 + 2 + 1)); // ENOENT in the child
    sb.put("bin/notelf", b"#!/bin/sh\necho hi\n");
    sb.put("bin/parent2", &fork_exec_wait("/bin/notelf", "x"));
    let (_, r, _) = run_guest(&sb, "/bin/parent2", &["parent2"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(100 + 8 + 1)); // ENOEXEC
}

#[test]
fn brk_grows_to_the_chain_heap_size() {
    let sb = Sandbox::new("brk");
    sb.put("bin/brk", &brk_grow(80 << 20));
    let (_, r, _) = run_guest(&sb, "/bin/brk", &["brk"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(0));
    sb.put("bin/brk2", &brk_grow(0xC000_0000));
    let (_, r, _) = run_guest(&sb, "/bin/brk2", &["brk2"], |_| {});
    assert_eq!(
        r.unwrap(),
        ExitStatus::Code(1),
        "a break into the stack must be refused"
    );
}

fn fault_of(name: &str, elf: Vec<u8>) -> (ExitStatus, vm::FaultReport) {
    let sb = Sandbox::new(name);
    sb.put("bin/f", &elf);
    let (k, r, _) = run_guest(&sb, "/bin/f", &["f"], |_| {});
    assert_eq!(k.faults().len(), 1, "{name}: one fault expected");
    (r.unwrap(), k.faults()[0].clone())
}

#[test]
fn every_fault_kind_kills_with_the_right_signal_and_names_the_instruction() {
    let entry = stage0_testkit::ENTRY;
    let (s, f) = fault_of("ud2", just(|a| a.ud2()));
    assert_eq!(
        (s, f.kind, f.eip),
        (
            ExitStatus::Signal(signal::SIGILL),
            FaultKind::InvalidOpcode,
            entry
        )
    );
    assert_eq!(s.shell_code(), 132);
    assert!(f.to_string().contains("0f 0b"), "{f}");
    assert!(f.to_string().contains("ud2"), "{f}");

    let (s, f) = fault_of(
        "wild-jump",
        just(|a| {
            a.mov(eax, 0x1234_5678u32)?;
            a.jmp(eax)
        }),
    );
    assert_eq!(s.shell_code(), 139);
    assert_eq!(f.eip, 0x1234_5678);
    assert!(matches!(f.kind, FaultKind::Page(m) if m.addr == 0x1234_5678 && !m.write));
    assert!(f.to_string().contains("not readable"), "{f}");

    let (s, f) = fault_of("null-read", just(|a| a.mov(eax, dword_ptr(0x10))));
    assert_eq!((s, f.eip), (ExitStatus::Signal(signal::SIGSEGV), entry));
    assert!(matches!(f.kind, FaultKind::Page(m) if m.addr == 0x10));
    assert!(
        f.to_string().contains("mov eax,[10h]")
            || f.to_string().contains("mov eax,[0x10]")
            || f.to_string().contains("[10h]"),
        "{f}"
    );

    let (s, f) = fault_of("null-write", just(|a| a.mov(dword_ptr(0x20), eax)));
    assert_eq!(s, ExitStatus::Signal(signal::SIGSEGV));
    assert!(matches!(f.kind, FaultKind::Page(m) if m.addr == 0x20 && m.write));

    let (s, f) = fault_of(
        "div0",
        just(|a| {
            a.xor(ecx, ecx)?;
            a.div(ecx)
        }),
    );
    assert_eq!(
        (s.shell_code(), f.kind, f.eip),
        (136, FaultKind::Divide, entry + 2)
    );

    let (s, f) = fault_of("int3", just(|a| a.int3()));
    assert_eq!(
        (s, f.kind),
        (ExitStatus::Signal(signal::SIGTRAP), FaultKind::Breakpoint)
    );

    let (s, f) = fault_of("hlt", just(|a| a.hlt()));
    assert_eq!(
        (s, f.kind),
        (
            ExitStatus::Signal(signal::SIGSEGV),
            FaultKind::GeneralProtection
        )
    );

    let (s, f) = fault_of("int81", just(|a| a.int(0x81)));
    assert_eq!(
        (s, f.kind),
        (
            ExitStatus::Signal(signal::SIGSEGV),
            FaultKind::GeneralProtection
        )
    );
}

#[test]
fn a_faulting_child_is_reported_to_its_parent_as_a_signal() {
    let sb = Sandbox::new("child-fault");
    sb.put("bin/bad", &just(|a| a.ud2()));
    sb.put("bin/parent", &fork_exec_wait("/bin/bad", "x"));
    let (k, r, _) = run_guest(&sb, "/bin/parent", &["parent"], |_| {});
    // status = SIGILL (4): status >> 8 is 0, so the parent exits 0 + 1.
    assert_eq!(r.unwrap(), ExitStatus::Code(1));
    assert_eq!(
        k.records()[1].end,
        RecordEnd::Exited(ExitStatus::Signal(signal::SIGILL))
    );
}

#[test]
fn unknown_syscalls_get_enosys_or_stop_a_strict_run() {
    let sb = Sandbox::new("enosys");
    sb.put("bin/s", &syscall_then_exit(999));
    let (k, r, _) = run_guest(&sb, "/bin/s", &["s"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(38));
    assert_eq!(k.stats().unknown_syscalls.get(&999), Some(&1));
    let (_, r, _) = run_guest(&sb, "/bin/s", &["s"], |c| c.strict_syscalls = true);
    match r {
        Err(RunError::StrictSyscall { nr: 999, eip, .. }) => {
            assert_eq!(eip, stage0_testkit::ENTRY + 5)
        }
        other => panic!("expected a strict-syscall stop, got {other:?}"),
    }
}

#[test]
fn runaway_guest_stops_at_the_instruction_limit_exactly() {
    let sb = Sandbox::new("spin");
    sb.put("bin/spin", &spin());
    let (k, r, _) = run_guest(&sb, "/bin/spin", &["spin"], |c| {
        c.limits.max_insns = 1_000_001
    });
    assert!(
        matches!(
            r,
            Err(RunError::InsnLimit {
                limit: 1_000_001,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(k.stats().instructions, 1_000_001);
}

#[test]
fn sandbox_escapes_find_nothing() {
    let sb = Sandbox::new("escape");
    let outside = Sandbox::new("outside");
    let secret = outside.put("secret", b"host secret");
    sb.put(
        "bin/dotdot",
        &programs::try_open("/../../../../../../../../../../../../etc/passwd"),
    );
    let (_, r, _) = run_guest(&sb, "/bin/dotdot", &["x"], |_| {});
    assert_eq!(r.unwrap(), ExitStatus::Code(2));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&secret, sb.root.join("abs-link")).unwrap();
        std::os::unix::fs::symlink(outside.root.as_path(), sb.root.join("dir-link")).unwrap();
        for (name, path) in [
            ("abs", "/abs-link"),
            ("dir", "/dir-link/secret"),
            ("rel", "/bin/../../../secret"),
        ] {
            sb.put(&format!("bin/{name}"), &programs::try_open(path));
            let (_, r, _) = run_guest(&sb, &format!("/bin/{name}"), &["x"], |_| {});
            assert_eq!(
                r.unwrap(),
                ExitStatus::Code(2),
                "{path} must not reach the host file"
            );
        }
    }
    assert!(secret.exists());
}

#[test]
fn two_runs_give_identical_records() {
    let run = || {
        let sb = Sandbox::new("det");
        sb.put("bin/child", &hello(b"x\n", 0));
        sb.put("bin/parent", &fork_exec_wait("/bin/child", "a"));
        let (k, _, out) = run_guest(&sb, "/bin/parent", &["parent"], |_| {});
        (format!("{:?}", k.records()), out)
    };
    assert_eq!(run(), run());
}
