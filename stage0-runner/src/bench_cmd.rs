//! `stage0-runner bench TREE`: the whole upstream chain's wall time natively, under
//! qemu-i386 and in the emulator, in one session, each on its own copy of TREE.
//!
//! - native: `./bootstrap-seeds/POSIX/x86/kaem-optional-seed ./kaem.x86`, when the host
//!   executes i386 binaries;
//! - qemu: every top-level step of the plan as `qemu-i386 ARGV...`, when `qemu-i386` is on
//!   PATH. Without binfmt_misc the programs a kaem step execs run natively, so this measures
//!   qemu only for the processes it starts itself (the report says so);
//! - emulator: [`crate::run_cmd::execute`], answers checked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::{Args, Parser};

use crate::chain::{self, Layout};
use crate::run_cmd::{self, RunArgs};

#[derive(Args)]
pub struct BenchArgs {
    /// Directory for the three copies of TREE (default: the system temp dir); removed after.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// Keep the copies.
    #[arg(long)]
    pub keep: bool,
    /// A pristine stage0-posix checkout (only copied, never modified).
    pub tree: PathBuf,
}

/// One measured run: wall time, or why there is none.
type Measured = Result<Duration, String>;

/// Runs the three measurements and prints wall times and ratios; 0 when the emulated
/// chain verified.
pub fn bench(a: BenchArgs) -> u8 {
    let scratch = a
        .scratch
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("stage0-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        eprintln!("stage0-runner bench: {}: {e}", scratch.display());
        return 2;
    }
    let native = copy_tree(&a.tree, &scratch.join("native")).and_then(|t| run_native(&t));
    report("native", &native, None);
    let qemu = copy_tree(&a.tree, &scratch.join("qemu")).and_then(|t| run_qemu(&t));
    report("qemu-i386", &qemu, native.as_ref().ok());
    let (emulated, verified) = match copy_tree(&a.tree, &scratch.join("emulator")) {
        Ok(t) => run_emulator(&t),
        Err(e) => (Err(e), false),
    };
    report("emulator", &emulated, native.as_ref().ok());
    if let (Ok(q), Ok(e)) = (&qemu, &emulated) {
        println!(
            "emulator / qemu-i386: {:.2}x",
            e.as_secs_f64() / q.as_secs_f64()
        );
    }
    if !a.keep {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    u8::from(!verified)
}

fn report(name: &str, m: &Measured, native: Option<&Duration>) {
    match (m, native) {
        (Ok(t), Some(n)) => println!(
            "{name:<10} {:>8.1} s   {:.2}x native",
            t.as_secs_f64(),
            t.as_secs_f64() / n.as_secs_f64()
        ),
        (Ok(t), None) => println!("{name:<10} {:>8.1} s", t.as_secs_f64()),
        (Err(why), _) => println!("{name:<10}   not measured: {why}"),
    }
}

/// `cp -a src dst` (keeps modes; the tree is only read).
fn copy_tree(src: &Path, dst: &Path) -> Result<PathBuf, String> {
    let st = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    if st.success() {
        Ok(dst.to_path_buf())
    } else {
        Err(format!("cp -a {} {}: {st}", src.display(), dst.display()))
    }
}

fn timed(what: &str, cmd: &mut Command) -> Measured {
    let t = Instant::now();
    let st = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("{what}: {e}"))?;
    if st.success() {
        Ok(t.elapsed())
    } else {
        Err(format!("{what}: {st}"))
    }
}

fn run_native(tree: &Path) -> Measured {
    timed(
        "kaem-optional-seed (does this host run i386 binaries?)",
        Command::new(tree.join("bootstrap-seeds/POSIX/x86/kaem-optional-seed"))
            .arg("./kaem.x86")
            .current_dir(tree),
    )
}

fn run_qemu(tree: &Path) -> Measured {
    if Command::new("qemu-i386").arg("--version").output().is_err() {
        return Err("qemu-i386 is not installed".into());
    }
    let plan = chain::plan(tree, Layout::Upstream).map_err(|e| e.to_string())?;
    for (path, bytes) in &plan.files {
        let p = tree.join(path.trim_start_matches('/'));
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let mut total = Duration::ZERO;
    for step in &plan.steps {
        let mut cmd = Command::new("qemu-i386");
        cmd.args(&step.argv)
            .current_dir(tree.join(step.cwd.trim_start_matches('/')))
            .env_clear()
            .envs(step.env.iter().filter_map(|kv| kv.split_once('=')));
        total += timed(&format!("qemu-i386 {}", step.argv.join(" ")), &mut cmd)?;
    }
    println!(
        "qemu-i386: {} top-level steps under qemu; without binfmt_misc the programs they \
         exec run natively",
        plan.steps.len()
    );
    Ok(total)
}

/// `run` on the copy, quietly; the wall time and whether every answer matched.
fn run_emulator(tree: &Path) -> (Measured, bool) {
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        run: RunArgs,
    }
    let args = Wrap::parse_from(["run", "--quiet", &tree.display().to_string()]).run;
    let plan = match chain::plan(tree, Layout::Upstream) {
        Ok(p) => p,
        Err(e) => return (Err(e.to_string()), false),
    };
    match run_cmd::execute(tree, &plan, &args) {
        Ok(o) => {
            let ok = o.failure.is_none() && o.checked.iter().all(|c| c.ok());
            let matched = o.checked.iter().filter(|c| c.ok()).count();
            println!(
                "emulator: {matched}/{} answers match, {} guest instructions, {:.0} MIPS",
                o.checked.len(),
                o.instructions,
                o.instructions as f64 / o.wall.as_secs_f64() / 1e6
            );
            (Ok(o.wall), ok)
        }
        Err(e) => (Err(e), false),
    }
}
