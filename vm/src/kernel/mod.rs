//! The in-process kernel: runs guest processes, services their syscalls, and keeps records.
//!
//! Scheduling is deterministic and simple: a forked child runs to completion before its
//! parent resumes. Guests here cannot communicate except through files (there are no
//! pipes, signals or shared memory), so this is indistinguishable from a fair scheduler
//! for them, and it makes every run reproducible.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::cpu::{self, FaultKind, Stop};
use crate::elf;
use crate::engine::lockstep::Counts;
use crate::engine::{registry, AnyEngine, EngineFactory, EngineKind, Engines};
use crate::limits::{Limit, Limits};
use crate::memory::GuestMemory;
use crate::process::Process;
use crate::record::{self, ExitStatus, FileAccess, ProcessRecord, RecordEnd};
use crate::syscalls::SyscallTable;
use crate::vfs::{Handle, Vfs, WriteBackError};

/// Pid of the first guest process; later ones count up from it.
pub const FIRST_PID: u32 = 1000;

/// Instructions the interpreter runs before the kernel looks at signals and the clock
/// (about 0.1 s).
const SLICE: u64 = 50_000_000;

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host directory that is the guest's `/`.
    pub root: PathBuf,
    /// Environment of the first process (`KEY=VALUE`).
    pub env: Vec<Vec<u8>>,
    /// What the guests may use before the run stops ([`Limits::default`] fits the chain).
    pub limits: Limits,
    /// Stop the run at the first syscall outside the allow-list instead of returning ENOSYS.
    pub strict_syscalls: bool,
    /// The guest's clock (time(2)) always reads this.
    pub source_date_epoch: u32,
    /// Hash every file read and written into the records (costs a SHA-256 per open).
    pub record_files: bool,
    /// Which engine executes the guests.
    pub engine: EngineKind,
    /// A scratch sandbox ([`Vfs::new_scratch`]): the run never changes the host tree.
    pub scratch: bool,
}

impl Config {
    /// Defaults: empty environment, default limits, clock at 0, file hashing on.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        Config {
            root: root.into(),
            env: Vec::new(),
            limits: Limits::default(),
            strict_syscalls: false,
            source_date_epoch: 0,
            record_files: true,
            engine: EngineKind::Interp,
            scratch: false,
        }
    }
}

/// The guest's standard streams.
pub struct Stdio {
    pub stdin: Box<dyn Read>,
    pub stdout: Box<dyn Write>,
    pub stderr: Box<dyn Write>,
}

impl Stdio {
    /// Empty stdin; stdout and stderr to the host's (buffered).
    pub fn inherit() -> Stdio {
        Stdio {
            stdin: Box::new(std::io::empty()),
            stdout: Box::new(std::io::BufWriter::new(std::io::stdout())),
            stderr: Box::new(std::io::BufWriter::new(std::io::stderr())),
        }
    }
}

mod outcome;
pub use outcome::{signal, signal_name, FaultReport, RunError, RunStats, SpawnError};

/// The kernel: processes, files, records.
pub struct Kernel {
    pub(crate) cfg: Config,
    pub(crate) vfs: Vfs,
    pub(crate) stdio: Stdio,
    /// Run stack: the last process is the one running; the others wait for it.
    pub(crate) procs: Vec<Process>,
    /// Exited processes not yet waited for, by (parent pid, pid); pids only grow, so each
    /// parent's first entry is its child that exited first.
    pub(crate) zombies: BTreeMap<(u32, u32), ExitStatus>,
    pub(crate) next_pid: u32,
    pub(crate) table: &'static SyscallTable,
    pub(crate) records: Vec<ProcessRecord>,
    /// Per-record syscall counts, indexed like `records` (a flat array is cheap to bump);
    /// emptied when the record is finished, so a finished record costs no 4 KiB array.
    pub(crate) counts: Vec<Box<[u64]>>,
    pub(crate) faults: Vec<FaultReport>,
    pub(crate) stats: RunStats,
    pub(crate) strace: Option<Box<dyn Write>>,
    pub(crate) fatal: Option<RunError>,
    exit: Option<ExitStatus>,
    observer: Option<Observer>,
    /// Makes the engine of each new image ([`Config::engine`] unless replaced).
    engines: Box<dyn EngineFactory>,
    /// Substitutes asked at each execve (diverse double compilation).
    pub(crate) exec_hook: Option<Box<dyn crate::exec_hook::ExecHook>>,
    /// Set to a signal number by the host's signal handler: stop the run cleanly.
    interrupt: Option<Arc<AtomicUsize>>,
    /// When the run must end (`--timeout`).
    deadline: Option<Instant>,
}

/// A callback told of each [`Event`].
pub type Observer = Box<dyn FnMut(Event<'_>)>;

/// What [`Kernel::set_observer`] is told, as it happens.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A program image started (spawn or execve); its record so far.
    Started(usize, &'a ProcessRecord),
    /// A program image ended (exit, fault or execve); its finished record.
    Ended(usize, &'a ProcessRecord),
}

impl Kernel {
    /// A kernel with a sandbox rooted at `cfg.root`.
    pub fn new(cfg: Config, stdio: Stdio) -> Result<Kernel, SpawnError> {
        let cfg_deadline = cfg.limits.timeout.map(|t| Instant::now() + t);
        let vfs = if cfg.scratch {
            Vfs::new_scratch(&cfg.root)
        } else {
            Vfs::new(&cfg.root)
        };
        let vfs = vfs.map_err(|source| SpawnError::Root {
            root: cfg.root.clone(),
            source,
        })?;
        let engines = Box::new(Engines::new(cfg.engine, SyscallTable::global()));
        Ok(Kernel {
            cfg,
            vfs,
            stdio,
            procs: Vec::new(),
            zombies: BTreeMap::new(),
            next_pid: FIRST_PID,
            table: SyscallTable::global(),
            records: Vec::new(),
            counts: Vec::new(),
            faults: Vec::new(),
            stats: RunStats::default(),
            strace: None,
            fatal: None,
            exit: None,
            observer: None,
            engines,
            exec_hook: None,
            interrupt: None,
            deadline: cfg_deadline,
        })
    }

    /// Stops the run cleanly (every file written back, streams flushed) once `flag` holds
    /// a signal number other than 0; the run then ends with [`RunError::Interrupted`].
    pub fn set_interrupt(&mut self, flag: Arc<AtomicUsize>) {
        self.interrupt = Some(flag);
    }

    /// Logs every syscall with its arguments and result to `w`, like qemu's -strace.
    pub fn set_strace(&mut self, w: Box<dyn Write>) {
        self.strace = Some(w);
    }

    /// Sets the environment the next [`Kernel::spawn`] gives its process.
    pub fn set_env(&mut self, env: Vec<Vec<u8>>) {
        self.cfg.env = env;
    }

    /// Starts every later program image on engines from `f` instead of [`Config::engine`]'s
    /// (a wrapper that observes each instruction, a test engine).
    pub fn set_engine_factory(&mut self, f: Box<dyn EngineFactory>) {
        self.engines = f;
    }

    /// Calls `f` whenever a program image starts or ends (progress display, timing).
    pub fn set_observer(&mut self, f: Box<dyn FnMut(Event<'_>)>) {
        self.observer = Some(f);
    }

    /// Starts the first process: `program` is a guest path (relative to `cwd`).
    pub fn spawn(&mut self, cwd: &str, program: &str, argv: &[String]) -> Result<u32, SpawnError> {
        let cwd_r = self
            .vfs
            .resolve(b"/", cwd.as_bytes(), true)
            .map_err(|errno| SpawnError::Path {
                path: cwd.into(),
                errno,
            })?;
        let r = self
            .vfs
            .resolve(&cwd_r.guest, program.as_bytes(), true)
            .map_err(|errno| SpawnError::Path {
                path: program.into(),
                errno,
            })?;
        let bytes = self.vfs.read_whole(&r).map_err(|errno| SpawnError::Path {
            path: program.into(),
            errno,
        })?;
        let need = elf::load_size(&bytes) + elf::STACK_INITIAL as u64;
        if !self.admit_pages(need / crate::memory::PAGE_SIZE as u64, 0) {
            let e = self.fatal.take().expect("admit_pages sets it");
            return Err(SpawnError::Limit(Box::new(e)));
        }
        let mut mem = GuestMemory::new();
        let image = elf::load(&bytes, &mut mem).map_err(|source| SpawnError::Elf {
            path: program.into(),
            source,
        })?;
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
        let env = self.cfg.env.clone();
        let esp = elf::setup_stack(&mut mem, &image, program.as_bytes(), &argv, &env).map_err(
            |source| SpawnError::Stack {
                path: program.into(),
                source,
            },
        )?;
        let cpu = self
            .engines
            .start(image.entry, esp)
            .map_err(SpawnError::Engine)?;
        let pid = self.alloc_pid();
        let mut p = Process {
            pid,
            ppid: 0,
            cpu,
            mem,
            brk_start: image.brk,
            brk: image.brk,
            stack_bottom: Process::initial_stack_bottom(esp),
            fds: vec![
                Some(open_stream(Handle::Stdin, 0)),
                Some(open_stream(Handle::Stdout, 1)),
                Some(open_stream(Handle::Stderr, 1)),
            ],
            cwd: cwd_r.guest,
            umask: crate::vfs::DEFAULT_UMASK,
            record: None,
            pending_insns: 0,
            written: Vec::new(),
        };
        self.start_record(&mut p, &r.guest, &argv, &env);
        self.procs.push(p);
        self.note_guest_pages();
        Ok(pid)
    }

    /// An engine of the configured kind for a new image (execve). The kind was usable at
    /// spawn, so this cannot fail in practice; if it does, the run stops.
    pub(crate) fn new_engine(&mut self, entry: u32, esp: u32) -> AnyEngine {
        match self.engines.start(entry, esp) {
            Ok(e) => e,
            Err(source) => {
                let p = self.procs.last().map(|p| (p.pid, self.exe_of(p)));
                let (pid, exe) = p.unwrap_or_default();
                self.fatal
                    .get_or_insert(RunError::Engine { pid, exe, source });
                AnyEngine::Interp(registry::interp(entry, esp))
            }
        }
    }

    pub(crate) fn alloc_pid(&mut self) -> u32 {
        let pid = self.next_pid;
        self.next_pid += 1;
        self.stats.processes += 1;
        pid
    }

    /// Opens a new record for the image `p` is about to run.
    pub(crate) fn start_record(
        &mut self,
        p: &mut Process,
        exe: &[u8],
        argv: &[Vec<u8>],
        env: &[Vec<u8>],
    ) {
        self.records.push(ProcessRecord {
            pid: p.pid,
            parent: p.ppid,
            exe: record::text(exe),
            argv: argv.iter().map(|a| record::text(a)).collect(),
            env: env.iter().map(|a| record::text(a)).collect(),
            cwd: record::text(&p.cwd),
            end: RecordEnd::Running,
            instructions: std::mem::take(&mut p.pending_insns),
            syscalls: BTreeMap::new(),
            reads: Vec::new(),
            writes: Vec::new(),
            bytes_read: 0,
            bytes_written: 0,
            substitute: None,
        });
        self.counts.push(vec![0; 512].into_boxed_slice());
        let i = self.records.len() - 1;
        p.record = Some(i);
        p.written.clear();
        if let Some(f) = self.observer.as_mut() {
            f(Event::Started(i, &self.records[i]));
        }
    }

    /// Closes `p`'s current record: final hashes of written files, syscall names.
    pub(crate) fn finish_record(&mut self, p: &mut Process, end: RecordEnd) {
        let Some(i) = p.record.take() else { return };
        let rec = &mut self.records[i];
        rec.end = end;
        if self.cfg.record_files {
            let mut writes: Vec<FileAccess> = p
                .written
                .iter()
                .map(|n| {
                    let n = n.borrow();
                    FileAccess {
                        path: record::text(&n.guest),
                        sha256: n.sha256(),
                        deleted: n.unlinked,
                    }
                })
                .collect();
            writes.sort();
            writes.dedup();
            rec.writes = writes;
        }
        // Closed files this image wrote were kept only for this record.
        for n in std::mem::take(&mut p.written) {
            self.vfs.forget(n);
        }
        for (nr, &c) in std::mem::take(&mut self.counts[i]).iter().enumerate() {
            if c > 0 {
                rec.syscalls.insert(self.table.name(nr as u32), c);
            }
        }
        if let Some(f) = self.observer.as_mut() {
            f(Event::Ended(i, &self.records[i]));
        }
    }

    /// Updates [`RunStats::peak_guest_pages`]; called wherever guest memory grows (spawn,
    /// brk, fork, execve, stack growth).
    pub(crate) fn note_guest_pages(&mut self) {
        let pages = self.guest_pages();
        self.stats.peak_guest_pages = self.stats.peak_guest_pages.max(pages);
        if pages > self.max_guest_pages() {
            self.limit_reached(Limit::Memory);
        }
    }

    /// Guest pages mapped now, over the live processes.
    fn guest_pages(&self) -> u64 {
        self.procs.iter().map(|p| p.mem.mapped_pages() as u64).sum()
    }

    /// `--max-memory` in guest pages.
    fn max_guest_pages(&self) -> u64 {
        self.cfg.limits.max_memory / crate::memory::PAGE_SIZE as u64
    }

    /// Whether `extra` more guest pages fit in the memory limit, with `freed` pages about
    /// to go (an execve's old image). If not, the run stops with the limit's error.
    pub(crate) fn admit_pages(&mut self, extra: u64, freed: u64) -> bool {
        let now = self.guest_pages();
        if now.saturating_sub(freed).saturating_add(extra) > self.max_guest_pages() {
            self.limit_reached(Limit::Memory);
            return false;
        }
        true
    }

    /// Stops the run: `limit` was reached by the running process.
    pub(crate) fn limit_reached(&mut self, limit: Limit) {
        let l = &self.cfg.limits;
        let value = match limit {
            Limit::Memory => l.max_memory,
            Limit::Processes => l.max_processes as u64,
            Limit::Written => l.max_written,
            Limit::FileSize => l.max_file_size,
            Limit::Instructions => l.max_insns,
            Limit::Timeout => l.timeout.map_or(0, |t| t.as_secs()),
        };
        let (pid, exe) = match self.procs.last() {
            Some(p) => (p.pid, self.exe_of(p)),
            None => (0, String::new()),
        };
        self.fatal.get_or_insert(RunError::Limit {
            limit,
            value,
            pid,
            exe,
        });
    }

    /// Checked between slices and syscalls: a signal to stop, or the wall-clock limit.
    fn check_interrupt(&mut self, tick: u64) {
        if let Some(sig) = self.interrupt.as_ref().map(|f| f.load(Ordering::Relaxed)) {
            if sig != 0 {
                self.fatal
                    .get_or_insert(RunError::Interrupted { signal: sig as i32 });
                return;
            }
        }
        // Reading the clock at each of the chain's 32.7 M syscalls would cost ~1 s.
        if tick & 1023 == 0 && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.limit_reached(Limit::Timeout);
        }
    }

    /// Runs until the first process exits (or the run stops with an error).
    pub fn run(&mut self) -> Result<ExitStatus, RunError> {
        let mut tick: u64 = 0;
        while let Some(p) = self.procs.last_mut() {
            let left = self
                .cfg
                .limits
                .max_insns
                .saturating_sub(self.stats.instructions);
            // The interpreter stops cheaply at any count, so it runs in slices and the
            // clock and signals are seen even in a loop without syscalls. unicorn hooks every
            // instruction once given a count: it gets one only when the limit is near.
            let budget = if p.cpu.is_interp() {
                left.min(SLICE)
            } else if left < 1 << 32 {
                left
            } else {
                u64::MAX
            };
            let before = p.cpu.insns_retired();
            let stop = if budget == 0 {
                Ok(Stop::InsnLimit)
            } else {
                p.cpu.run(&mut p.mem, budget)
            };
            let ran = p.cpu.insns_retired() - before;
            self.stats.instructions += ran;
            match p.record {
                Some(i) => self.records[i].instructions += ran,
                None => p.pending_insns += ran,
            }
            let stop = match stop {
                Ok(s) => s,
                Err(source) => {
                    let p = self.procs.last().expect("running");
                    let e = RunError::Engine {
                        pid: p.pid,
                        exe: self.exe_of(p),
                        source,
                    };
                    self.abort_all();
                    return Err(e);
                }
            };
            tick += 1;
            match stop {
                Stop::Syscall => self.syscall(),
                Stop::InsnLimit => {
                    if self.stats.instructions >= self.cfg.limits.max_insns {
                        let p = self.procs.last().expect("running");
                        let e = RunError::InsnLimit {
                            limit: self.cfg.limits.max_insns,
                            pid: p.pid,
                            exe: self.exe_of(p),
                            eip: p.cpu.eip(),
                        };
                        self.abort_all();
                        return Err(e);
                    }
                    // A slice ended: look at the clock now.
                    tick = 0;
                }
                Stop::Fault(f) => {
                    if let FaultKind::Page(m) = f.kind {
                        if p.grow_stack(m.addr) {
                            self.note_guest_pages();
                            self.stop_if_fatal()?;
                            continue;
                        }
                    }
                    let sig = match f.kind {
                        FaultKind::InvalidOpcode => signal::SIGILL,
                        FaultKind::Divide => signal::SIGFPE,
                        FaultKind::Breakpoint => signal::SIGTRAP,
                        FaultKind::Page(_) | FaultKind::GeneralProtection => signal::SIGSEGV,
                    };
                    let report = FaultReport {
                        pid: p.pid,
                        exe: String::new(),
                        kind: f.kind,
                        signal: sig,
                        eip: f.eip,
                        insn: cpu::disassemble(&p.mem, f.eip),
                    };
                    let exe = self.exe_of(self.procs.last().expect("running"));
                    self.faults.push(FaultReport { exe, ..report });
                    self.exit_current(ExitStatus::Signal(sig));
                }
            }
            self.check_interrupt(tick);
            self.stop_if_fatal()?;
        }
        self.flush_streams()?;
        Ok(self.exit.unwrap_or(ExitStatus::Code(0)))
    }

    /// Ends the run with the pending fatal error, if any: every process is killed and every
    /// file written back first.
    fn stop_if_fatal(&mut self) -> Result<(), RunError> {
        match self.fatal.take() {
            Some(e) => {
                self.abort_all();
                let _ = self.flush_streams();
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Flushes the guest's standard streams and the strace log.
    fn flush_streams(&mut self) -> Result<(), RunError> {
        let out = self.stdio.stdout.flush().map_err(RunError::Stdout);
        let _ = self.stdio.stderr.flush();
        if let Some(w) = self.strace.as_mut() {
            let _ = w.flush();
        }
        out
    }

    pub(crate) fn exe_of(&self, p: &Process) -> String {
        p.record
            .map(|i| self.records[i].exe.clone())
            .unwrap_or_else(|| {
                // A forked child that has not exec'd runs its parent's image; the parent
                // waits on the run stack (searching the records instead cost a scan of
                // every earlier child per exit).
                self.procs
                    .iter()
                    .rev()
                    .find(|q| q.pid == p.ppid)
                    .and_then(|q| q.record)
                    .map(|i| self.records[i].exe.clone())
                    .unwrap_or_default()
            })
    }

    /// Ends the running process with `status`: closes its descriptors (writing files back),
    /// leaves a zombie for its parent, and resumes the parent.
    pub(crate) fn exit_current(&mut self, status: ExitStatus) {
        let Some(mut p) = self.procs.pop() else {
            return;
        };
        if p.record.is_none() {
            // A forked child that never exec'd: record it under its parent's program.
            let exe = self.exe_of(&p);
            let argv: Vec<Vec<u8>> = vec![exe.clone().into_bytes()];
            self.start_record(&mut p, exe.as_bytes(), &argv, &[]);
        }
        self.finish_record(&mut p, RecordEnd::Exited(status));
        for fd in std::mem::take(&mut p.fds).into_iter().flatten() {
            if let Err(e) = self.release(fd) {
                self.fatal.get_or_insert(e.into());
            }
        }
        if let Err(e) = self.stdio.stdout.flush() {
            self.fatal.get_or_insert(RunError::Stdout(e));
        }
        let _ = self.stdio.stderr.flush();
        // Its own children nobody waited for are reaped (Linux reparents them to init).
        let orphans: Vec<(u32, u32)> = self
            .zombies
            .range((p.pid, 0)..=(p.pid, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in orphans {
            self.zombies.remove(&k);
        }
        if self.procs.is_empty() {
            self.exit = Some(status);
            if let Err(e) = self.vfs.sync() {
                self.fatal.get_or_insert(e.into());
            }
        } else {
            self.zombies.insert((p.ppid, p.pid), status);
        }
    }

    /// Drops a descriptor; writes its file back if that was the last reference.
    pub(crate) fn release(&mut self, f: crate::vfs::OpenRef) -> Result<(), WriteBackError> {
        if let Ok(of) = std::rc::Rc::try_unwrap(f) {
            if let Handle::File(node) = of.into_inner().handle {
                return self.vfs.release(node);
            }
        }
        Ok(())
    }

    /// Kills every process (after a fatal error), still writing their files back.
    fn abort_all(&mut self) {
        while !self.procs.is_empty() {
            self.exit_current(ExitStatus::Signal(signal::SIGKILL));
        }
        self.fatal = None;
    }

    /// Records of every program image run so far, in start order.
    pub fn records(&self) -> &[ProcessRecord] {
        &self.records
    }

    /// Faults that killed processes.
    pub fn faults(&self) -> &[FaultReport] {
        &self.faults
    }

    /// What the cross-check compared in agreement (zero unless the engine is
    /// [`EngineKind::CrossCheck`]); the counts are the engine factory's.
    pub fn cross_check_counts(&self) -> Counts {
        self.engines.cross_check_counts()
    }

    /// What the JIT did over every process (`None` unless the engine has one).
    pub fn tier_stats(&self) -> Option<crate::cpu::tier::TierStats> {
        self.engines.tier_stats()
    }

    /// Totals.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// The sandbox.
    pub fn vfs(&self) -> &Vfs {
        &self.vfs
    }

    /// The streams (to read back captured output).
    pub fn stdio_mut(&mut self) -> &mut Stdio {
        &mut self.stdio
    }
}

fn open_stream(h: Handle, flags: u32) -> crate::vfs::OpenRef {
    std::rc::Rc::new(std::cell::RefCell::new(crate::vfs::OpenFile {
        handle: h,
        offset: 0,
        flags,
    }))
}
