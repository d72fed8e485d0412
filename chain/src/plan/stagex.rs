//! The StageX layout: the steps of packages/bootstrap/stage0's Containerfile, read from the
//! Containerfile itself (exec-form RUN lines, WORKDIR, ENV, and `COPY <<-EOF` heredocs).
//!
//! The `sources` stage's ADD lines and the COPY --from lines that assemble the root are
//! what `stage0-tree ... stagex` has already laid out; the `package` stage is the image.

use std::path::Path;

use super::{read_text, Layout, Plan, PlanError, Step};
use crate::LineError;

/// Where the Containerfile sits in a StageX root.
pub const CONTAINERFILE: &str = "Containerfile";

/// Reads the build steps of the `seeds` and `build` stages.
pub fn plan(root: &Path) -> Result<Plan, PlanError> {
    let path = root.join(CONTAINERFILE);
    let text = read_text(&path)?;
    parse(&text).map_err(|LineError { line, message }| PlanError::Syntax {
        path,
        line,
        message,
    })
}

/// Parses Containerfile text; errors carry a 1-based line number.
pub fn parse(text: &str) -> Result<Plan, LineError> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut workdir, mut env, mut steps, mut files) = (
        "/".to_string(),
        Vec::<String>::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut outputs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        let lineno = i + 1;
        i += 1;
        let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match instr.to_ascii_uppercase().as_str() {
            "FROM" => {
                // Each stage starts with a fresh environment and directory.
                workdir = "/".into();
                env.clear();
            }
            "WORKDIR" => {
                workdir = if rest.starts_with('/') {
                    rest.to_string()
                } else {
                    format!("{}/{rest}", workdir.trim_end_matches('/'))
                };
                if !outputs.contains(&workdir) {
                    outputs.push(workdir.clone());
                }
            }
            "ENV" => {
                let (k, v) = rest
                    .split_once('=')
                    .or_else(|| rest.split_once(' '))
                    .ok_or_else(|| {
                        LineError::new(lineno, format!("ENV without a value: {rest}"))
                    })?;
                env.retain(|e| !e.starts_with(&format!("{k}=")));
                env.push(format!("{}={}", k.trim(), v.trim()));
            }
            "RUN" => {
                if !rest.starts_with('[') {
                    return Err(LineError::new(
                        lineno,
                        format!("only exec-form RUN [\"...\"] can run without a shell: {rest}"),
                    ));
                }
                let argv: Vec<String> = serde_json::from_str(rest)
                    .map_err(|e| LineError::new(lineno, format!("RUN array: {e}")))?;
                if argv.is_empty() {
                    return Err(LineError::new(lineno, "empty RUN array"));
                }
                steps.push(Step {
                    argv,
                    cwd: workdir.clone(),
                    env: env.clone(),
                });
            }
            "COPY" if rest.starts_with("<<") => {
                let spec = rest.trim_start_matches("<<");
                let strip_tabs = spec.starts_with('-');
                let mut parts = spec.trim_start_matches('-').split_whitespace();
                let delim = parts
                    .next()
                    .ok_or_else(|| LineError::new(lineno, "heredoc without a delimiter"))?
                    .trim_matches(|c| c == '"' || c == '\'');
                let dest = parts
                    .next()
                    .ok_or_else(|| LineError::new(lineno, "heredoc COPY without a destination"))?;
                let mut body = String::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(LineError::new(
                            lineno,
                            format!("heredoc not closed by {delim}"),
                        ));
                    };
                    i += 1;
                    let l = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if l == delim {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                let dest = if dest.starts_with('/') {
                    dest.to_string()
                } else {
                    format!("{}/{dest}", workdir.trim_end_matches('/'))
                };
                files.push((dest, body.into_bytes()));
            }
            _ => {}
        }
    }
    Ok(Plan {
        layout: Layout::Stagex,
        files,
        steps,
        outputs,
        answers: None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_runs_env_workdir_and_heredoc() {
        let text = "FROM scratch AS seeds\nWORKDIR /build\nRUN [\"/hex0-seed\", \"/x86/hex0_x86.hex0\", \"hex0\"]\n\
            FROM scratch AS build\nWORKDIR /build\nENV PATH=/build\nENV TMPDIR=/build\n\
            COPY <<-EOF kaem.x86\n\t./hex0 a b\n  ./x y\nEOF\nRUN [\"/build/kaem-minimal\"]\n";
        let p = parse(text).unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(
            p.steps[0].argv,
            vec!["/hex0-seed", "/x86/hex0_x86.hex0", "hex0"]
        );
        assert!(p.steps[0].env.is_empty());
        assert_eq!(p.steps[1].cwd, "/build");
        assert_eq!(p.steps[1].env, vec!["PATH=/build", "TMPDIR=/build"]);
        assert_eq!(
            p.files,
            vec![(
                "/build/kaem.x86".to_string(),
                b"./hex0 a b\n  ./x y\n".to_vec()
            )]
        );
        assert_eq!(p.outputs, vec!["/build"]);
    }

    #[test]
    fn shell_form_run_is_an_error_with_its_line() {
        let e = parse("FROM x\nRUN echo hi\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
