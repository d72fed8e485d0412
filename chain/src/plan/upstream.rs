//! The upstream layout: the commands of a stage0-posix checkout's kaem.x86.

use std::path::Path;

use super::{read_text, Layout, Plan, Step};

/// The script the top-level kaem runs on x86.
pub const SCRIPT: &str = "kaem.x86";

/// One command per non-blank, non-comment line of kaem.x86, run from the tree's root with
/// an empty environment, as `kaem-optional-seed ./kaem.x86` would run them.
pub fn plan(tree: &Path) -> Result<Plan, super::PlanError> {
    plan_script(&tree.join(SCRIPT))
}

/// The same for any script file of that shape.
pub fn plan_script(script: &Path) -> Result<Plan, super::PlanError> {
    let text = read_text(script)?;
    let steps = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Step {
            argv: l.split_whitespace().map(str::to_string).collect(),
            cwd: "/".into(),
            env: Vec::new(),
        })
        .collect();
    Ok(Plan {
        layout: Layout::Upstream,
        files: Vec::new(),
        steps,
        outputs: vec!["/x86/artifact".into(), "/x86/bin".into()],
        answers: Some("/x86.answers".into()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_commands_and_skips_comments() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(super::SCRIPT), "# c\n\n./a b  c\n  ./d --e\n").unwrap();
        let p = super::plan(d).unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[0].argv, vec!["./a", "b", "c"]);
        assert_eq!(p.steps[1].argv, vec!["./d", "--e"]);
    }
}
