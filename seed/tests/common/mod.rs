//! Helpers shared by the seed integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use seed::SeedFs;

/// The directory named by `var`; without it the (ignored) test fails naming it.
pub fn tree_from_env(var: &str, test: &str) -> PathBuf {
    tree_from_any(&[var], test)
}

/// The directory named by the first of `vars` that is set; without one the (ignored)
/// test fails naming them.
pub fn tree_from_any(vars: &[&str], test: &str) -> PathBuf {
    for var in vars {
        if let Some(p) = std::env::var_os(var) {
            if Path::new(&p).is_dir() {
                return PathBuf::from(p);
            }
        }
    }
    panic!(
        "missing input: {test} needs {} (a stage0-posix tree; STAGE0_NATIVE_TREE = after a native run, e.g. /work/trees/native); this test is ignored unless run with --ignored; README, 'Tests and the upstream tree'",
        vars.join(" or ")
    )
}

/// Reads from a read-only tree, writes into a scratch directory.
pub struct OverlayFs {
    pub tree: PathBuf,
    pub scratch: PathBuf,
    /// Working directory relative to both roots.
    pub cwd: PathBuf,
}

impl OverlayFs {
    /// Where a path written by a tool ends up.
    pub fn scratch_path(&self, path: &str) -> PathBuf {
        self.scratch.join(lexical(&self.cwd.join(path)))
    }
    /// Where a path lies in the tree.
    pub fn tree_path(&self, path: &str) -> PathBuf {
        self.tree.join(lexical(&self.cwd.join(path)))
    }
}

/// Removes `.` and resolves `..` without touching the disk.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl SeedFs for OverlayFs {
    fn read(&mut self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.tree_path(path))
    }
    fn write(&mut self, path: &str, data: &[u8], _mode: u32) -> io::Result<()> {
        let target = self.scratch_path(path);
        std::fs::create_dir_all(target.parent().unwrap())?;
        std::fs::write(target, data)
    }
    fn stdout(&mut self, _data: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn stderr(&mut self, _data: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// One command of a kaem script: the directory it runs in and its words.
#[derive(Debug, Clone)]
pub struct Command {
    pub cwd: PathBuf,
    pub argv: Vec<String>,
}

/// Reads the commands of a kaem script the way kaem runs them here: `#`
/// comments, `\` line continuations, `NAME=value` assignments, `${NAME}`
/// expansion, `cd DIR`. Enough for the stage0-posix x86 scripts.
pub fn kaem_commands(
    script: &str,
    vars: &mut HashMap<String, String>,
    cwd: &mut PathBuf,
) -> Vec<Command> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for raw in joined.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut expanded = String::new();
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            expanded.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .unwrap_or(rest.len() - 1);
            let name = &rest[start + 2..end];
            expanded.push_str(vars.get(name).map(String::as_str).unwrap_or(""));
            rest = &rest[end + 1..];
        }
        expanded.push_str(rest);
        let words: Vec<String> = expanded.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            continue;
        }
        if words.len() == 1 && words[0].contains('=') && !words[0].starts_with('-') {
            let (k, v) = words[0].split_once('=').unwrap();
            vars.insert(k.to_string(), v.trim_matches('"').to_string());
            continue;
        }
        if let Some((k, v)) = expanded.split_once('=') {
            if !k.contains(' ') && !k.is_empty() {
                vars.insert(k.to_string(), v.trim().trim_matches('"').to_string());
                continue;
            }
        }
        if words[0] == "cd" {
            *cwd = lexical(&cwd.join(&words[1]));
            continue;
        }
        out.push(Command {
            cwd: cwd.clone(),
            argv: words,
        });
    }
    out
}

/// Every command of the x86 chain, in order, from the tree's own scripts.
pub fn chain_commands(tree: &Path) -> Vec<Command> {
    let read =
        |p: &str| std::fs::read_to_string(tree.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let mut vars = HashMap::new();
    let mut cwd = PathBuf::new();
    let mut all = kaem_commands(&read("x86/mescc-tools-seed-kaem.kaem"), &mut vars, &mut cwd);
    all.extend(kaem_commands(
        &read("x86/mescc-tools-mini-kaem.kaem"),
        &mut vars,
        &mut cwd,
    ));
    // kaem.run sets the variables the full script uses, then runs it.
    kaem_commands(&read("x86/kaem.run"), &mut vars, &mut cwd);
    let mut cwd = PathBuf::new();
    all.extend(kaem_commands(
        &read("x86/mescc-tools-full-kaem.kaem"),
        &mut vars,
        &mut cwd,
    ));
    all
}
