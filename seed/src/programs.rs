//! Which Rust tool stands in for which program of the bootstrap chain.
//!
//! The table lists the program file names the kaem scripts and M2-Mesoplanet
//! run (`mescc-tools-seed-kaem.kaem`, `mescc-tools-mini-kaem.kaem`,
//! `mescc-tools-full-kaem.kaem`; Mesoplanet spawns `M1`, `hex2` and `blood-elf`
//! through `PATH`).

/// Program file name -> Rust tool name.
const PROGRAMS: [(&str, &str); 12] = [
    ("hex0-seed", "hex0"),
    ("hex0", "hex0"),
    ("hex1", "hex1"),
    ("hex2-0", "hex2-0"),
    ("catm", "catm"),
    ("M0", "M0"),
    ("M1-0", "M1"),
    ("M1", "M1"),
    ("hex2-1", "hex2"),
    ("hex2", "hex2"),
    ("blood-elf-0", "blood-elf"),
    ("blood-elf", "blood-elf"),
];

/// Where the chain keeps those programs: the directory's last two components
/// (or its only one, for a relative `./bin` from inside `x86/`). A bare name is
/// a `PATH` lookup (M2-Mesoplanet's children).
const DIRECTORIES: [&[&str]; 5] = [
    &["x86", "artifact"],
    &["x86", "bin"],
    &["POSIX", "x86"],
    &["artifact"],
    &["bin"],
];

fn known_directory(dir: &str) -> bool {
    let absolute = dir.starts_with('/');
    let parts: Vec<&str> = dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        return !absolute;
    }
    DIRECTORIES.iter().any(|suffix| {
        parts.ends_with(suffix) && (suffix.len() == 2 || (parts.len() == 1 && !absolute))
    })
}

/// The Rust tool that reproduces the program at `path` (as written in a kaem
/// script or passed to execve), e.g. `./x86/artifact/hex2-0` -> `hex2-0`,
/// `./x86/bin/M1` -> `M1`, `bootstrap-seeds/POSIX/x86/hex0-seed` -> `hex0`.
pub fn tool_for_program(path: &str) -> Option<&'static str> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if !known_directory(dir) {
        return None;
    }
    PROGRAMS
        .iter()
        .find(|(program, _)| *program == name)
        .map(|(_, tool)| *tool)
}

#[cfg(test)]
mod tests {
    use super::tool_for_program;

    #[test]
    fn chain_paths() {
        let cases = [
            ("./bootstrap-seeds/POSIX/x86/hex0-seed", Some("hex0")),
            ("./x86/artifact/hex0", Some("hex0")),
            ("./x86/artifact/hex1", Some("hex1")),
            ("./x86/artifact/hex2-0", Some("hex2-0")),
            ("./x86/artifact/catm", Some("catm")),
            ("./x86/artifact/M0", Some("M0")),
            ("./x86/artifact/M1-0", Some("M1")),
            ("./x86/artifact/hex2-1", Some("hex2")),
            ("./x86/artifact/blood-elf-0", Some("blood-elf")),
            ("./artifact/blood-elf-0", Some("blood-elf")),
            ("./x86/bin/M1", Some("M1")),
            ("./bin/hex2", Some("hex2")),
            ("./bin/blood-elf", Some("blood-elf")),
            ("../x86/bin/catm", Some("catm")),
            ("M1", Some("M1")),
            ("hex2", Some("hex2")),
            ("./x86/artifact/kaem-0", None),
            ("./x86/artifact/M2", None),
            ("./x86/artifact/cc_x86", None),
            ("./bootstrap-seeds/POSIX/x86/kaem-optional-seed", None),
            ("/usr/bin/catm", None),
            ("/x86/bin/M1", Some("M1")),
            ("./x86/hex0", None),
        ];
        for (path, want) in cases {
            assert_eq!(tool_for_program(path), want, "{path}");
        }
    }
}
