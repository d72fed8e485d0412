//! `exec --cross-check native`: the host CPU as a third oracle for one program.
//!
//! On an x86 or x86_64 Linux host whose kernel runs i386 executables, the program runs
//! natively on one copy of the sandbox root and in the emulator on another; then the exit
//! status, stdout, stderr and the two trees afterwards (every file's content and mode, every
//! directory, every symbolic link's target, what exists on one side only) are compared.
//!
//! The native run starts in the copy's working directory with exactly the `--env`
//! environment, empty stdin and umask 022 (as the sandbox gives), but it is not confined:
//! absolute paths and `..` reach the host, and it sees the host's pid, clock and uname. Run
//! it only on programs you trust, with relative paths.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as ProcStdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use vm::kernel::{Config, Kernel, Stdio};
use vm::{EngineKind, ExitStatus};

/// Exit status: both runs agree.
pub const EXIT_AGREE: u8 = 0;
/// Exit status: the runs differ (each difference is printed).
pub const EXIT_DIFFER: u8 = 1;
/// Exit status: this host cannot run the program natively (not x86 Linux, or the kernel
/// refuses i386 executables).
pub const EXIT_NATIVE_UNAVAILABLE: u8 = 126;
/// Exit status: the runner could not set up or finish a run (copying, limits, host errors).
pub const EXIT_RUNNER_ERROR: u8 = 125;

/// The program and the sandbox to compare it in.
pub struct Spec<'a> {
    pub root: &'a Path,
    pub cwd: &'a str,
    pub env: &'a [String],
    pub program: &'a str,
    pub argv: &'a [String],
    pub engine: EngineKind,
    pub limits: vm::Limits,
    pub source_date_epoch: u32,
    /// Wall-clock limit of the native run.
    pub timeout: Duration,
}

/// How one run ended, on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why the comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("--cross-check-native needs an x86 or x86_64 Linux host; this one is {os}/{arch}")]
    NotX86Linux {
        os: &'static str,
        arch: &'static str,
    },
    #[error(
        "the host kernel refuses to run i386 executables ({0}): it lacks IA-32 emulation \
         (CONFIG_IA32_EMULATION, or ia32_emulation=0 on the kernel command line)"
    )]
    KernelRefuses(std::io::Error),
    #[error("copying the sandbox root {from} to {to}: {source}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("starting {path} natively: {source}")]
    Start {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the native run did not finish within {0:?}; it was killed")]
    Timeout(Duration),
    #[error("waiting for the native run: {0}")]
    Wait(std::io::Error),
    #[error("the emulated run could not start: {0}")]
    Spawn(vm::SpawnError),
    #[error("the emulated run stopped: {0}")]
    Emulated(vm::RunError),
    #[error("creating a temporary work directory: {0}")]
    WorkDir(std::io::Error),
    #[error("reading the trees after the runs: {0}")]
    Walk(std::io::Error),
}

impl NativeError {
    /// The exit status `exec` gives for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            NativeError::NotX86Linux { .. } | NativeError::KernelRefuses(_) => {
                EXIT_NATIVE_UNAVAILABLE
            }
            _ => EXIT_RUNNER_ERROR,
        }
    }
}

/// Whether this build runs on a host that might execute i386 code natively.
pub fn host_check() -> Result<(), NativeError> {
    let x86 = cfg!(any(target_arch = "x86", target_arch = "x86_64"));
    if cfg!(target_os = "linux") && x86 {
        Ok(())
    } else {
        Err(NativeError::NotX86Linux {
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
        })
    }
}

/// What the comparison found.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per difference; empty when the runs agree.
    pub differences: Vec<String>,
    /// Files (and directories and links) that either run created, changed or removed.
    pub changed: usize,
    /// Entries compared in the trees after the runs.
    pub entries: usize,
    pub native: Option<Outcome>,
    pub emulated: Option<Outcome>,
}

/// Runs the program both ways and compares; the work directory is removed afterwards.
pub fn cross_check(spec: &Spec) -> Result<Report, NativeError> {
    host_check()?;
    // Removed when dropped, whatever happened.
    let work = tempfile::Builder::new()
        .prefix("stage0-native-")
        .tempdir()
        .map_err(NativeError::WorkDir)?;
    cross_check_in(spec, work.path())
}

fn cross_check_in(spec: &Spec, work: &Path) -> Result<Report, NativeError> {
    let native_root = work.join("native");
    let emulated_root = work.join("emulated");
    for to in [&native_root, &emulated_root] {
        copy_tree(spec.root, to).map_err(|source| NativeError::Copy {
            from: spec.root.to_path_buf(),
            to: to.clone(),
            source,
        })?;
    }
    let native = run_native(spec, &native_root)?;
    let emulated = run_emulated(spec, &emulated_root)?;

    let mut report = Report::default();
    if native.status != emulated.status {
        report.differences.push(format!(
            "exit status: native {} vs emulated {}",
            status_text(native.status),
            status_text(emulated.status)
        ));
    }
    for (name, a, b) in [
        ("stdout", &native.stdout, &emulated.stdout),
        ("stderr", &native.stderr, &emulated.stderr),
    ] {
        if let Some(d) = bytes_difference(a, b) {
            report.differences.push(format!("{name}: {d}"));
        }
    }
    let original = tree(spec.root).map_err(NativeError::Walk)?;
    let ours = tree(&native_root).map_err(NativeError::Walk)?;
    let theirs = tree(&emulated_root).map_err(NativeError::Walk)?;
    let mut paths: Vec<&PathBuf> = ours.keys().chain(theirs.keys()).collect();
    paths.sort();
    paths.dedup();
    report.entries = paths.len();
    for path in paths {
        let (a, b, o) = (ours.get(path), theirs.get(path), original.get(path));
        if a != o || b != o {
            report.changed += 1;
        }
        if let Some(d) = entry_difference(a, b) {
            report
                .differences
                .push(format!("{}: {d}", Path::new("/").join(path).display()));
        }
    }
    report.native = Some(native);
    report.emulated = Some(emulated);
    Ok(report)
}

/// Runs the program on the host CPU in `root` (a copy of the sandbox root).
fn run_native(spec: &Spec, root: &Path) -> Result<Outcome, NativeError> {
    let cwd = root.join(spec.cwd.trim_start_matches('/'));
    let path = if spec.program.starts_with('/') {
        root.join(spec.program.trim_start_matches('/'))
    } else {
        cwd.join(spec.program)
    };
    let mut cmd = Command::new(&path);
    cmd.arg0(spec.program)
        .args(spec.argv.iter().skip(1))
        .current_dir(&cwd)
        .env_clear()
        .stdin(ProcStdio::null())
        .stdout(ProcStdio::piped())
        .stderr(ProcStdio::piped());
    for e in spec.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    // SAFETY: umask is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            return Err(NativeError::KernelRefuses(e))
        }
        Err(source) => return Err(NativeError::Start { path, source }),
    };
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped")));
    let err = reader(Box::new(child.stderr.take().expect("piped")));
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(NativeError::Wait)? {
            Some(s) => break s,
            None if start.elapsed() > spec.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NativeError::Timeout(spec.timeout));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let status = match (status.code(), status.signal()) {
        (Some(c), _) => ExitStatus::Code(c as u8),
        (None, Some(s)) => ExitStatus::Signal(s as u8),
        (None, None) => ExitStatus::Signal(0),
    };
    Ok(Outcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// A `Write` into a shared buffer (the kernel owns its streams).
struct Capture(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs the program in the emulator with `root` as the guest's `/`.
fn run_emulated(spec: &Spec, root: &Path) -> Result<Outcome, NativeError> {
    let mut cfg = Config::new(root);
    cfg.env = spec.env.iter().map(|e| e.as_bytes().to_vec()).collect();
    cfg.limits = spec.limits;
    cfg.source_date_epoch = spec.source_date_epoch;
    cfg.record_files = false;
    cfg.engine = spec.engine;
    let (out, err) = (
        Rc::new(RefCell::new(Vec::new())),
        Rc::new(RefCell::new(Vec::new())),
    );
    let stdio = Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(Capture(Rc::clone(&out))),
        stderr: Box::new(Capture(Rc::clone(&err))),
    };
    let mut kernel = Kernel::new(cfg, stdio).map_err(NativeError::Spawn)?;
    kernel
        .spawn(spec.cwd, spec.program, spec.argv)
        .map_err(NativeError::Spawn)?;
    let status = kernel.run().map_err(NativeError::Emulated)?;
    drop(kernel);
    let stdout = out.borrow().clone();
    let stderr = err.borrow().clone();
    Ok(Outcome {
        status,
        stdout,
        stderr,
    })
}

fn status_text(s: ExitStatus) -> String {
    match s {
        ExitStatus::Code(c) => format!("exit {c}"),
        ExitStatus::Signal(n) => format!("killed by {} ({n})", vm::kernel::signal_name(n)),
    }
}

/// Where two byte strings first differ, described; `None` when equal.
fn bytes_difference(a: &[u8], b: &[u8]) -> Option<String> {
    if a == b {
        return None;
    }
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let byte = |v: &[u8]| v.get(i).map_or("end".to_string(), |x| format!("{x:#04x}"));
    let around = |v: &[u8]| {
        let s = &v[i.min(v.len())..(i + 16).min(v.len())];
        format!("{:?}", String::from_utf8_lossy(s))
    };
    Some(format!(
        "native {} bytes vs emulated {} bytes, first difference at byte {i} ({} vs {}; from there {} vs {})",
        a.len(),
        b.len(),
        byte(a),
        byte(b),
        around(a),
        around(b)
    ))
}

/// One entry of a tree, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Link { target: PathBuf },
    Other { mode: u32 },
}

fn entry_difference(a: Option<&Entry>, b: Option<&Entry>) -> Option<String> {
    let kind = |e: &Entry| match e {
        Entry::Dir { .. } => "a directory",
        Entry::File { .. } => "a file",
        Entry::Link { .. } => "a symbolic link",
        Entry::Other { .. } => "a special file",
    };
    match (a, b) {
        (None, None) => None,
        (Some(e), None) => Some(format!("only the native run left {} here", kind(e))),
        (None, Some(e)) => Some(format!("only the emulated run left {} here", kind(e))),
        (Some(x), Some(y)) if x == y => None,
        (Some(Entry::File { mode: m, data: d }), Some(Entry::File { mode: n, data: e })) => {
            let mut parts = Vec::new();
            if m != n {
                parts.push(format!("mode native {m:04o} vs emulated {n:04o}"));
            }
            if let Some(diff) = bytes_difference(d, e) {
                parts.push(format!("content {diff}"));
            }
            Some(parts.join("; "))
        }
        (Some(Entry::Dir { mode: m }), Some(Entry::Dir { mode: n })) => {
            Some(format!("directory mode native {m:04o} vs emulated {n:04o}"))
        }
        (Some(Entry::Link { target: s }), Some(Entry::Link { target: t })) => Some(format!(
            "link target native {} vs emulated {}",
            s.display(),
            t.display()
        )),
        (Some(x), Some(y)) => Some(format!("native left {}, emulated {}", kind(x), kind(y))),
    }
}

/// Every entry under `root` by relative path (links not followed).
fn tree(root: &Path) -> std::io::Result<BTreeMap<PathBuf, Entry>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel))? {
            let e = e?;
            let path = rel.join(e.file_name());
            let full = root.join(&path);
            let meta = std::fs::symlink_metadata(&full)?;
            let mode = meta.permissions().mode() & 0o7777;
            let ft = meta.file_type();
            let entry = if ft.is_symlink() {
                Entry::Link {
                    target: std::fs::read_link(&full)?,
                }
            } else if ft.is_dir() {
                stack.push(path.clone());
                Entry::Dir { mode }
            } else if ft.is_file() {
                Entry::File {
                    mode,
                    data: std::fs::read(&full)?,
                }
            } else {
                Entry::Other { mode }
            };
            out.insert(path, entry);
        }
    }
    Ok(out)
}

/// Copies `from` to `to` (which must not exist): directories, files with their modes,
/// symbolic links as links.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(from)?, to)
    } else if ft.is_dir() {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        std::fs::set_permissions(to, meta.permissions())
    } else if ft.is_file() {
        std::fs::copy(from, to).map(|_| ())
    } else {
        Err(std::io::Error::other(format!(
            "{}: not a file, directory or symbolic link",
            from.display()
        )))
    }
}

/// Prints the report; returns the exit status for `exec`.
pub fn print(report: &Report, engine: EngineKind) -> u8 {
    let emu = stage0_chain::engine_name(engine);
    let (n, e) = (
        report.native.as_ref().expect("ran"),
        report.emulated.as_ref().expect("ran"),
    );
    if report.differences.is_empty() {
        eprintln!(
            "native cross-check (host CPU vs {emu}): agree: {}, stdout {} bytes, stderr {} \
             bytes, {} entries compared after the runs ({} created, changed or removed)",
            status_text(n.status),
            n.stdout.len(),
            n.stderr.len(),
            report.entries,
            report.changed
        );
        EXIT_AGREE
    } else {
        eprintln!(
            "native cross-check (host CPU vs {emu}): {} difference(s):",
            report.differences.len()
        );
        for d in &report.differences {
            eprintln!("  differs: {d}");
        }
        eprintln!(
            "  (native {}, emulated {}; {} entries compared after the runs)",
            status_text(n.status),
            status_text(e.status),
            report.entries
        );
        EXIT_DIFFER
    }
}
