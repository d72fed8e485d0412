//! Running a plan: prepare the tree, start one emulated kernel, run every step in order,
//! check the answers. The one place `run`, `ddc`, `bench`, `step` and `stagex-pipeline`
//! run a chain.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use vm::exec_hook::ExecHook;
use vm::kernel::{Config, Event, Kernel, Stdio};
use vm::{EngineKind, FaultReport, Limits, ProcessRecord};

use crate::answers;
use crate::plan::{Plan, Step};

/// Where a stream of the run goes.
pub enum Sink {
    /// A file, created when the run starts (after the tree is prepared).
    File(PathBuf),
    /// Any writer.
    Writer(Box<dyn Write>),
}

/// Which of the run's streams a [`Sink`] is, for [`ChainError::Sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// What the guests print ([`Options::guest_output`]).
    GuestOutput,
    /// The syscall log ([`Options::strace`]).
    Strace,
}

impl std::fmt::Display for SinkKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SinkKind::GuestOutput => "guest output log",
            SinkKind::Strace => "syscall log",
        })
    }
}

/// How to run a plan.
pub struct Options {
    /// The engine that runs every guest.
    pub engine: EngineKind,
    /// What the guests may use.
    pub limits: Limits,
    /// Everything the guests print (stdout and stderr, interleaved); `None` discards it.
    pub guest_output: Option<Sink>,
    /// Every guest syscall, like `qemu -strace`; `None` for no log.
    pub strace: Option<Sink>,
    /// Set to a signal number (by a signal handler) to stop the run cleanly, every file
    /// written back ([`crate::interrupt::flag`]).
    pub interrupt: Option<Arc<AtomicUsize>>,
    /// Runs some guest programs outside the emulator (DDC substitutes, qemu-i386).
    pub exec_hook: Option<Box<dyn ExecHook>>,
    /// The answers file (`sha256sum` format, paths relative to the tree) to check with the
    /// host's SHA-256 after the run; an unreadable or malformed file checks nothing (the
    /// preflight reports it).
    pub answers: Option<PathBuf>,
}

impl Default for Options {
    /// The interpreter, the default limits, output discarded, nothing else.
    fn default() -> Self {
        Options {
            engine: EngineKind::Interp,
            limits: Limits::default(),
            guest_output: None,
            strace: None,
            interrupt: None,
            exec_hook: None,
            answers: None,
        }
    }
}

/// Whether to start the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Start no further step (the run ends without a failure).
    Stop,
}

/// What a caller is told while a plan runs (progress bars, timing, narration). Every
/// method has a default that does nothing.
pub trait Hooks {
    /// Program image `index` (0-based, in start order) started: its record so far.
    fn process_started(&mut self, index: usize, record: &ProcessRecord) {
        let _ = (index, record);
    }
    /// Program image `index` ended after `wall` (the children it waited for included).
    fn process_ended(&mut self, index: usize, record: &ProcessRecord, wall: Duration) {
        let _ = (index, record, wall);
    }
    /// Top-level step `index` ended (before its result is looked at).
    fn step_ended(&mut self, index: usize, step: &Step) -> Flow {
        let _ = (index, step);
        Flow::Continue
    }
    /// The last step ended (before the answers are checked).
    fn finished(&mut self) {}
}

/// Hooks that do nothing.
pub struct NoHooks;

impl Hooks for NoHooks {}

/// Why a plan could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// An output directory of the plan could not be created.
    #[error("creating {path}: {source}")]
    CreateOutput {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the plan could not be written into the tree.
    #[error("writing {path}: {source}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A [`Sink::File`] could not be created.
    #[error("{kind} {path}: {source}")]
    Sink {
        /// Which stream.
        kind: SinkKind,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel could not be set up.
    #[error(transparent)]
    Kernel(#[from] vm::SpawnError),
}

/// How a top-level step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepFailureKind {
    /// Its program could not start.
    #[error("could not start: {0}")]
    CannotStart(vm::SpawnError),
    /// It ended with a status other than 0 (shell-style: 128 + signal for a fault).
    #[error("failed with status {0}")]
    Status(i32),
    /// The run stopped (a limit, an interrupt, a host error).
    #[error("stopped: {0}")]
    Stopped(vm::RunError),
}

/// The step that ended the run early, and how.
#[derive(Debug, thiserror::Error)]
#[error("step `{command}` {kind}")]
pub struct StepFailure {
    /// The step's command line (argv joined by spaces).
    pub command: String,
    /// How it failed.
    pub kind: StepFailureKind,
}

/// What the cross-check engine compared in agreement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrossCheckCounts {
    /// Instructions stepped on both engines and compared.
    pub instructions: u64,
    /// Basic blocks.
    pub blocks: u64,
    /// Syscalls reached in agreement.
    pub syscalls: u64,
    /// Whole-address-space comparisons.
    pub full_compares: u64,
}

/// What a finished run produced.
pub struct Outcome {
    /// Every program image, in start order.
    pub records: Vec<ProcessRecord>,
    /// Per record: from its start to its end (children included); to the run's end for
    /// a record that never ended.
    pub walls: Vec<Duration>,
    /// The answers, checked on the host (empty without [`Options::answers`]).
    pub checked: Vec<answers::Checked>,
    /// The step that ended the run early, if one did.
    pub failure: Option<StepFailure>,
    /// Wall time of the steps.
    pub wall: Duration,
    /// Guest instructions executed.
    pub instructions: u64,
    /// Guest syscalls made.
    pub syscalls: u64,
    /// See [`vm::RunStats::peak_guest_pages`].
    pub peak_guest_pages: u64,
    /// When the first step started (host clock, for attestation times).
    pub started_at: SystemTime,
    /// The engine that ran the guests.
    pub engine: EngineKind,
    /// Faults that killed guest processes.
    pub faults: Vec<FaultReport>,
    /// What the cross-check compared, when [`EngineKind::CrossCheck`] or
    /// [`EngineKind::JitCrossCheck`] ran.
    pub cross_check: Option<CrossCheckCounts>,
    /// What the JIT did, when the engine has one.
    pub jit: Option<vm::cpu::tier::TierStats>,
}

impl Outcome {
    /// Whether every step ran and every answer matched.
    pub fn verified(&self) -> bool {
        self.failure.is_none() && self.checked.iter().all(|c| c.ok())
    }
}

/// The name of an engine kind in summaries and attestations.
pub fn engine_name(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Interp => "interp",
        EngineKind::Unicorn => "unicorn",
        EngineKind::CrossCheck => "cross-check",
        EngineKind::Jit => "jit",
        EngineKind::JitCrossCheck => "jit-cross-check",
    }
}

/// Creates the plan's output directories and writes its files into `tree`.
pub fn prepare_tree(tree: &Path, plan: &Plan) -> Result<(), ChainError> {
    for out in &plan.outputs {
        let path = tree.join(out.trim_start_matches('/'));
        std::fs::create_dir_all(&path).map_err(|source| ChainError::CreateOutput {
            path: path.clone(),
            source,
        })?;
    }
    for (file, data) in &plan.files {
        let path = tree.join(file.trim_start_matches('/'));
        std::fs::write(&path, data).map_err(|source| ChainError::WriteFile {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

fn open(sink: Option<Sink>, kind: SinkKind) -> Result<Option<Box<dyn Write>>, ChainError> {
    Ok(match sink {
        None => None,
        Some(Sink::Writer(w)) => Some(w),
        Some(Sink::File(path)) => {
            let f = std::fs::File::create(&path).map_err(|source| ChainError::Sink {
                kind,
                path: path.clone(),
                source,
            })?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
    })
}

/// Runs every step of `plan` in one emulated kernel rooted at `tree` (prepared first with
/// [`prepare_tree`]), telling `hooks` as programs start and end; then checks the answers.
/// A failing step ends the run and is reported in [`Outcome::failure`]; `Err` means
/// nothing could run.
pub fn execute(
    tree: &Path,
    plan: &Plan,
    options: Options,
    hooks: Rc<RefCell<dyn Hooks>>,
) -> Result<Outcome, ChainError> {
    prepare_tree(tree, plan)?;
    let output = open(options.guest_output, SinkKind::GuestOutput)?
        .unwrap_or_else(|| Box::new(std::io::sink()));
    let shared = Rc::new(RefCell::new(output));
    let stdio = Stdio {
        stdin: Box::new(std::io::empty()),
        stdout: Box::new(SharedWriter(shared.clone())),
        stderr: Box::new(SharedWriter(shared.clone())),
    };
    let mut cfg = Config::new(tree);
    cfg.limits = options.limits;
    cfg.engine = options.engine;
    let mut kernel = Kernel::new(cfg, stdio)?;
    if let Some(flag) = options.interrupt {
        kernel.set_interrupt(flag);
    }
    if let Some(w) = open(options.strace, SinkKind::Strace)? {
        kernel.set_strace(w);
    }
    if let Some(h) = options.exec_hook {
        kernel.set_exec_hook(h);
    }
    // Per record: when it started, and how long it ran once it ended.
    type Timing = Rc<RefCell<Vec<(Instant, Option<Duration>)>>>;
    let timing: Timing = Rc::default();
    {
        let (timing, hooks) = (timing.clone(), hooks.clone());
        kernel.set_observer(Box::new(move |ev| match ev {
            Event::Started(i, r) => {
                timing.borrow_mut().push((Instant::now(), None));
                hooks.borrow_mut().process_started(i, r);
            }
            Event::Ended(i, r) => {
                let wall = {
                    let mut t = timing.borrow_mut();
                    let wall = t[i].0.elapsed();
                    t[i].1 = Some(wall);
                    wall
                };
                hooks.borrow_mut().process_ended(i, r, wall);
            }
        }));
    }
    let start = Instant::now();
    let started_at = SystemTime::now();
    let mut failure = None;
    for (i, step) in plan.steps.iter().enumerate() {
        let result = run_step(&mut kernel, step);
        if hooks.borrow_mut().step_ended(i, step) == Flow::Stop {
            break;
        }
        if let Err(f) = result {
            failure = Some(f);
            break;
        }
    }
    hooks.borrow_mut().finished();
    let _ = shared.borrow_mut().flush();
    let wall = start.elapsed();
    let checked = match options.answers.as_deref().and_then(read_answers) {
        Some(list) => answers::check(tree, &list),
        None => Vec::new(),
    };
    let walls = timing
        .borrow()
        .iter()
        .map(|(s, d)| d.unwrap_or_else(|| s.elapsed()))
        .collect();
    let cross_check = matches!(
        options.engine,
        EngineKind::CrossCheck | EngineKind::JitCrossCheck
    )
    .then(|| {
        let c = kernel.cross_check_counts();
        CrossCheckCounts {
            instructions: c.instructions,
            blocks: c.blocks,
            syscalls: c.syscalls,
            full_compares: c.full_compares,
        }
    });
    Ok(Outcome {
        records: kernel.records().to_vec(),
        walls,
        checked,
        failure,
        wall,
        instructions: kernel.stats().instructions,
        syscalls: kernel.stats().syscalls,
        peak_guest_pages: kernel.stats().peak_guest_pages,
        started_at,
        engine: options.engine,
        faults: kernel.faults().to_vec(),
        cross_check,
        jit: kernel.tier_stats(),
    })
}

fn read_answers(path: &Path) -> Option<Vec<answers::Answer>> {
    answers::parse(&std::fs::read_to_string(path).ok()?).ok()
}

/// Runs one top-level step in `kernel` (its environment, then its program to the end).
pub fn run_step(kernel: &mut Kernel, step: &Step) -> Result<(), StepFailure> {
    let fail = |kind| StepFailure {
        command: step.argv.join(" "),
        kind,
    };
    kernel.set_env(step.env.iter().map(|e| e.as_bytes().to_vec()).collect());
    if let Err(e) = kernel.spawn(&step.cwd, &step.argv[0], &step.argv) {
        return Err(fail(StepFailureKind::CannotStart(e)));
    }
    match kernel.run() {
        Ok(vm::ExitStatus::Code(0)) => Ok(()),
        Ok(s) => Err(fail(StepFailureKind::Status(s.shell_code()))),
        Err(e) => Err(fail(StepFailureKind::Stopped(e))),
    }
}

/// Both guest streams into one writer.
struct SharedWriter(Rc<RefCell<Box<dyn Write>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}
