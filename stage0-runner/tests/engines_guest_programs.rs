//! Small guest programs run on every engine through the same kernel: unicorn and the
//! lockstep cross-check must give the interpreter's exit status, output and files. These
//! exercise the engine <-> kernel memory sync: syscall results, read() into guest buffers,
//! brk growth, fork and execve.

use stage0_testkit::{programs, run_guest, Sandbox};
use vm::{EngineKind, ExitStatus};

/// Whether this build has the unicorn engine.
fn have_unicorn() -> bool {
    let counts = vm::lockstep::SharedCounts::default();
    vm::AnyEngine::start(EngineKind::Unicorn, 0, 0, &counts).is_ok()
}

/// Runs `program` with `argv` in a fresh sandbox holding `files` on `kind`; returns the
/// status, the output, the file at `read_back` (if any) and the cross-check counts.
fn run_on(
    kind: EngineKind,
    files: &[(&str, Vec<u8>)],
    argv: &[&str],
    read_back: Option<&str>,
) -> (ExitStatus, Vec<u8>, Option<Vec<u8>>, vm::lockstep::Counts) {
    let sb = Sandbox::new("engines");
    for (path, bytes) in files {
        sb.put(path, bytes);
    }
    let (k, r, out) = run_guest(&sb, argv[0], argv, |c| c.engine = kind);
    let status = r.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    let file = read_back.map(|p| sb.get(p));
    (status, out, file, k.cross_check_counts())
}

fn same_on_every_engine(files: &[(&str, Vec<u8>)], argv: &[&str], read_back: Option<&str>) {
    if !have_unicorn() {
        eprintln!("SKIPPED: engines_guest_programs needs the `unicorn` feature (vm/unicorn)");
        return;
    }
    let reference = run_on(EngineKind::Interp, files, argv, read_back);
    for kind in [EngineKind::Unicorn, EngineKind::CrossCheck] {
        let got = run_on(kind, files, argv, read_back);
        assert_eq!(got.0, reference.0, "{kind:?}: exit status");
        assert_eq!(got.1, reference.1, "{kind:?}: output");
        assert_eq!(got.2, reference.2, "{kind:?}: file written");
        if kind == EngineKind::CrossCheck {
            assert!(got.3.instructions > 0 && got.3.syscalls > 0, "{:?}", got.3);
        }
    }
}

#[test]
fn hello_writes_and_exits() {
    same_on_every_engine(
        &[("/hello", programs::hello(b"hi there\n", 7))],
        &["/hello"],
        None,
    );
}

#[test]
fn byte_by_byte_copy_reads_into_guest_memory() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    same_on_every_engine(
        &[("/copy", programs::copy("/in", "/out")), ("/in", data)],
        &["/copy"],
        Some("/out"),
    );
}

#[test]
fn brk_growth_is_visible_to_the_engine() {
    same_on_every_engine(&[("/brk", programs::brk_grow(5 << 20))], &["/brk"], None);
}

#[test]
fn fork_exec_wait_runs_the_child_on_the_same_engine() {
    same_on_every_engine(
        &[
            ("/parent", programs::fork_exec_wait("/child", "x")),
            ("/child", programs::hello(b"child\n", 3)),
        ],
        &["/parent"],
        None,
    );
}
