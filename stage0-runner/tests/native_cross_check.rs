//! `stage0-runner exec --cross-check-native`: programs assembled here run on the host CPU
//! and in the emulator (interpreter and unicorn), each on its own copy of the sandbox root.
//! Where the sandbox matches Linux they must agree; where it deliberately does not (its
//! fixed clock and uname) the difference must be reported, naming what differed.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use iced_x86::code_asm::*;
use stage0_testkit::programs::{self, build_with_data, exit, sys};
use stage0_testkit::Sandbox;

/// Exit status of `exec --cross-check-native` when the host cannot run i386 code.
const UNAVAILABLE: i32 = 126;

fn put_exe(sb: &Sandbox, path: &str, bytes: &[u8]) {
    let p = sb.put(path, bytes);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn native(sb: &Sandbox, extra: &[&str], program: &[&str]) -> Output {
    native_as(sb, &["--cross-check-native"], extra, program)
}

fn native_as(sb: &Sandbox, flag: &[&str], extra: &[&str], program: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .arg("exec")
        .args(flag)
        .arg("--root")
        .arg(&sb.root)
        .args(extra)
        .args(program)
        .output()
        .expect("runs");
    if o.status.code() == Some(UNAVAILABLE) {
        panic!(
            "missing input: this host cannot run i386 code natively: {} (this test is ignored unless run with --ignored; README, 'Tests and the upstream tree')",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
#[ignore = "needs a host that runs i386 code natively and the unicorn engine (--features stage0-testkit/unicorn)"]
fn output_and_exit_status_agree_with_the_host_cpu() {
    let sb = Sandbox::new("native-hello");
    put_exe(&sb, "bin/hello", &programs::hello(b"hi there\n", 42));
    for engine in ["interp", "unicorn"] {
        let o = native(&sb, &["--engine", engine], &["/bin/hello"]);
        let e = stderr(&o);
        if engine == "unicorn" && e.contains("not in this build") {
            continue;
        }
        assert_eq!(o.status.code(), Some(0), "{engine}: {e}");
        assert!(
            e.contains("agree: exit 42, stdout 9 bytes, stderr 0 bytes"),
            "{engine}: {e}"
        );
    }
}

#[test]
fn the_old_two_word_spelling_is_refused_not_misread() {
    let sb = Sandbox::new("native-space");
    put_exe(&sb, "bin/hello", &programs::hello(b"hi\n", 5));
    // `--cross-check native PROG` must neither run a program called `native` nor guess:
    // it says which flag to use.
    let o = Command::new(env!("CARGO_BIN_EXE_stage0-runner"))
        .args(["exec", "--cross-check", "--root"])
        .arg(&sb.root)
        .args(["native", "/bin/hello"])
        .output()
        .expect("runs");
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("--cross-check-native"), "{e}");
}

#[test]
#[ignore = "needs a host that runs i386 code natively"]
fn files_written_agree_in_content_and_mode() {
    let sb = Sandbox::new("native-copy");
    put_exe(&sb, "bin/copy", &programs::copy("in.txt", "out.txt"));
    let input: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    sb.put("in.txt", &input);
    let o = native(&sb, &[], &["/bin/copy"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    // bin, bin/copy, in.txt and the new out.txt; only out.txt is new.
    assert!(
        e.contains("agree: exit 0") && e.contains("4 entries compared after the runs (1 created"),
        "{e}"
    );
    // The caller's tree is untouched: both runs worked on copies.
    assert!(!sb.root.join("out.txt").exists());
}

#[test]
#[ignore = "needs a host that runs i386 code natively"]
fn what_the_sandbox_fixes_is_reported_as_a_difference() {
    // time() to stdout (the sandbox's clock reads SOURCE_DATE_EPOCH), uname() into a file
    // (the sandbox says `Linux stage0 4.19.0 i686`).
    let name = b"uname.out\0";
    let prog = build_with_data(&[name, &[0; 4], &[0; 400]], 0, |a, d| {
        let (path, t, uts) = (d[0], d[1], d[2]);
        a.mov(ebx, t)?;
        sys(a, 13)?; // time(&t)
        a.mov(ebx, 1u32)?;
        a.mov(ecx, t)?;
        a.mov(edx, 4u32)?;
        sys(a, 4)?; // write(1, &t, 4)
        a.mov(ebx, uts)?;
        sys(a, 122)?; // uname(uts)
        a.mov(ebx, path)?;
        a.mov(ecx, 0x241u32)?; // O_WRONLY | O_CREAT | O_TRUNC
        a.mov(edx, 0o600u32)?;
        sys(a, 5)?;
        a.mov(ebx, eax)?;
        a.mov(ecx, uts)?;
        a.mov(edx, 390u32)?;
        sys(a, 4)?; // write(fd, uts, 6 * 65)
        exit(a, 0)
    });
    let sb = Sandbox::new("native-planted");
    put_exe(&sb, "bin/planted", &prog);
    let o = native(&sb, &[], &["/bin/planted"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("2 difference(s)"), "{e}");
    assert!(
        e.contains("differs: stdout: native 4 bytes vs emulated 4 bytes"),
        "{e}"
    );
    assert!(
        e.contains("differs: /uname.out: content native 390 bytes vs emulated 390 bytes"),
        "{e}"
    );
    // The exit statuses and the file's mode agreed, so they are not listed.
    assert!(
        !e.contains("exit status:") && !e.contains("mode native"),
        "{e}"
    );
}

#[test]
#[ignore = "needs a host that runs i386 code natively"]
fn a_program_the_host_cannot_start_is_a_runner_error_not_a_difference() {
    let sb = Sandbox::new("native-noexec");
    // Not executable on the host (mode 0644): the native side cannot start it.
    sb.put("bin/hello", &programs::hello(b"x", 0));
    let o = native(&sb, &[], &["/bin/hello"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(125), "{e}");
    assert!(e.contains("starting") && e.contains("natively"), "{e}");
}
