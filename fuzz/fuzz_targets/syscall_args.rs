//! Syscall argument handling: a guest makes up to eight syscalls with numbers and
//! arguments from the input (arguments are raw values or pointers into a page of input
//! bytes), in a fresh sandbox under small limits. Whatever it asks, the kernel answers or
//! stops the run with an error: never a panic, a hang, or a file outside the sandbox.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stage0_testkit::adversary::{script, Arg, Op};

fn word(d: &[u8], i: usize) -> u32 {
    let b = |k: usize| d.get(i + k).copied().unwrap_or(0) as u32;
    b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (calls, blob) = data.split_at(data.len().min(8 * 28));
    let mut blob = blob.to_vec();
    blob.push(0);
    let mut ops = Vec::new();
    for c in calls.chunks(28).take(8) {
        let nr = (word(c, 0) & 0x1ff) as u32;
        // exit, fork, execve and friends are fuzzed too: the small limits bound them.
        let mut args = Vec::new();
        for k in 0..6 {
            let v = word(c, 4 + 4 * k);
            args.push(if c.get(25 + k % 3).copied().unwrap_or(0) & (1 << k) != 0 {
                Arg::Bytes(blob[(v as usize) % blob.len()..].to_vec())
            } else {
                Arg::Imm(v)
            });
        }
        ops.push(Op::Sys(nr, args));
    }
    let prog = script(&ops, 1);
    let outside = tempfile::tempdir().expect("temp dir");
    let root = outside.path().join("root");
    std::fs::create_dir(&root).expect("root");
    std::fs::write(root.join("p"), &prog).expect("program");
    std::fs::write(root.join("f"), b"file").expect("file");
    let mut cfg = vm::Config::new(&root);
    cfg.limits.max_insns = 100_000;
    cfg.limits.max_memory = 64 << 20;
    cfg.limits.max_processes = 8;
    cfg.limits.max_written = 1 << 20;
    cfg.limits.max_file_size = 1 << 20;
    cfg.limits.timeout = Some(std::time::Duration::from_secs(5));
    let stdio = vm::Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(std::io::sink()),
        stderr: Box::new(std::io::sink()),
    };
    let mut k = vm::Kernel::new(cfg, stdio).expect("kernel");
    k.spawn("/", "/p", &["/p".to_string()]).expect("spawn");
    let _ = k.run();
    drop(k);
    // Nothing appeared beside the root.
    let names: Vec<_> = std::fs::read_dir(outside.path())
        .expect("read outside")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("root")]);
});
