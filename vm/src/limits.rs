//! Resource limits of a run: what a guest may use before the run stops.
//!
//! The defaults fit the whole stage0-posix chain with room to spare (its peak is 107 MiB of
//! guest memory, 4 processes deep, 115 G instructions in about 4 minutes) and stop a
//! runaway or hostile guest long before it hurts the host. Each limit names the command-line
//! flag that raises it, so the error a user sees says how to go on.

use std::time::Duration;

/// The limits of one run (a [`crate::Kernel`] with every program it starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Guest memory mapped at once, summed over every live process (bytes).
    pub max_memory: u64,
    /// Processes alive at once: running, waiting for a child, or exited and not yet waited for.
    pub max_processes: u32,
    /// Bytes the guests write, to files and to standard output and error, over the run.
    pub max_written: u64,
    /// Size one file may reach (bytes).
    pub max_file_size: u64,
    /// Guest instructions over the run.
    pub max_insns: u64,
    /// Wall-clock time of the run (checked between instruction slices and at syscalls).
    pub timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory: 1 << 30,
            max_processes: 256,
            max_written: 16 << 30,
            max_file_size: 256 << 20,
            max_insns: 2_000_000_000_000,
            timeout: Some(Duration::from_secs(4 * 3600)),
        }
    }
}

impl Limits {
    /// No limits at all (tests of the limits themselves, and callers that impose their own).
    pub fn none() -> Limits {
        Limits {
            max_memory: u64::MAX,
            max_processes: u32::MAX,
            max_written: u64::MAX,
            max_file_size: u64::MAX,
            max_insns: u64::MAX,
            timeout: None,
        }
    }
}

/// Which limit stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Memory,
    Processes,
    Written,
    FileSize,
    Instructions,
    Timeout,
}

impl Limit {
    /// The command-line flag that sets this limit.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::Memory => "--max-memory",
            Limit::Processes => "--max-processes",
            Limit::Written => "--max-written",
            Limit::FileSize => "--max-file-size",
            Limit::Instructions => "--max-insns",
            Limit::Timeout => "--timeout",
        }
    }

    /// A stable name, for machine-readable outcomes.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::Processes => "processes",
            Limit::Written => "written",
            Limit::FileSize => "file-size",
            Limit::Instructions => "instructions",
            Limit::Timeout => "timeout",
        }
    }

    /// What the limit bounds, for people.
    pub fn what(self) -> &'static str {
        match self {
            Limit::Memory => "guest memory over all live processes",
            Limit::Processes => "live processes",
            Limit::Written => "bytes written in the run",
            Limit::FileSize => "size of one file",
            Limit::Instructions => "guest instructions",
            Limit::Timeout => "wall-clock time",
        }
    }

    /// `value` in this limit's unit, for people.
    pub fn show(self, value: u64) -> String {
        match self {
            Limit::Memory | Limit::Written | Limit::FileSize => show_bytes(value),
            Limit::Timeout => format!("{value} s"),
            Limit::Processes | Limit::Instructions => value.to_string(),
        }
    }
}

/// A byte count as people write it: `256 MiB`, `1 GiB`, `4096 bytes`.
pub fn show_bytes(n: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.trailing_zeros() >= shift {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(show_bytes(1 << 30), "1 GiB");
        assert_eq!(show_bytes(256 << 20), "256 MiB");
        assert_eq!(show_bytes(4097), "4097 bytes");
        assert_eq!(Limit::Memory.show(3 << 20), "3 MiB");
    }
}
