//! The StageX build graph the way `src/targets.py` generates `out/targets.mk`: one target
//! per package directory with a Containerfile and a package.toml (one per subpackage when
//! `subpackages` is set), edges from the Containerfile scan, versions from `version_from`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::containerfile::stagex_deps;
use crate::error::{Error, Result};
use crate::package::PackageToml;

/// One build target (`out/<stage>-<name>/index.json`).
#[derive(Debug, Clone)]
pub struct Target {
    /// Namespace directory (`bootstrap`, `core`, `pallet`, `user`).
    pub stage: String,
    /// Target name: the package directory, or the subpackage name.
    pub name: String,
    /// The package directory (`packages/<stage>/<origin>`) the target is built from.
    pub origin: String,
    /// The version after `version_from` resolution (`None` means `latest`).
    pub version: Option<String>,
    /// `<stage>-<name>` of every dependency, in Containerfile order, duplicates kept.
    pub deps: Vec<String>,
    /// The parsed package.toml.
    pub package: PackageToml,
}

impl Target {
    /// `<stage>-<name>`, the name used in `out/` and in `stagex/...` references.
    pub fn id(&self) -> String {
        format!("{}-{}", self.stage, self.name)
    }

    /// The directory holding the Containerfile.
    pub fn dir(&self, stagex: &Path) -> PathBuf {
        stagex.join("packages").join(&self.stage).join(&self.origin)
    }
}

/// All targets of a StageX tree, keyed by `<stage>-<name>`.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Targets by id.
    pub targets: BTreeMap<String, Target>,
    /// Package directories skipped because they lack a package.toml.
    pub skipped: Vec<PathBuf>,
}

impl Graph {
    /// Loads `packages/<stage>/<name>/{Containerfile,package.toml}` under `stagex`.
    pub fn load(stagex: &Path) -> Result<Self> {
        let packages = stagex.join("packages");
        let mut targets = BTreeMap::new();
        let mut skipped = Vec::new();
        for stage in sorted_dirs(&packages)? {
            for dir in sorted_dirs(&packages.join(&stage))? {
                let pkg_dir = packages.join(&stage).join(&dir);
                let containerfile = pkg_dir.join("Containerfile");
                if !containerfile.is_file() {
                    continue;
                }
                let toml_path = pkg_dir.join("package.toml");
                if !toml_path.is_file() {
                    skipped.push(pkg_dir);
                    continue;
                }
                let package = PackageToml::read(&toml_path)?;
                let text = std::fs::read_to_string(&containerfile)
                    .map_err(|e| Error::io(&containerfile, e))?;
                let deps = stagex_deps(&text);
                let names = if package.package.subpackages.is_empty() {
                    vec![dir.clone()]
                } else {
                    package.package.subpackages.clone()
                };
                for name in names {
                    let t = Target {
                        stage: stage.clone(),
                        name,
                        origin: if package.package.subpackages.is_empty() {
                            dir.clone()
                        } else {
                            package.package.name.clone()
                        },
                        version: package.package.version.clone(),
                        deps: deps.clone(),
                        package: package.clone(),
                    };
                    targets.insert(t.id(), t);
                }
            }
        }
        let mut graph = Graph { targets, skipped };
        graph.resolve_versions()?;
        Ok(graph)
    }

    /// Applies `version_from = "stage-name"` (targets.py splits on the single dash).
    fn resolve_versions(&mut self) -> Result<()> {
        let mut updates = Vec::new();
        for (id, t) in &self.targets {
            if let Some(from) = &t.package.package.version_from {
                let src = self.targets.get(from).ok_or_else(|| {
                    Error::Tree(format!("{id}: version_from {from:?} names no target"))
                })?;
                updates.push((id.clone(), src.version.clone()));
            }
        }
        for (id, v) in updates {
            if let Some(t) = self.targets.get_mut(&id) {
                t.version = v;
            }
        }
        Ok(())
    }

    /// Dependencies that name no target, as `(target, missing dep)`.
    pub fn missing_deps(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (id, t) in &self.targets {
            for d in &t.deps {
                if !self.targets.contains_key(d) {
                    out.push((id.clone(), d.clone()));
                }
            }
        }
        out
    }

    /// Distinct dependency edges between existing targets.
    pub fn edge_count(&self) -> usize {
        self.targets
            .values()
            .map(|t| {
                t.deps
                    .iter()
                    .filter(|d| self.targets.contains_key(*d))
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .sum()
    }

    /// Each target's level: 0 without dependencies, else 1 + the highest dependency level.
    /// A cycle is an error naming a target on it.
    pub fn levels(&self) -> Result<BTreeMap<String, usize>> {
        let mut level: BTreeMap<String, usize> = BTreeMap::new();
        for id in self.targets.keys() {
            self.level_of(id, &mut level, &mut Vec::new())?;
        }
        Ok(level)
    }

    fn level_of(
        &self,
        id: &str,
        memo: &mut BTreeMap<String, usize>,
        path: &mut Vec<String>,
    ) -> Result<usize> {
        if let Some(&l) = memo.get(id) {
            return Ok(l);
        }
        if path.iter().any(|p| p == id) {
            return Err(Error::Tree(format!(
                "dependency cycle: {} -> {id}",
                path.join(" -> ")
            )));
        }
        path.push(id.to_string());
        let mut l = 0;
        for d in &self.targets[id].deps {
            if self.targets.contains_key(d) {
                l = l.max(self.level_of(d, memo, path)? + 1);
            }
        }
        path.pop();
        memo.insert(id.to_string(), l);
        Ok(l)
    }

    /// Targets grouped by level, each group sorted.
    pub fn by_level(&self) -> Result<Vec<Vec<String>>> {
        let levels = self.levels()?;
        let mut out: Vec<Vec<String>> =
            vec![Vec::new(); levels.values().max().map_or(0, |m| m + 1)];
        for (id, l) in levels {
            out[l].push(id);
        }
        Ok(out)
    }

    /// Graphviz text of the graph (edges point from a target to its dependencies).
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph stagex {\n  rankdir=LR;\n");
        for (id, t) in &self.targets {
            let _ = writeln!(s, "  \"{id}\";");
            for d in t.deps.iter().collect::<BTreeSet<_>>() {
                let _ = writeln!(s, "  \"{id}\" -> \"{d}\";");
            }
        }
        s.push_str("}\n");
        s
    }
}

fn sorted_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_dir()
        {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}
