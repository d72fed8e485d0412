//! `stage0-runner step`: the chain one program at a time, explained as it goes.
//!
//! Before each program image runs, the narrative shows its command line, its role and
//! its input files; after it, the files it wrote and what it cost. On a terminal it
//! waits for a key between steps; piped, it prints the same narrative without waiting.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use clap::Args;
use stage0_chain::{Flow, Hooks, Layout, Options, Plan, Sink, Step};
use vm::ProcessRecord;

use crate::teach::stages;
use crate::{step_log, trace};
use stage0_chain::{provenance, roles};

#[derive(Args)]
pub struct StepArgs {
    /// Which kind of tree TREE is.
    #[arg(long, value_enum, default_value = "upstream")]
    pub layout: Layout,
    /// Run the commands of this script (one per line) instead of the layout's own.
    #[arg(long, value_name = "FILE", conflicts_with = "layout")]
    pub script: Option<PathBuf>,
    /// After each traced step, show an instruction trace: `N` (the first N instructions)
    /// or `FROM..TO` (instruction numbers, from 0).
    #[arg(long, value_name = "RANGE", value_parser = trace::Window::parse)]
    pub trace_insns: Option<trace::Window>,
    /// Which steps (1-based, as numbered in the narrative) --trace-insns applies to;
    /// default: every step whose program has a source map.
    #[arg(long, value_name = "N")]
    pub trace_step: Vec<usize>,
    /// Never wait for keys, even on a terminal.
    #[arg(long)]
    pub no_wait: bool,
    /// The tree to run (default ./stage0-posix).
    pub tree: Option<PathBuf>,
}

/// What the step mode does besides narrating.
#[derive(Default)]
pub struct StepOptions {
    pub trace: Option<trace::Window>,
    pub trace_steps: Vec<usize>,
    /// `q` ends the host process at once (the command line); otherwise the programs
    /// already started finish without narration and no further step starts.
    pub exit_on_quit: bool,
}

/// Entry point of the subcommand.
pub fn step(a: StepArgs) -> u8 {
    let tree = a.tree.unwrap_or_else(|| PathBuf::from("stage0-posix"));
    let plan = match &a.script {
        Some(s) => stage0_chain::plan::upstream::plan_script(s),
        None => stage0_chain::plan(&tree, a.layout),
    };
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stage0-runner step: cannot read the chain: {e}");
            return 2;
        }
    };
    let keys: Option<Box<dyn BufRead>> = if !a.no_wait && std::io::stdin().is_terminal() {
        Some(Box::new(std::io::stdin().lock()))
    } else {
        None
    };
    let opts = StepOptions {
        trace: a.trace_insns,
        trace_steps: a.trace_step,
        exit_on_quit: true,
    };
    let out: Rc<RefCell<Box<dyn Write>>> = Rc::new(RefCell::new(Box::new(std::io::stdout())));
    match run_steps(&tree, &plan, out, keys, opts) {
        Ok(records) => {
            let failed = records
                .iter()
                .any(|r| provenance::end_text(r.end).starts_with("signal"));
            u8::from(failed)
        }
        Err(e) => {
            eprintln!("stage0-runner step: {e}");
            1
        }
    }
}

/// Whether the user asked to stop waiting or to stop altogether.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stepping,
    Continue,
}

/// Everything the observer keeps between events.
struct Narrator {
    tree: PathBuf,
    out: Rc<RefCell<Box<dyn Write>>>,
    keys: Option<Box<dyn BufRead>>,
    mode: Mode,
    opts: StepOptions,
    strace: Rc<RefCell<StraceByPid>>,
    /// Finished records not yet narrated (their files may not be written back yet), with
    /// their syscall log once taken (the exit call is logged after the end event, so the
    /// log is taken at the next event).
    pending: Vec<(usize, ProcessRecord, Option<String>)>,
    /// The last finished step and its compacted syscall log, for the `s` and `t` keys.
    last: Option<(usize, ProcessRecord, Vec<String>)>,
    /// The page of that log the next `s` shows.
    log_page: usize,
    quit: bool,
}

impl Narrator {
    fn say(&self, text: &str) {
        let mut o = self.out.borrow_mut();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }

    /// Narrates what finished before an event, unless the user quit.
    fn catch_up(&mut self) -> bool {
        if self.quit {
            return false;
        }
        self.take_logs();
        self.flush_pending(false);
        true
    }

    /// Moves each finished record's syscalls out of the log.
    fn take_logs(&mut self) {
        let mut strace = self.strace.borrow_mut();
        for p in self.pending.iter_mut().filter(|p| p.2.is_none()) {
            p.2 = Some(strace.by_pid.remove(&p.1.pid).unwrap_or_default());
        }
    }

    /// Narrates finished steps whose files are on the host (the kernel writes a file back
    /// when its last descriptor closes, which may be after the step's end event); `all`
    /// narrates the rest too (the run is over, everything is written back).
    fn flush_pending(&mut self, all: bool) {
        let ready = |r: &ProcessRecord, tree: &Path| {
            r.writes.iter().all(|w| {
                w.deleted
                    || std::fs::read(host_path(tree, &w.path))
                        .is_ok_and(|d| vm::record::sha256_hex(&d) == w.sha256)
            })
        };
        if all {
            self.take_logs();
        }
        while let Some((_, r, _)) = self.pending.first() {
            if !all && !ready(r, &self.tree) {
                return;
            }
            let (i, r, log) = self.pending.remove(0);
            let log = log.unwrap_or_default();
            self.say(&after_text(&self.tree, i, &r));
            if let Some(w) = self.opts.trace {
                let chosen = self.opts.trace_steps.is_empty() && trace::has_source_map(&r.exe)
                    || self.opts.trace_steps.contains(&(i + 1));
                if chosen {
                    self.say(&trace::trace_text(&self.tree, &r, w));
                }
            }
            self.last = Some((i, r, step_log::compact(&log)));
            self.log_page = 0;
        }
    }

    /// Waits for a key when stepping on a terminal.
    fn prompt(&mut self) {
        while self.mode == Mode::Stepping && !self.quit {
            if self.keys.is_none() {
                return;
            }
            self.say("  [Enter/n] next  [c] continue to the end  [s] syscalls of the last step  [t] trace the last step  [q] quit > ");
            let mut line = String::new();
            let got = match self.keys.as_mut() {
                Some(k) => k.read_line(&mut line).unwrap_or(0),
                None => 0,
            };
            if got == 0 {
                self.mode = Mode::Continue;
                return;
            }
            match line.trim() {
                "" | "n" => return,
                "c" => self.mode = Mode::Continue,
                "q" => {
                    if self.opts.exit_on_quit {
                        self.say("quit: the programs running now are stopped; their output files may be incomplete\n");
                        std::process::exit(0);
                    }
                    self.quit = true;
                }
                "s" => match &self.last {
                    Some((i, _, log)) => {
                        let text = step_log::page(log, self.log_page);
                        self.say(&format!("syscalls of step {}:\n{text}", i + 1));
                        self.log_page += 1;
                    }
                    None => self.say("no step has finished yet\n"),
                },
                "t" => match &self.last {
                    Some((_, r, _)) => {
                        let w = self.opts.trace.unwrap_or(trace::Window { from: 0, to: 40 });
                        self.say(&trace::trace_text(&self.tree, r, w));
                    }
                    None => self.say("no step has finished yet\n"),
                },
                other => self.say(&format!("unknown key {other:?}\n")),
            }
        }
    }
}

impl Hooks for Narrator {
    fn process_started(&mut self, i: usize, r: &ProcessRecord) {
        if self.catch_up() {
            self.say(&before_text(&self.tree, i, r));
            self.prompt();
        }
    }

    fn process_ended(&mut self, i: usize, r: &ProcessRecord, _wall: std::time::Duration) {
        if self.catch_up() {
            self.pending.push((i, r.clone(), None));
        }
    }

    fn step_ended(&mut self, _i: usize, _step: &Step) -> Flow {
        self.flush_pending(true);
        if self.quit {
            self.say("stopped at your request\n");
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn finished(&mut self) {
        self.flush_pending(true);
    }
}

/// Runs every step of `plan` in one kernel, narrating to `out`; waits on `keys` between
/// program images when given. Returns the records of the run.
pub fn run_steps(
    tree: &Path,
    plan: &Plan,
    out: Rc<RefCell<Box<dyn Write>>>,
    keys: Option<Box<dyn BufRead>>,
    opts: StepOptions,
) -> Result<Vec<ProcessRecord>, String> {
    let strace: Rc<RefCell<StraceByPid>> = Rc::default();
    let options = Options {
        guest_output: Some(Sink::Writer(Box::new(GuestOutput(out.clone())))),
        strace: Some(Sink::Writer(Box::new(StraceWriter(strace.clone())))),
        ..Options::default()
    };
    let narrator = Rc::new(RefCell::new(Narrator {
        tree: tree.to_path_buf(),
        out,
        keys,
        mode: Mode::Stepping,
        opts,
        strace,
        pending: Vec::new(),
        last: None,
        log_page: 0,
        quit: false,
    }));
    let outcome = stage0_chain::execute(tree, plan, options, narrator.clone())
        .map_err(|e| crate::render::chain_error(&e))?;
    let n = narrator.borrow();
    n.say(&format!(
        "{} program images ran, {} instructions, {} syscalls\n",
        outcome.records.len(),
        outcome.instructions,
        outcome.syscalls
    ));
    for f in &outcome.faults {
        n.say(&format!("fault: {f}\n"));
    }
    match outcome.failure {
        Some(f) => Err(crate::render::step_failure_short(&f)),
        None => Ok(outcome.records),
    }
}

/// The narrative before a program image runs.
pub fn before_text(tree: &Path, i: usize, r: &ProcessRecord) -> String {
    let mut s = format!(
        "\n== step {} (pid {}, parent {}) ==\n$ {}\n  program: {}{}\n  role: {}\n",
        i + 1,
        r.pid,
        r.parent,
        r.argv.join(" "),
        r.exe,
        size_note(tree, &r.exe),
        roles::role_or_unknown(&r.exe)
    );
    // What the step will do, from its arguments: files that exist now are inputs, other
    // paths outputs (`after_text` tells it again from what the step really read and wrote).
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    for a in r.argv.iter().skip(1).filter(|a| !a.starts_with('-')) {
        let guest = guest_path(&r.cwd, a);
        if host_path(tree, &guest).is_file() {
            ins.push(guest);
        } else if a.contains('/') {
            outs.push(guest);
        }
    }
    let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
    let outs: Vec<&str> = outs.iter().map(String::as_str).collect();
    s.push_str(&format!(
        "  this step: {}\n",
        stages::describe(&r.exe, &r.argv, &ins, &outs)
    ));
    let inputs: Vec<String> = r
        .argv
        .iter()
        .skip(1)
        .filter_map(|a| {
            let guest = guest_path(&r.cwd, a);
            let meta = std::fs::metadata(host_path(tree, &guest)).ok()?;
            meta.is_file()
                .then(|| format!("    {guest} ({} bytes)\n", meta.len()))
        })
        .collect();
    if inputs.is_empty() {
        s.push_str("  input files named on its command line: none yet\n");
    } else {
        s.push_str("  files named on its command line that exist now:\n");
        s.extend(inputs);
    }
    s
}

/// The narrative after a program image ended.
pub fn after_text(tree: &Path, i: usize, r: &ProcessRecord) -> String {
    let calls: u64 = r.syscalls.values().sum();
    let mut s = format!(
        "-- step {} `{}` ended ({}): {} instructions, {} syscalls\n",
        i + 1,
        r.exe,
        provenance::end_text(r.end),
        r.instructions,
        calls
    );
    let reads: Vec<&str> = r
        .reads
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| *p != r.exe)
        .collect();
    let writes: Vec<&str> = r.writes.iter().map(|f| f.path.as_str()).collect();
    s.push_str(&format!(
        "  what it did: {}\n",
        stages::describe(&r.exe, &r.argv, &reads, &writes)
    ));
    for f in &r.reads {
        s.push_str(&format!("  read  {}\n", f.path));
    }
    for f in &r.writes {
        if f.deleted {
            s.push_str(&format!("  wrote {} (then deleted it)\n", f.path));
            continue;
        }
        let data = std::fs::read(host_path(tree, &f.path)).unwrap_or_default();
        s.push_str(&format!(
            "  wrote {}: {} bytes, sha256 {}\n        first bytes: {}\n",
            f.path,
            data.len(),
            f.sha256,
            first_bytes(&data)
        ));
    }
    if r.writes.is_empty() {
        s.push_str("  wrote no files\n");
    }
    s
}

/// Up to 16 bytes as hex and as text (dots for unprintable bytes).
pub fn first_bytes(data: &[u8]) -> String {
    let head = &data[..data.len().min(16)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{}  |{text}|", hex.join(" "))
}

fn size_note(tree: &Path, guest: &str) -> String {
    std::fs::metadata(host_path(tree, guest))
        .map(|m| format!(" ({} bytes)", m.len()))
        .unwrap_or_default()
}

/// `arg` as an absolute guest path, relative to the guest directory `cwd`.
pub fn guest_path(cwd: &str, arg: &str) -> String {
    let joined = if arg.starts_with('/') {
        arg.to_string()
    } else {
        format!("{}/{arg}", cwd.trim_end_matches('/'))
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The host path of a guest path in `tree`.
pub fn host_path(tree: &Path, guest: &str) -> PathBuf {
    tree.join(guest.trim_start_matches('/'))
}

/// The kernel's syscall log split by pid (lines start with the pid), so only the logs
/// of programs not yet narrated are kept.
#[derive(Default)]
struct StraceByPid {
    partial: Vec<u8>,
    by_pid: BTreeMap<u32, String>,
}

/// The kernel's end of a [`StraceByPid`].
struct StraceWriter(Rc<RefCell<StraceByPid>>);

impl Write for StraceWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut log = self.0.borrow_mut();
        log.partial.extend_from_slice(buf);
        while let Some(n) = log.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = log.partial.drain(..=n).collect();
            let line = String::from_utf8_lossy(&line).into_owned();
            let pid = line
                .split(' ')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let entry = log.by_pid.entry(pid).or_default();
            entry.push_str("  ");
            entry.push_str(&line);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
/// Guest output, interleaved with the narrative.
#[derive(Clone)]
struct GuestOutput(Rc<RefCell<Box<dyn Write>>>);

impl Write for GuestOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}
