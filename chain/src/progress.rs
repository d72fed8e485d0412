//! Progress of a chain run on stderr, like `docker buildx --progress`: a terminal bar, or
//! one plain line per program started and ended (logs, CI, pipes), or nothing.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use vm::ProcessRecord;

use crate::execute::Hooks;
use crate::provenance::{end_text, Provenance};

/// How progress is shown (the CLIs' `--progress` values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ProgressMode {
    /// `tty` when stderr is a terminal, else `plain`.
    #[default]
    Auto,
    /// A bar redrawn in place: programs done/total (when known), elapsed time, command.
    Tty,
    /// One line per program started and per program ended, with counts and times.
    Plain,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// `auto` resolved against stderr.
    pub fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        }
    }
}

/// How many programs a run of this tree started last time: the process count of a
/// provenance file from an earlier run, if it can be read.
pub fn previous_total(provenance: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(provenance).ok()?;
    let p: Provenance = serde_json::from_str(&text).ok()?;
    Some(p.processes.len()).filter(|&n| n > 0)
}

/// Shows the programs of one run as they start and end.
pub struct Progress {
    mode: ProgressMode,
    bar: ProgressBar,
    start: Instant,
    total: Option<usize>,
}

impl Progress {
    /// Progress in `mode` (resolved here), expecting `total` programs when known.
    pub fn new(mode: ProgressMode, total: Option<usize>) -> Self {
        let mode = mode.resolve();
        let bar = match mode {
            ProgressMode::Tty => tty_bar(total),
            _ => ProgressBar::hidden(),
        };
        Progress {
            mode,
            bar,
            start: Instant::now(),
            total,
        }
    }

    fn count(&self, i: usize) -> String {
        match self.total {
            Some(t) => format!("{}/{t}", i + 1),
            None => format!("{}", i + 1),
        }
    }

    fn line(&self, text: &str) {
        let secs = self.start.elapsed().as_secs_f64();
        // A failed write to stderr is not worth stopping the run for.
        let _ = writeln!(std::io::stderr().lock(), "[{secs:8.1}s] {text}");
    }

    /// Program `i` (0-based record index) started.
    pub fn started(&self, i: usize, r: &ProcessRecord) {
        match self.mode {
            ProgressMode::Tty => {
                self.bar.set_position(i as u64 + 1);
                self.bar.set_message(r.argv.join(" "));
            }
            ProgressMode::Plain => self.line(&format!(
                "#{} start {} (pid {})",
                self.count(i),
                short(&r.argv),
                r.pid
            )),
            _ => {}
        }
    }

    /// Program `i` ended after `wall` (children it waited for included).
    pub fn ended(&self, i: usize, r: &ProcessRecord, wall: Duration) {
        if self.mode == ProgressMode::Plain {
            let calls: u64 = r.syscalls.values().sum();
            self.line(&format!(
                "#{} end   {}: {}, {} instructions, {calls} syscalls, {:.3} s",
                self.count(i),
                short(&r.argv),
                end_text(r.end),
                r.instructions,
                wall.as_secs_f64()
            ));
        }
    }

    /// Removes the bar (plain lines stay).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Hooks for Progress {
    fn process_started(&mut self, index: usize, record: &ProcessRecord) {
        self.started(index, record);
    }
    fn process_ended(&mut self, index: usize, record: &ProcessRecord, wall: Duration) {
        self.ended(index, record, wall);
    }
    fn finished(&mut self) {
        self.finish();
    }
}

/// A step's program and the output file that names it best (`M1 → hex2.hex2`).
pub fn short(argv: &[String]) -> String {
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("");
    // The output file names the step best: the argument after -o, or the last one.
    let out = argv
        .iter()
        .position(|a| a == "-o" || a == "--output")
        .and_then(|i| argv.get(i + 1))
        .or(argv.last().filter(|_| argv.len() > 1));
    match out {
        Some(o) => format!("{prog} → {}", o.rsplit('/').next().unwrap_or(o)),
        None => prog.to_string(),
    }
}

fn tty_bar(total: Option<usize>) -> ProgressBar {
    let (bar, template) = match total {
        Some(t) => (
            ProgressBar::new(t as u64),
            "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} programs {wide_msg}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} [{elapsed_precise}] program {pos} {wide_msg}",
        ),
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_modes_stay_and_auto_resolves_to_a_concrete_one() {
        assert_eq!(ProgressMode::Plain.resolve(), ProgressMode::Plain);
        assert_eq!(ProgressMode::Quiet.resolve(), ProgressMode::Quiet);
        assert_ne!(ProgressMode::Auto.resolve(), ProgressMode::Auto);
    }

    #[test]
    fn the_bar_templates_parse_with_and_without_a_total() {
        for total in [Some(3), None] {
            let p = Progress::new(ProgressMode::Tty, total);
            assert_eq!(p.bar.length(), total.map(|t| t as u64));
            p.finish();
        }
    }

    #[test]
    fn previous_total_reads_a_provenance_and_ignores_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "not json").unwrap();
        assert_eq!(previous_total(&bad), None);
        assert_eq!(previous_total(&dir.path().join("missing")), None);
        let good = dir.path().join("p.json");
        let p = Provenance {
            format: crate::provenance::FORMAT.into(),
            layout: "upstream".into(),
            inputs: vec![],
            processes: vec![],
            answers: None,
        };
        std::fs::write(&good, serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(previous_total(&good), None, "an empty run gives no total");
    }
}
