//! Containerfiles: StageX's line-based dependency scan (`src/targets.py`) and a small
//! instruction parser for the parts this crate executes or exports (stages, `RUN` exec
//! form, `WORKDIR`, `ENV`, `COPY` with flags and heredocs).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Dependencies exactly as `src/targets.py` finds them: lines starting with `COPY` whose
/// first argument is `--from=stagex/X`, and lines starting with `FROM stagex/X` or
/// `FROM --platform=linux/386 stagex/X`. Duplicates are kept, in file order.
pub fn stagex_deps(text: &str) -> Vec<String> {
    let mut deps = Vec::new();
    // Python's `for line in file` keeps the newline; split(" ") splits on single spaces.
    for line in text.split_inclusive('\n') {
        let words: Vec<&str> = line.split(' ').collect();
        if line.starts_with("COPY") {
            if let Some(first) = words.get(1) {
                if first.starts_with("--from") {
                    // targets.py: `_, dep = first_arg.split("=")`
                    let parts: Vec<&str> = first.split('=').collect();
                    if parts.len() == 2 && parts[1].starts_with("stagex/") {
                        deps.push(parts[1].split('/').nth(1).unwrap_or("").to_string());
                    }
                }
            }
        }
        if line.starts_with("FROM stagex/") {
            deps.push(words[1].split('/').nth(1).unwrap_or("").trim().to_string());
        }
        if line.starts_with("FROM --platform=linux/386 stagex/") {
            if let Some(w) = words.get(2) {
                deps.push(w.split('/').nth(1).unwrap_or("").trim().to_string());
            }
        }
    }
    deps
}

/// A heredoc attached to an instruction (`COPY <<-EOF dest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`).
    pub delimiter: String,
    /// True for `<<-`: leading tabs are stripped from each line.
    pub strip_tabs: bool,
    /// The body, lines joined with `\n`, with a trailing newline.
    pub body: String,
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line of the keyword.
    pub line: usize,
    /// Upper-case keyword (`COPY`, `RUN`, ...).
    pub keyword: String,
    /// Leading `--name=value` flags, in order.
    pub flags: Vec<(String, String)>,
    /// The remaining arguments split on whitespace (shell form).
    pub args: Vec<String>,
    /// The arguments as text after the flags (for `RUN` shell form and JSON form).
    pub rest: String,
    /// The heredoc, when the instruction has one.
    pub heredoc: Option<Heredoc>,
}

impl Instruction {
    /// The value of flag `name` (without the dashes).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON exec form (`RUN ["a", "b"]`), if the arguments are a JSON string array.
    pub fn exec_form(&self) -> Option<Vec<String>> {
        let t = self.rest.trim();
        if !t.starts_with('[') {
            return None;
        }
        serde_json::from_str::<Vec<String>>(t).ok()
    }
}

/// A build stage (`FROM base [AS name]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 1-based line of the `FROM`.
    pub line: usize,
    /// The base image (`scratch`, `stagex/core-gcc`, another stage's name).
    pub base: String,
    /// `--platform=` of the `FROM`, if given.
    pub platform: Option<String>,
    /// The stage name after `AS`, if any.
    pub name: Option<String>,
    /// The stage's instructions after `FROM`.
    pub instructions: Vec<Instruction>,
}

/// A parsed Containerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containerfile {
    /// Where it was read from (for error messages).
    pub path: PathBuf,
    /// Global `ARG`s before the first `FROM`.
    pub global_args: Vec<Instruction>,
    /// The stages in order.
    pub stages: Vec<Stage>,
}

impl Containerfile {
    /// Reads and parses a Containerfile.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses Containerfile text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let err = |line: usize, message: String| Error::Containerfile {
            path: path.to_path_buf(),
            line,
            message,
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut cf = Containerfile {
            path: path.to_path_buf(),
            global_args: Vec::new(),
            stages: Vec::new(),
        };
        let mut i = 0;
        while i < lines.len() {
            let start = i + 1;
            let mut logical = lines[i].trim_end().to_string();
            i += 1;
            if logical.trim().is_empty() || logical.trim_start().starts_with('#') {
                continue;
            }
            while logical.ends_with('\\') && i < lines.len() {
                logical.pop();
                logical.push_str(lines[i].trim_end());
                i += 1;
            }
            let mut inst = parse_instruction(&logical, start)
                .ok_or_else(|| err(start, "empty instruction".into()))?;
            if let Some((delim, strip)) = heredoc_start(&inst.args) {
                let mut body = String::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(err(start, format!("heredoc <<{delim} is not terminated")));
                    };
                    i += 1;
                    let l = if strip { l.trim_start_matches('\t') } else { l };
                    if l == delim {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                inst.heredoc = Some(Heredoc {
                    delimiter: delim,
                    strip_tabs: strip,
                    body,
                });
            }
            if inst.keyword == "FROM" {
                let platform = inst.flag("platform").map(str::to_string);
                let (base, name) = match inst.args.as_slice() {
                    [b] => (b.clone(), None),
                    [b, as_kw, n] if as_kw.eq_ignore_ascii_case("as") => {
                        (b.clone(), Some(n.clone()))
                    }
                    _ => return Err(err(start, format!("cannot parse FROM {:?}", inst.rest))),
                };
                cf.stages.push(Stage {
                    line: start,
                    base,
                    platform,
                    name,
                    instructions: Vec::new(),
                });
            } else if let Some(stage) = cf.stages.last_mut() {
                stage.instructions.push(inst);
            } else if inst.keyword == "ARG" {
                cf.global_args.push(inst);
            } else {
                return Err(err(
                    start,
                    format!("{} before the first FROM", inst.keyword),
                ));
            }
        }
        Ok(cf)
    }

    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.as_deref() == Some(name))
    }
}

/// `<<EOF` / `<<-EOF` among the arguments.
fn heredoc_start(args: &[String]) -> Option<(String, bool)> {
    args.iter().find_map(|a| {
        let rest = a.strip_prefix("<<")?;
        let (strip, word) = match rest.strip_prefix('-') {
            Some(w) => (true, w),
            None => (false, rest),
        };
        let word = word.trim_matches(|c| c == '"' || c == '\'');
        (!word.is_empty()).then(|| (word.to_string(), strip))
    })
}

fn parse_instruction(logical: &str, line: usize) -> Option<Instruction> {
    let trimmed = logical.trim();
    let (keyword, mut rest) = match trimmed.split_once(char::is_whitespace) {
        Some((k, r)) => (k, r.trim_start()),
        None => (trimmed, ""),
    };
    if keyword.is_empty() {
        return None;
    }
    let mut flags = Vec::new();
    while let Some(after) = rest.strip_prefix("--") {
        let (flag, remain) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
        let (k, v) = flag.split_once('=').unwrap_or((flag, ""));
        flags.push((k.to_string(), v.to_string()));
        rest = remain.trim_start();
    }
    Some(Instruction {
        line,
        keyword: keyword.to_ascii_uppercase(),
        flags,
        args: rest.split_whitespace().map(str::to_string).collect(),
        rest: rest.to_string(),
        heredoc: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "FROM scratch AS a\nWORKDIR /b\nRUN [\"/x\", \"y\"]\nCOPY <<-EOF k\n\tone\n\t\ttwo\n  three\nEOF\n\
FROM --platform=linux/386 stagex/core-musl AS b\nCOPY --from=stagex/core-gcc . /\nCOPY --from=a --chmod=0755 /b/k /bin/\n";

    #[test]
    fn parses_stages_flags_heredoc() {
        let cf = Containerfile::parse(SAMPLE, Path::new("C")).unwrap();
        assert_eq!(cf.stages.len(), 2);
        let a = cf.stage("a").unwrap();
        assert_eq!(a.instructions[1].exec_form().unwrap(), vec!["/x", "y"]);
        let h = a.instructions[2].heredoc.as_ref().unwrap();
        assert_eq!(h.body, "one\ntwo\n  three\n");
        let b = cf.stage("b").unwrap();
        assert_eq!(b.platform.as_deref(), Some("linux/386"));
        assert_eq!(b.instructions[1].flag("chmod"), Some("0755"));
        assert_eq!(b.instructions[1].args, vec!["/b/k", "/bin/"]);
    }

    #[test]
    fn deps_follow_targets_py() {
        assert_eq!(stagex_deps(SAMPLE), vec!["core-musl", "core-gcc"]);
        assert_eq!(
            stagex_deps("FROM stagex/core-x AS y\n  COPY --from=stagex/no . /\n"),
            vec!["core-x"]
        );
    }

    #[test]
    fn unterminated_heredoc_names_line() {
        let e =
            Containerfile::parse("FROM scratch\nCOPY <<EOF x\nabc\n", Path::new("C")).unwrap_err();
        assert!(e.to_string().starts_with("C:2:"), "{e}");
    }
}
