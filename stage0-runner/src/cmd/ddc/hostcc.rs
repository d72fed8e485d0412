//! A second toolchain for diverse double compilation: the chain's C-level tools built from
//! the tree's own sources with the host's C compiler (`cc` on `PATH`), following the
//! upstream makefiles (host libc, `-D_GNU_SOURCE -std=c99`).
//!
//! By default the sources are first given M2-Planet's meaning of `&&` and `||` (see
//! [`super::m2c`]): the chain compiles them with M2-Planet, and under ISO C the
//! host-compiled M2-Planet emits other (shorter) x86 encodings than the chain's.
//! The translated copies go to the output directory; the tree is only read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One tool: where its sources live in the tree and what the makefile compiles.
pub struct HostTool {
    /// Program name, as the chain installs it in `x86/bin`.
    pub name: &'static str,
    /// Source directory, relative to the tree.
    pub dir: &'static str,
    /// C files, relative to `dir` (`bootstrappable.c` comes from the tree's `M2libc`).
    pub sources: &'static [&'static str],
    /// Flags from the makefile (debug info and warnings left out: they do not change code).
    pub flags: &'static [&'static str],
}

const PLANET: &[&str] = &["-D_GNU_SOURCE", "-O0", "-std=c99"];
const MESCC: &[&str] = &["-D_GNU_SOURCE", "-std=c99", "-fno-common"];
const KAEM: &[&str] = &["-D_GNU_SOURCE", "-std=c99"];

/// M2-Planet/makefile, M2-Mesoplanet/makefile, mescc-tools/makefile, mescc-tools/Kaem/makefile.
pub const TOOLS: [HostTool; 6] = [
    HostTool {
        name: "M2-Planet",
        dir: "M2-Planet",
        sources: &[
            "cc_reader.c",
            "cc_strings.c",
            "cc_types.c",
            "cc_emit.c",
            "cc_core.c",
            "cc_macro.c",
            "cc.c",
            "cc_globals.c",
        ],
        flags: PLANET,
    },
    HostTool {
        name: "M2-Mesoplanet",
        dir: "M2-Mesoplanet",
        sources: &[
            "cc_reader.c",
            "cc_core.c",
            "cc_macro.c",
            "cc_env.c",
            "cc_spawn.c",
            "cc.c",
            "cc_globals.c",
        ],
        flags: PLANET,
    },
    HostTool {
        name: "M1",
        dir: "mescc-tools",
        sources: &["M1-macro.c", "stringify.c"],
        flags: MESCC,
    },
    HostTool {
        name: "hex2",
        dir: "mescc-tools",
        sources: &["hex2.c", "hex2_linker.c", "hex2_word.c"],
        flags: MESCC,
    },
    HostTool {
        name: "blood-elf",
        dir: "mescc-tools",
        sources: &["blood-elf.c", "stringify.c"],
        flags: MESCC,
    },
    HostTool {
        name: "kaem",
        dir: "mescc-tools",
        sources: &["Kaem/kaem.c", "Kaem/kaem_globals.c", "Kaem/variable.c"],
        flags: KAEM,
    },
];

/// Which meaning the host compiler gives the tools' sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Dialect {
    /// M2-Planet's: `&&` and `||` are bitwise (the sources are translated first).
    #[default]
    M2,
    /// ISO C's, as the upstream makefiles build them (the sources compiled as they are).
    Iso,
}

/// Why the host toolchain could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HostCcError {
    #[error("no C compiler: `cc` is not on PATH")]
    NoCompiler,
    #[error("creating {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot give it M2-Planet's meaning: {source}")]
    Dialect {
        path: PathBuf,
        source: super::m2c::DialectError,
    },
    #[error("building {tool} with {cc}: {detail}")]
    Compile {
        tool: &'static str,
        cc: String,
        detail: String,
    },
}

/// The host-compiled tools, by program name.
#[derive(Debug, Clone)]
pub struct HostToolchain {
    pub cc: PathBuf,
    /// The directory holding them (M2-Mesoplanet's `PATH`).
    pub dir: PathBuf,
    pub tools: BTreeMap<String, PathBuf>,
    pub dialect: Dialect,
}

/// `cc` on `PATH`, if any.
pub fn find_cc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("cc"))
        .find(|p| p.is_file())
}

/// The source file to compile for `rel` (relative to the tree): the tree's own file, or
/// under [`Dialect::M2`] its translation in `out/src/rel`.
fn source(tree: &Path, rel: &Path, out: &Path, dialect: Dialect) -> Result<PathBuf, HostCcError> {
    let original = tree.join(rel);
    if dialect == Dialect::Iso {
        return Ok(original);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HostCcError::Io { path, source }
    };
    let text = std::fs::read_to_string(&original).map_err(io(&original))?;
    let translated = super::m2c::to_host_c(&text).map_err(|source| HostCcError::Dialect {
        path: original.clone(),
        source,
    })?;
    let copy = out.join("src").join(rel);
    if let Some(dir) = copy.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(&copy, translated.text).map_err(io(&copy))?;
    Ok(copy)
}

/// Builds every tool of [`TOOLS`] from `tree`'s sources into `out`.
pub fn build(tree: &Path, out: &Path, dialect: Dialect) -> Result<HostToolchain, HostCcError> {
    let cc = find_cc().ok_or(HostCcError::NoCompiler)?;
    std::fs::create_dir_all(out).map_err(|source| HostCcError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut tools = BTreeMap::new();
    for t in &TOOLS {
        let exe = out.join(t.name);
        let dir = tree.join(t.dir);
        let mut rels = vec![PathBuf::from("M2libc/bootstrappable.c")];
        rels.extend(t.sources.iter().map(|s| Path::new(t.dir).join(s)));
        let mut files = Vec::new();
        for rel in &rels {
            files.push(source(tree, rel, out, dialect)?);
        }
        // The submodules' own M2libc is empty in a stage0-posix checkout; the tree's
        // top-level M2libc is the one the chain uses, so `-I tree` finds "M2libc/...".
        let mut cmd = Command::new(&cc);
        cmd.args(t.flags)
            .arg("-I")
            .arg(tree)
            // kaem.h says "../M2libc/...": from the tool's directory that is the tree's.
            .arg("-I")
            .arg(&dir);
        // A translated copy finds its quoted includes ("kaem.h" next to Kaem/kaem.c) in
        // the tree. Only directories inside the tool's: the tree's M2libc has its own
        // stdio.h and must not hide the host's.
        let mut parents: Vec<PathBuf> = rels
            .iter()
            .filter_map(|r| tree.join(r).parent().map(Path::to_path_buf))
            .filter(|p| p.starts_with(&dir) && *p != dir)
            .collect();
        parents.dedup();
        for p in parents {
            cmd.arg("-I").arg(p);
        }
        cmd.args(&files).arg("-o").arg(&exe);
        let compile_error = |detail: String| HostCcError::Compile {
            tool: t.name,
            cc: cc.display().to_string(),
            detail,
        };
        let output = cmd.output().map_err(|e| compile_error(e.to_string()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(compile_error(format!(
                "{}\n{}",
                output.status,
                stderr.lines().take(20).collect::<Vec<_>>().join("\n")
            )));
        }
        tools.insert(t.name.to_string(), exe);
    }
    Ok(HostToolchain {
        cc,
        dir: out.to_path_buf(),
        tools,
        dialect,
    })
}
