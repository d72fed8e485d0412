//! `bench`'s qemu-i386 hook: a program a guest parent execs runs under qemu-i386 in the
//! process's working directory (its output and files land in the sandbox, the parent sees
//! its exit status); the fork/exec parents stay emulated. No tree needed; the tests that
//! run qemu-i386 skip loudly when it is not installed.

mod ddc_common;

use std::path::Path;

use stage0_runner::cmd::bench::qemu::{find_qemu, QemuHook, QemuStats, SUBSTITUTE};
use stage0_testkit::programs::{copy, hello};
use stage0_testkit::{Capture, Sandbox};
use vm::{ExitStatus, RecordEnd};

fn qemu_or_skip(test: &str) -> std::path::PathBuf {
    match find_qemu() {
        Ok((exe, _)) => exe,
        Err(e) => {
            panic!("missing input: {test} needs qemu-i386 (qemu-user): {e}; this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'")
        }
    }
}

/// Runs `/parent` from guest directory `cwd` with `hook`; status, output, kernel.
fn run_parent(sb: &Sandbox, cwd: &str, hook: QemuHook) -> (ExitStatus, Vec<u8>, vm::Kernel) {
    let out = Capture::default();
    let stdio = vm::Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(out.clone()),
        stderr: Box::new(out.clone()),
    };
    let mut k = vm::Kernel::new(vm::Config::new(&sb.root), stdio).unwrap();
    k.set_exec_hook(Box::new(hook));
    k.spawn(cwd, "/parent", &["/parent".to_string()]).unwrap();
    let status = k.run().unwrap();
    (status, out.bytes(), k)
}

#[test]
#[ignore = "needs qemu-i386 (qemu-user)"]
fn an_execed_program_runs_under_qemu_and_the_parent_sees_its_status() {
    let qemu = qemu_or_skip("an_execed_program_runs_under_qemu");
    let sb = Sandbox::new("bench-qemu");
    sb.put("/parent", &ddc_common::fork_exec("/x86/bin/hello", &["a"]));
    sb.put("/x86/bin/hello", &hello(b"hi from i386\n", 7));
    make_executable(&sb.root.join("x86/bin/hello"));
    let hook = QemuHook::new(&qemu, &sb.root);
    let stats = hook.stats();
    let (status, out, k) = run_parent(&sb, "/", hook);
    assert_eq!(status, ExitStatus::Code(8), "hello exits 7, parent adds 1");
    assert_eq!(out, b"hi from i386\n");
    let subs: Vec<_> = k
        .records()
        .iter()
        .filter(|r| r.substitute.is_some())
        .collect();
    assert_eq!(subs.len(), 1, "{:#?}", k.records());
    assert_eq!(subs[0].substitute.as_deref(), Some(SUBSTITUTE));
    assert_eq!(subs[0].exe, "/x86/bin/hello");
    // (Its record's instruction count is the forked child's few before execve, so it
    // does not tell; the hook's counters and the captured output do.)
    let s = stats.borrow().clone();
    assert_eq!(
        (s.programs, s.failed),
        (1, 1),
        "a non-zero exit counts as failed"
    );
    assert!(s.wall > std::time::Duration::ZERO);
}

#[test]
#[ignore = "needs qemu-i386 (qemu-user)"]
fn a_program_under_qemu_works_in_the_process_cwd() {
    let qemu = qemu_or_skip("a_program_under_qemu_works_in_the_process_cwd");
    let sb = Sandbox::new("bench-qemu-cwd");
    sb.put("/parent", &ddc_common::fork_exec("/x86/bin/copy", &[]));
    sb.put("/x86/bin/copy", &copy("in", "out"));
    make_executable(&sb.root.join("x86/bin/copy"));
    sb.put("/work/in", b"relative to the cwd\n");
    let hook = QemuHook::new(&qemu, &sb.root);
    let stats = hook.stats();
    let (status, _, _) = run_parent(&sb, "/work", hook);
    assert_eq!(status, ExitStatus::Code(1), "copy exits 0, parent adds 1");
    assert_eq!(sb.get("/work/out"), b"relative to the cwd\n");
    assert!(!sb.root.join("out").exists());
    let s: QemuStats = stats.borrow().clone();
    assert_eq!((s.programs, s.failed), (1, 0));
}

#[test]
fn parents_stay_emulated() {
    // No qemu needed: a parent never reaches it, so a missing qemu path does not matter.
    let sb = Sandbox::new("bench-qemu-parent");
    sb.put("/parent", &ddc_common::fork_exec("/x86/bin/kaem", &[]));
    sb.put("/x86/bin/kaem", &hello(b"emulated kaem\n", 3));
    let hook = QemuHook::new(Path::new("/nonexistent/qemu-i386"), &sb.root);
    let stats = hook.stats();
    let (status, out, k) = run_parent(&sb, "/", hook);
    assert_eq!(status, ExitStatus::Code(4));
    assert_eq!(out, b"emulated kaem\n");
    assert!(k.records().iter().all(|r| r.substitute.is_none()));
    let kaem = k
        .records()
        .iter()
        .find(|r| r.exe == "/x86/bin/kaem")
        .unwrap();
    assert!(kaem.instructions > 0);
    assert_eq!(kaem.end, RecordEnd::Exited(ExitStatus::Code(3)));
    assert_eq!(stats.borrow().programs, 0);
}

#[test]
fn a_qemu_that_cannot_start_fails_the_program_with_a_message() {
    let sb = Sandbox::new("bench-qemu-missing");
    sb.put("/parent", &ddc_common::fork_exec("/x86/bin/hello", &[]));
    sb.put("/x86/bin/hello", &hello(b"must not run\n", 0));
    let hook = QemuHook::new(Path::new("/nonexistent/qemu-i386"), &sb.root);
    let stats = hook.stats();
    let (status, out, _) = run_parent(&sb, "/", hook);
    assert_eq!(
        status,
        ExitStatus::Code(2),
        "substitute exits 1, parent adds 1"
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("/x86/bin/hello") && text.contains("/nonexistent/qemu-i386"),
        "{text}"
    );
    assert!(!text.contains("must not run"));
    let s = stats.borrow().clone();
    assert_eq!((s.programs, s.failed), (1, 1));
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}
