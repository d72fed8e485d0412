//! How the CLI words the chain library's errors and run diagnostics (one place, so every
//! command says the same thing the same way).

use stage0_chain::{ChainError, Outcome, SinkKind, StepFailure};

/// A chain that could not run: the sinks by the flag that named them.
pub fn chain_error(e: &ChainError) -> String {
    match e {
        ChainError::Sink { kind, path, source } => {
            let flag = match kind {
                SinkKind::GuestOutput => "--log",
                SinkKind::Strace => "--strace",
            };
            format!("{flag} {}: {source}", path.display())
        }
        other => other.to_string(),
    }
}

/// A failed step as `run` says it: "step `CMD` failed with status N".
pub fn step_failure(f: &StepFailure) -> String {
    f.to_string()
}

/// A failed step as `step` says it (the narrative has already named it a step):
/// "`CMD` failed with status N".
pub fn step_failure_short(f: &StepFailure) -> String {
    format!("`{}` {}", f.command, f.kind)
}

/// After a run, on stderr: what the cross-check compared, and every fault that killed a
/// guest.
pub fn after_run(o: &Outcome) {
    if let Some(c) = &o.cross_check {
        let pair = match o.engine {
            vm::EngineKind::JitCrossCheck => "jit vs interp, block by block",
            _ => "interp vs unicorn",
        };
        eprintln!(
            "cross-check ({pair}): {} instructions, {} basic blocks, {} syscalls \
             and {} whole-memory comparisons in agreement",
            c.instructions, c.blocks, c.syscalls, c.full_compares
        );
    }
    for f in &o.faults {
        eprintln!("stage0-runner: {f}");
    }
}

/// What the JIT did, in one line.
pub fn jit_line(j: &vm::cpu::tier::TierStats) -> String {
    format!(
        "jit: {} blocks compiled in {:.2} s ({} KiB of host code), {} translations reused \
         (cache hits across processes), {} blocks left to the interpreter",
        j.compiled,
        j.compile_nanos as f64 / 1e9,
        j.code_bytes / 1024,
        j.cache_hits,
        j.declined
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn sinks_are_named_by_their_flags() {
        let e = ChainError::Sink {
            kind: SinkKind::Strace,
            path: PathBuf::from("/nonexistent/s.log"),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert!(
            chain_error(&e).starts_with("--strace /nonexistent/s.log: "),
            "{}",
            chain_error(&e)
        );
    }
}
