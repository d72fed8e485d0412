//! Engine speed, in guest instructions per second: the interpreter and (where the build and
//! host have it) the JIT tier, each beside a reference measured in the same run: the same
//! i386 program run natively when the host can run it.
//!
//! - `compute/count_loop`: stage0_testkit's 4-instruction loop (add, xor, dec, jne).
//! - `compute/chain_mix`: a loop with the chain's instruction mix (push/pop, mov to and from
//!   memory, lea, movzx, add/cmp/test, setcc, jcc, call/ret).
//! - `syscall/copy_1byte`: one-byte read + write per byte through the VFS.
//! - `step/cc_x86_M2-Planet`: cc_x86 compiling M2-Planet (`M2-0.c`) and
//!   `step/M2_M1-macro`: cc_x86-built M2 compiling M1; inputs from $STAGE0_NATIVE_TREE
//!   (a tree after a native run), skipped with a SKIPPED line without it.
//!
//! Criterion prints each function's throughput in guest instructions/s (elements/s); a
//! `RATIO` line per program compares one run on each engine and one native run, timed back
//! to back.
//! `cargo bench --bench interpreter [filter]`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iced_x86::code_asm::*;
use stage0_testkit::programs::{self, build_with_data, exit};
use stage0_testkit::{run_guest, Sandbox};

/// Runs guest `program` (argv[0] included in `argv`) in `sb` on `engine` and returns the
/// guest instructions it retired; panics unless it exits 0.
fn emulate(sb: &Sandbox, argv: &[&str], engine: vm::EngineKind) -> u64 {
    let (k, r, out) = run_guest(sb, argv[0], argv, |cfg| cfg.engine = engine);
    match r {
        Ok(vm::ExitStatus::Code(0)) => {}
        other => panic!(
            "{argv:?} in the emulator: {other:?}\n{}",
            String::from_utf8_lossy(&out)
        ),
    }
    k.stats().instructions
}

/// Runs `argv` natively with `dir` as working directory; panics unless it exits 0.
fn native(dir: &Path, argv: &[&str]) {
    let st = Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("spawn native program");
    assert!(st.success(), "{argv:?} natively: {st}");
}

/// Whether this host executes i386 Linux binaries (tried once with an exit(0) program).
fn host_runs_i386() -> bool {
    let sb = Sandbox::new("bench-probe");
    let p = sb.put("probe", &programs::build(0, |a| exit(a, 0)));
    make_executable(&p);
    Command::new(&p)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// One program to measure: a sandbox holding its inputs, and its argv (paths relative to
/// the sandbox root, so the same argv works in the emulator and natively).
struct Case {
    name: &'static str,
    sb: Sandbox,
    argv: Vec<&'static str>,
}

impl Case {
    fn argv(&self) -> Vec<&str> {
        self.argv.to_vec()
    }
    fn native_argv(&self) -> Vec<String> {
        let mut v: Vec<String> = self.argv.iter().map(|s| s.to_string()).collect();
        v[0] = self.sb.root.join(&v[0]).display().to_string();
        v
    }
}

/// The engines measured: the interpreter, and the JIT when it runs here.
fn engines() -> Vec<(&'static str, vm::EngineKind)> {
    let mut v = vec![("interp", vm::EngineKind::Interp)];
    if vm::engine::registry::jit_available().is_ok() {
        v.push(("jit", vm::EngineKind::Jit));
    }
    v
}

/// Benches one case on each engine and (when possible) natively, after printing the ratio
/// of one timed run of each.
fn bench_case(c: &mut Criterion, group: &str, case: &Case, native_ok: bool, samples: usize) {
    for (name, engine) in engines() {
        ratio_line(group, case, native_ok, name, engine);
    }
    let insns = emulate(&case.sb, &case.argv(), vm::EngineKind::Interp);
    let nargv = case.native_argv();
    let nargv: Vec<&str> = nargv.iter().map(|s| s.as_str()).collect();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(insns));
    g.sample_size(samples);
    g.warm_up_time(Duration::from_millis(500));
    for (name, engine) in engines() {
        g.bench_function(BenchmarkId::new(name, case.name), |b| {
            b.iter(|| emulate(&case.sb, &case.argv(), engine))
        });
    }
    if native_ok {
        g.bench_function(BenchmarkId::new("native", case.name), |b| {
            b.iter(|| native(&case.sb.root, &nargv))
        });
    }
    g.finish();
}

/// Prints the `RATIO` line of one timed run on `engine` (named `name`) beside one native run.
fn ratio_line(group: &str, case: &Case, native_ok: bool, name: &str, engine: vm::EngineKind) {
    let emu_name = name;
    let t = Instant::now();
    let insns = emulate(&case.sb, &case.argv(), engine);
    let emu = t.elapsed().as_secs_f64();
    let nargv = case.native_argv();
    let nargv: Vec<&str> = nargv.iter().map(|s| s.as_str()).collect();
    let mips = |s: f64| insns as f64 / s / 1e6;
    if native_ok {
        let t = Instant::now();
        native(&case.sb.root, &nargv);
        let nat = t.elapsed().as_secs_f64();
        eprintln!(
            "RATIO {group}/{}: {insns} guest instructions; {emu_name} {emu:.3} s ({:.0} MIPS), \
             native {nat:.3} s ({:.0} MIPS); {emu_name}/native time = {:.2}x",
            case.name,
            mips(emu),
            mips(nat),
            emu / nat
        );
    } else {
        eprintln!(
            "RATIO {group}/{}: {insns} guest instructions; {emu_name} {emu:.3} s ({:.0} MIPS); \
             no native reference (host does not run i386)",
            case.name,
            mips(emu)
        );
    }
}

/// A loop of `iterations` × 21 instructions with the chain's instruction mix.
fn chain_mix(iterations: u32) -> Vec<u8> {
    build_with_data(&[&[7, 0, 0, 0, 0, 0, 0, 0]], 0x100, move |a, d| {
        let data = d[0];
        let (mut top, mut func, mut done) = (a.create_label(), a.create_label(), a.create_label());
        a.mov(ecx, iterations)?;
        a.xor(esi, esi)?;
        a.set_label(&mut top)?;
        a.push(ecx)?;
        a.lea(eax, dword_ptr(esp + 4))?;
        a.mov(ebx, dword_ptr(esp))?;
        a.movzx(edx, byte_ptr(data))?;
        a.add(ebx, edx)?;
        a.mov(dword_ptr(data + 4), ebx)?;
        a.push(ebx)?;
        a.call(func)?;
        a.add(esp, 4)?;
        a.add(esi, eax)?;
        a.pop(ecx)?;
        a.test(ecx, ecx)?;
        a.setle(al)?;
        a.sub(ecx, 1)?;
        a.cmp(ecx, 0)?;
        a.jne(top)?;
        a.jmp(done)?;
        a.set_label(&mut func)?;
        a.push(ebp)?;
        a.mov(ebp, esp)?;
        a.mov(eax, dword_ptr(ebp + 8))?;
        a.pop(ebp)?;
        a.ret()?;
        a.set_label(&mut done)?;
        exit(a, 0)
    })
}

fn program_case(name: &'static str, elf: &[u8], files: &[(&str, &[u8])]) -> Case {
    let sb = Sandbox::new(name);
    make_executable(&sb.put("prog", elf));
    for (path, bytes) in files {
        sb.put(path, bytes);
    }
    Case {
        name,
        sb,
        argv: vec!["prog"],
    }
}

fn compute(c: &mut Criterion) {
    let native_ok = host_runs_i386();
    let count = program_case("count_loop", &programs::count_loop(25_000_000), &[]);
    bench_case(c, "compute", &count, native_ok, 10);
    let mix = program_case("chain_mix", &chain_mix(2_000_000), &[]);
    bench_case(c, "compute", &mix, native_ok, 10);
}

fn syscall(c: &mut Criterion) {
    let native_ok = host_runs_i386();
    let input: Vec<u8> = (0..256 * 1024u32).map(|i| (i * 7) as u8).collect();
    let case = program_case(
        "copy_1byte",
        &programs::copy("in", "out"),
        &[("in", &input)],
    );
    bench_case(c, "syscall", &case, native_ok, 10);
    assert_eq!(case.sb.get("out"), input, "the guest copied the file");
}

/// Copies `files` (paths relative to the tree) from the native tree into a sandbox.
fn step_case(tree: &Path, name: &'static str, files: &[&str], argv: Vec<&'static str>) -> Case {
    let sb = Sandbox::new(name);
    for f in files {
        let bytes = std::fs::read(tree.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}", tree.join(f).display()));
        let p = sb.put(f, &bytes);
        if f.contains("/artifact/") && !f.ends_with(".c") {
            make_executable(&p);
        }
    }
    Case { name, sb, argv }
}

fn steps(c: &mut Criterion) {
    let Some(tree) = std::env::var_os("STAGE0_NATIVE_TREE") else {
        eprintln!(
            "SKIPPED: step benches need $STAGE0_NATIVE_TREE (a stage0-posix tree after a native run)"
        );
        return;
    };
    let tree = Path::new(&tree);
    let native_ok = host_runs_i386();
    let cc = step_case(
        tree,
        "cc_x86_M2-Planet",
        &["x86/artifact/cc_x86", "x86/artifact/M2-0.c"],
        vec![
            "x86/artifact/cc_x86",
            "x86/artifact/M2-0.c",
            "x86/artifact/M2-0.M1",
        ],
    );
    bench_case(c, "step", &cc, native_ok, 10);
    let m2 = step_case(
        tree,
        "M2_M1-macro",
        &[
            "x86/artifact/M2",
            "M2libc/x86/linux/bootstrap.c",
            "M2libc/bootstrappable.c",
            "mescc-tools/stringify.c",
            "mescc-tools/M1-macro.c",
        ],
        vec![
            "x86/artifact/M2",
            "--architecture",
            "x86",
            "-f",
            "M2libc/x86/linux/bootstrap.c",
            "-f",
            "M2libc/bootstrappable.c",
            "-f",
            "mescc-tools/stringify.c",
            "-f",
            "mescc-tools/M1-macro.c",
            "--bootstrap-mode",
            "--debug",
            "-o",
            "x86/artifact/M1-macro-0.M1",
        ],
    );
    bench_case(c, "step", &m2, native_ok, 10);
    let want = std::fs::read(tree.join("x86/artifact/M1-macro-0.M1")).expect("native output");
    assert_eq!(
        m2.sb.get("x86/artifact/M1-macro-0.M1"),
        want,
        "M2 output as native"
    );
}

criterion_group!(benches, compute, syscall, steps);
criterion_main!(benches);
