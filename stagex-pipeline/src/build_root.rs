//! Lays out the root file system a Containerfile's build stages run in, from the fetched
//! sources, without a container engine: what BuildKit's `ADD` and `COPY --from` lines do
//! before the first `RUN`.
//!
//! Model (enough for `packages/bootstrap/stage0`): stages without `RUN` are source stages
//! with a file system of their own (`ADD fetch/X.tar.gz .` unpacks there); all stages with
//! `RUN` share one root, so `COPY --from=<build stage> /build/ /build/` is a no-op and
//! `COPY --from=<source stage> SRC DEST` copies SRC's contents to DEST in the root.
//! `RUN`, `WORKDIR`, `ENV` and heredoc `COPY` are left to whoever runs the stages.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::build_args::expand_args;
use crate::containerfile::{Containerfile, Instruction, Stage};
use crate::error::{Error, Result};

/// Where an `ADD` without `--from` reads: the package directory and the `fetch` context.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The package directory (`packages/<stage>/<origin>`), the main build context.
    pub package_dir: PathBuf,
    /// `fetch/<stage>/<origin>`, passed as `--build-context fetch=...`.
    pub fetch_dir: PathBuf,
}

impl BuildContext {
    fn resolve(&self, src: &str) -> PathBuf {
        match src.strip_prefix("fetch/") {
            Some(rest) => self.fetch_dir.join(rest),
            None => self.package_dir.join(src.trim_start_matches("./")),
        }
    }
}

/// What [`lay_out`] did, in order (for reports and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Containerfile line.
    pub line: usize,
    /// E.g. `unpack fetch/x.tar.gz -> sources:/` or `copy sources:/x-1 -> /x86`.
    pub action: String,
}

fn stage_label(stage: &Stage, index: usize) -> String {
    stage.name.clone().unwrap_or_else(|| index.to_string())
}

fn is_source_stage(stage: &Stage) -> bool {
    !stage.instructions.iter().any(|i| i.keyword == "RUN")
}

fn in_dir(dir: &Path, abs: &str) -> PathBuf {
    dir.join(abs.trim_start_matches('/'))
}

/// Lays out `work/root` (and `work/stage-<name>` for source stages) for every stage but the
/// last (the exported one), with `${ARG}`s expanded from `args`. Returns the root and
/// what was placed.
pub fn lay_out(
    cf: &Containerfile,
    ctx: &BuildContext,
    args: &BTreeMap<String, String>,
    work: &Path,
) -> Result<(PathBuf, Vec<Placed>)> {
    let root = work.join("root");
    if root.exists() {
        return Err(Error::Image(format!(
            "{} already exists; lay out into a fresh directory",
            root.display()
        )));
    }
    mkdir(&root)?;
    let mut stage_dirs: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut placed = Vec::new();
    let build_stages = cf.stages.len().saturating_sub(1);
    for (index, stage) in cf.stages[..build_stages].iter().enumerate() {
        let label = stage_label(stage, index);
        let dir = if is_source_stage(stage) {
            let d = work.join(format!("stage-{label}"));
            mkdir(&d)?;
            d
        } else {
            root.clone()
        };
        stage_dirs.insert(label.clone(), dir.clone());
        let mut cwd = "/".to_string();
        for inst in &stage.instructions {
            // Only paths are expanded: RUN text is the runner's, and may use shell syntax.
            let expanded: Vec<String> = match inst.keyword.as_str() {
                "ADD" | "COPY" | "WORKDIR" if inst.heredoc.is_none() => inst
                    .args
                    .iter()
                    .map(|a| expand_args(a, args))
                    .collect::<Result<_>>()?,
                _ => Vec::new(),
            };
            match inst.keyword.as_str() {
                "WORKDIR" => {
                    if let Some(d) = expanded.first() {
                        cwd = join(&cwd, d);
                    }
                }
                "ADD" if inst.flag("from").is_none() => {
                    let (src, dest) = src_dest(inst, &expanded)?;
                    let host = ctx.resolve(src);
                    let target = in_dir(&dir, &join(&cwd, dest));
                    let action = add(&host, &target, dest.ends_with('/') || dest == ".")?;
                    placed.push(Placed {
                        line: inst.line,
                        action: format!("{action} {src} -> {label}:{}", join(&cwd, dest)),
                    });
                }
                "COPY" if inst.heredoc.is_none() => {
                    let Some(from) = inst.flag("from") else {
                        return Err(not_modelled(cf, inst, "COPY from the build context"));
                    };
                    let (src, dest) = src_dest(inst, &expanded)?;
                    let from_dir = stage_dirs
                        .get(from)
                        .ok_or_else(|| not_modelled(cf, inst, "COPY --from an image"))?;
                    let dest_abs = join(&cwd, dest);
                    if from_dir == &dir {
                        if src.trim_end_matches('/') != dest_abs.trim_end_matches('/') {
                            return Err(not_modelled(
                                cf,
                                inst,
                                "COPY between build stages to another path",
                            ));
                        }
                        continue;
                    }
                    let from_host = in_dir(from_dir, src);
                    copy_tree(&from_host, &in_dir(&dir, &dest_abs))?;
                    placed.push(Placed {
                        line: inst.line,
                        action: format!("copy {from}:{src} -> {label}:{dest_abs}"),
                    });
                }
                "ADD" => return Err(not_modelled(cf, inst, "ADD --from")),
                _ => {}
            }
        }
    }
    Ok((root, placed))
}

fn not_modelled(cf: &Containerfile, inst: &Instruction, what: &str) -> Error {
    Error::Containerfile {
        path: cf.path.clone(),
        line: inst.line,
        message: format!("{what} is not modelled without a container engine"),
    }
}

fn src_dest<'a>(inst: &Instruction, args: &'a [String]) -> Result<(&'a str, &'a str)> {
    match args {
        [src, dest] => Ok((src, dest)),
        _ => Err(Error::Image(format!(
            "line {}: {} with {} arguments; only SRC DEST is modelled",
            inst.line,
            inst.keyword,
            args.len()
        ))),
    }
}

fn join(cwd: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else if p == "." {
        cwd.to_string()
    } else {
        format!("{}/{}", cwd.trim_end_matches('/'), p)
    }
}

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))
}

/// `ADD` of a local file: gzip'd or plain tar archives are unpacked into `target`, other
/// files are copied (into `target` when it is a directory).
fn add(host: &Path, target: &Path, target_is_dir: bool) -> Result<&'static str> {
    let bytes = std::fs::read(host).map_err(|e| Error::io(host, e))?;
    let name = host.to_string_lossy();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        unpack(flate2::read::GzDecoder::new(&bytes[..]), host, target)?;
        return Ok("unpack");
    }
    if name.ends_with(".tar") {
        unpack(&bytes[..], host, target)?;
        return Ok("unpack");
    }
    let dest = if target_is_dir {
        mkdir(target)?;
        target.join(host.file_name().unwrap_or_default())
    } else {
        target.to_path_buf()
    };
    std::fs::write(&dest, &bytes).map_err(|e| Error::io(&dest, e))?;
    let mode = std::fs::metadata(host)
        .map_err(|e| Error::io(host, e))?
        .permissions()
        .mode();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(&dest, e))?;
    Ok("add")
}

fn unpack(reader: impl std::io::Read, archive: &Path, target: &Path) -> Result<()> {
    mkdir(target)?;
    let mut tar = ::tar::Archive::new(reader);
    tar.set_preserve_permissions(true);
    tar.unpack(target).map_err(|e| Error::io(archive, e))
}

/// Copies the contents of directory `src` into `dest` (or the file `src` to `dest`),
/// keeping modes and symlinks, merging into what is there.
pub fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
    if meta.is_dir() {
        mkdir(dest)?;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .map_err(|e| Error::io(src, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            copy_tree(&e.path(), &dest.join(e.file_name()))?;
        }
        std::fs::set_permissions(dest, meta.permissions()).map_err(|e| Error::io(dest, e))
    } else if meta.file_type().is_symlink() {
        let link = std::fs::read_link(src).map_err(|e| Error::io(src, e))?;
        let _ = std::fs::remove_file(dest);
        std::os::unix::fs::symlink(&link, dest).map_err(|e| Error::io(dest, e))
    } else {
        std::fs::copy(src, dest).map_err(|e| Error::io(dest, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut h = ::tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    const CF: &str = "FROM scratch AS sources\nARG S\nADD fetch/${S} .\n\
FROM scratch AS seeds\nARG V\nCOPY --from=sources /p-${V} /x86\nADD seed /\nWORKDIR /build\nRUN [\"/seed\"]\n\
FROM scratch AS build\nCOPY --from=seeds /build/ /build/\nCOPY --from=sources /p-${V} /x86\nRUN [\"/x\"]\n\
FROM scratch AS package\nCOPY --from=build /build/out /bin/\n";

    #[test]
    fn unpacks_sources_and_copies_them_into_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = BuildContext {
            package_dir: dir.path().join("pkg"),
            fetch_dir: dir.path().join("fetch"),
        };
        mkdir(&ctx.package_dir).unwrap();
        mkdir(&ctx.fetch_dir).unwrap();
        std::fs::write(ctx.package_dir.join("seed"), b"SEED").unwrap();
        std::fs::set_permissions(
            ctx.package_dir.join("seed"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let gz = tar_gz(&[("p-1/a.hex0", b"00", 0o644), ("p-1/sub/b", b"bb", 0o600)]);
        std::fs::write(ctx.fetch_dir.join("p.tar.gz"), gz).unwrap();
        let cf = Containerfile::parse(CF, Path::new("C")).unwrap();
        let args = BTreeMap::from([
            ("S".to_string(), "p.tar.gz".to_string()),
            ("V".to_string(), "1".to_string()),
        ]);
        let work = dir.path().join("work");
        let (root, placed) = lay_out(&cf, &ctx, &args, &work).unwrap();
        assert_eq!(std::fs::read(root.join("x86/a.hex0")).unwrap(), b"00");
        assert_eq!(std::fs::read(root.join("x86/sub/b")).unwrap(), b"bb");
        let seed = std::fs::metadata(root.join("seed")).unwrap();
        assert_eq!(seed.permissions().mode() & 0o777, 0o755);
        let actions: Vec<&str> = placed.iter().map(|p| p.action.as_str()).collect();
        assert_eq!(
            actions,
            vec![
                "unpack fetch/p.tar.gz -> sources:/",
                "copy sources:/p-1 -> seeds:/x86",
                "add seed -> seeds:/",
                "copy sources:/p-1 -> build:/x86",
            ]
        );
        // A second lay-out into the same work directory is refused.
        assert!(lay_out(&cf, &ctx, &args, &work).is_err());
    }

    #[test]
    fn unknown_arg_and_image_copies_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = BuildContext {
            package_dir: dir.path().into(),
            fetch_dir: dir.path().into(),
        };
        let cf = Containerfile::parse(CF, Path::new("C")).unwrap();
        let e = lay_out(&cf, &ctx, &BTreeMap::new(), &dir.path().join("w1")).unwrap_err();
        assert!(e.to_string().contains("no build argument S"), "{e}");
        let img = "FROM scratch AS b\nCOPY --from=stagex/core-gcc . /\nRUN [\"x\"]\nFROM scratch\n";
        let cf = Containerfile::parse(img, Path::new("C")).unwrap();
        let e = lay_out(&cf, &ctx, &BTreeMap::new(), &dir.path().join("w2")).unwrap_err();
        assert!(e.to_string().starts_with("C:2:"), "{e}");
    }
}
