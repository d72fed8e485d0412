//! BuildKit's conventions for what a Dockerfile instruction leaves in an image config:
//! history `created_by` strings (`frontend/dockerfile/dockerfile2llb`), the default
//! `PATH` of a `FROM scratch` stage, and timestamps under `SOURCE_DATE_EPOCH`.

use crate::containerfile::Instruction;
use crate::error::{Error, Result};

/// `history[].comment` of entries written by the Dockerfile frontend.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// `PATH` that `FROM scratch` gets on Linux (`system.DefaultPathEnv`).
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One image history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The `created_by` text.
    pub created_by: String,
    /// False for metadata-only instructions (`empty_layer: true`).
    pub adds_layer: bool,
}

/// The `created_by` BuildKit records for an instruction of the exported stage.
/// COPY/ADD: keyword, `--parents`, `--chown=`, `--chmod=`, sources, destination, then
/// ` # buildkit` (other flags such as `--from` and `--link` are not recorded).
/// Instructions whose text depends on build state this crate does not model are errors.
pub fn history_entry(inst: &Instruction) -> Result<HistoryEntry> {
    let unsupported = || {
        Error::Image(format!(
            "line {}: no BuildKit history model for {} {}",
            inst.line, inst.keyword, inst.rest
        ))
    };
    match inst.keyword.as_str() {
        "COPY" | "ADD" => {
            if inst.heredoc.is_some()
                || inst.args.len() < 2
                || inst.args.iter().any(|a| a.contains('$'))
            {
                return Err(unsupported());
            }
            let mut msg = inst.keyword.clone();
            if inst.flags.iter().any(|(k, _)| k == "parents") {
                msg.push_str(" --parents");
            }
            for key in ["chown", "chmod"] {
                if let Some(v) = inst.flag(key) {
                    msg.push_str(&format!(" --{key}={v}"));
                }
            }
            for a in &inst.args {
                msg.push(' ');
                msg.push_str(a);
            }
            msg.push_str(" # buildkit");
            Ok(HistoryEntry {
                created_by: msg,
                adds_layer: true,
            })
        }
        "ENV" if !inst.rest.contains('$') => {
            let pairs: Vec<String> = inst.args.iter().map(|a| a.replace('"', "")).collect();
            if pairs.iter().any(|p| !p.contains('=')) {
                return Err(unsupported());
            }
            Ok(HistoryEntry {
                created_by: format!("ENV {}", pairs.join(" ")),
                adds_layer: false,
            })
        }
        _ => Err(unsupported()),
    }
}

/// RFC 3339 UTC text of a Unix time, as Go's `time.Time` marshals a whole-second time
/// (`1970-01-01T00:00:01Z`). Go cannot marshal years past 9999, so neither is asked for:
/// later times are clamped to the last second of 9999.
pub fn rfc3339_utc(secs: u64) -> String {
    const LAST_SECOND_OF_9999: u64 = 253_402_300_799;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.min(LAST_SECOND_OF_9999));
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containerfile::Containerfile;
    use std::path::Path;

    #[test]
    fn copy_history_text() {
        let cf = Containerfile::parse(
            "FROM scratch\nCOPY --from=build /build/hex2 /bin/\nCOPY --from=b --link --chmod=0755 a b /x/\nENV A=1 B=2\nRUN x\n",
            Path::new("C"),
        )
        .unwrap();
        let i = &cf.stages[0].instructions;
        assert_eq!(
            history_entry(&i[0]).unwrap().created_by,
            "COPY /build/hex2 /bin/ # buildkit"
        );
        assert_eq!(
            history_entry(&i[1]).unwrap().created_by,
            "COPY --chmod=0755 a b /x/ # buildkit"
        );
        let env = history_entry(&i[2]).unwrap();
        assert_eq!(
            (env.created_by.as_str(), env.adds_layer),
            ("ENV A=1 B=2", false)
        );
        assert!(history_entry(&i[3]).is_err());
    }

    #[test]
    fn epoch_text() {
        assert_eq!(rfc3339_utc(1), "1970-01-01T00:00:01Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
