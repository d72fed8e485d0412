//! The sandbox's limit flags, shared by every command that runs guests (the signal
//! handling that stops a run cleanly is [`stage0_chain::interrupt`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use vm::Limits;

/// Limits on what the guests of one run may use; the defaults fit the whole chain with
/// room to spare ([`Limits::default`]).
#[derive(Args, Clone, Debug)]
pub struct SandboxArgs {
    /// Stop the run after this many guest instructions (the chain runs 1.15e11).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_insns)]
    pub max_insns: u64,
    /// Guest memory mapped at once over all live processes (suffixes K, M, G, T: KiB…).
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(Limits::default().max_memory))]
    pub max_memory: ByteSize,
    /// Guest processes alive at once (running, waiting, or exited and not yet waited for).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_processes)]
    pub max_processes: u32,
    /// Bytes the guests may write (files and standard streams) over the run.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(Limits::default().max_written))]
    pub max_written: ByteSize,
    /// Size one file may reach.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(Limits::default().max_file_size))]
    pub max_file_size: ByteSize,
    /// Wall-clock limit of the run: seconds, or with a unit (90s, 30m, 4h); 0 for none.
    #[arg(long, value_name = "DURATION", default_value_t = WallTime(Limits::default().timeout))]
    pub timeout: WallTime,
}

impl SandboxArgs {
    /// The kernel's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_memory: self.max_memory.0,
            max_processes: self.max_processes,
            max_written: self.max_written.0,
            max_file_size: self.max_file_size.0,
            max_insns: self.max_insns,
            timeout: self.timeout.0,
        }
    }
}

impl Default for SandboxArgs {
    fn default() -> Self {
        let l = Limits::default();
        SandboxArgs {
            max_insns: l.max_insns,
            max_memory: ByteSize(l.max_memory),
            max_processes: l.max_processes,
            max_written: ByteSize(l.max_written),
            max_file_size: ByteSize(l.max_file_size),
            timeout: WallTime(l.timeout),
        }
    }
}

const UNITS: [(char, u32); 4] = [('T', 40), ('G', 30), ('M', 20), ('K', 10)];

/// A byte count written as people write it: `4096`, `64K`, `256M`, `1G` (binary units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s
            .trim()
            .trim_end_matches(['B', 'b'])
            .trim_end_matches(['i', 'I']);
        let (num, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
            Some(c) => match UNITS.iter().find(|(u, _)| *u == c) {
                Some((_, sh)) => (&t[..t.len() - 1], *sh),
                None => (t, 0),
            },
            None => (t, 0),
        };
        let n: u64 = num
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a size like 4096, 64K, 256M or 1G"))?;
        n.checked_mul(1 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (u, sh) in UNITS {
            if self.0 >= 1 << sh && self.0.trailing_zeros() >= sh {
                return write!(f, "{}{u}", self.0 >> sh);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// A wall-clock limit: seconds, or a number with s, m or h; `0` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WallTime(pub Option<Duration>);

impl FromStr for WallTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let (num, mult) = match t.chars().last() {
            Some('s') => (&t[..t.len() - 1], 1),
            Some('m') => (&t[..t.len() - 1], 60),
            Some('h') => (&t[..t.len() - 1], 3600),
            _ => (t, 1),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 90, 90s, 30m or 4h"))?;
        Ok(WallTime(
            (n > 0).then(|| Duration::from_secs(n.saturating_mul(mult))),
        ))
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.map(|d| d.as_secs()) {
            None | Some(0) => write!(f, "0"),
            Some(s) if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            Some(s) if s % 60 == 0 => write!(f, "{}m", s / 60),
            Some(s) => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_parse_and_print_back() {
        for (s, n) in [
            ("4096", 4096),
            ("64K", 64 << 10),
            ("256M", 256 << 20),
            ("1G", 1 << 30),
            ("2GiB", 2 << 30),
        ] {
            assert_eq!(s.parse::<ByteSize>(), Ok(ByteSize(n)), "{s}");
        }
        assert_eq!(ByteSize(256 << 20).to_string(), "256M");
        assert_eq!(ByteSize(1000).to_string(), "1000");
        assert!("12X".parse::<ByteSize>().is_err());
        assert!("99999999999T".parse::<ByteSize>().is_err());
        assert_eq!(
            "90".parse::<WallTime>(),
            Ok(WallTime(Some(Duration::from_secs(90))))
        );
        assert_eq!(
            "30m".parse::<WallTime>(),
            Ok(WallTime(Some(Duration::from_secs(1800))))
        );
        assert_eq!("0".parse::<WallTime>(), Ok(WallTime(None)));
        assert_eq!(
            WallTime(Some(Duration::from_secs(4 * 3600))).to_string(),
            "4h"
        );
        assert!("soon".parse::<WallTime>().is_err());
    }

    #[test]
    fn default_flags_are_the_kernel_defaults() {
        assert_eq!(SandboxArgs::default().limits(), Limits::default());
    }
}
