//! What each program of the chain is for, in a sentence or two (for `step` and `report`).

/// Program file name → its role in the chain.
const ROLES: &[(&str, &str)] = &[
    ("kaem-optional-seed", "The seed shell: a small hand-written program that runs each line of a kaem script as a command. It starts the whole chain."),
    ("hex0-seed", "The seed assembler: a tiny hand-written program that turns pairs of hex digits into bytes, skipping # and ; comments. Everything else is built from source starting here."),
    ("hex0", "The hex0 assembler, rebuilt from its commented source hex0_x86.hex0 (byte for byte the seed): it assembles the hand-written hex0 texts of kaem-0 and hex1."),
    ("kaem-0", "The minimal kaem shell built from kaem-minimal.hex0; it runs mescc-tools-mini-kaem.kaem, the script of the next stages."),
    ("hex1", "hex0 plus one-character labels (:a) and 32-bit relative pointers (%a), so code no longer needs hand-computed jump offsets."),
    ("hex2-0", "The first linker: named labels and 1-, 2- and 4-byte relative and absolute pointers, always linked at 0x08048000."),
    ("catm", "Concatenates files (output first, then inputs): joins an ELF header with a program's body, or C sources into one file."),
    ("M0", "The hand-written macro assembler: DEFINE names for instruction bytes, strings and numbers, turning M1 assembly into hex2 text."),
    ("cc_x86", "A C compiler written in M1 assembly; it compiles the C subset that M2-Planet is written in to M1 assembly."),
    ("M2", "M2-Planet built by cc_x86: a compiler for a C subset, emitting M1 assembly; it builds the remaining C tools."),
    ("blood-elf-0", "Writes the ELF symbol table and debug footer (as M1) for a program's labels, so the linked binary has symbols."),
    ("blood-elf", "Writes the ELF symbol table and debug footer (as M1) for a program's labels, so the linked binary has symbols."),
    ("M1-0", "The C macro assembler (mescc-tools M1) built by M2: M1 assembly to hex2, with full number and string handling."),
    ("M1", "The C macro assembler (mescc-tools M1): M1 assembly to hex2 text."),
    ("hex2-1", "The C linker (mescc-tools hex2): links hex2 files at a base address into an executable."),
    ("hex2", "The C linker (mescc-tools hex2): links hex2 files at a base address into an executable."),
    ("kaem", "The full kaem shell (variables, quoting, built-ins); it runs the later build scripts."),
    ("M2-Planet", "The final M2-Planet C compiler, rebuilt by the chain's own tools; it compiles mescc-tools and mescc-tools-extra."),
    ("M2-Mesoplanet", "M2-Planet's driver with a preprocessor: compiles, assembles and links a C program in one command."),
    ("get_machine", "Reports the machine architecture, so scripts can pick per-architecture files."),
    ("sha256sum", "Checks the SHA-256 of every built file against x86.answers: the chain's verdict."),
    ("mkdir", "mescc-tools-extra mkdir: creates directories for the installed tools."),
    ("cp", "mescc-tools-extra cp: copies built tools into place."),
    ("chmod", "mescc-tools-extra chmod: marks installed tools executable."),
    ("rm", "mescc-tools-extra rm: removes intermediate files."),
    ("match", "mescc-tools-extra match: compares two strings, for conditions in kaem scripts."),
    ("replace", "mescc-tools-extra replace: substitutes text in a file."),
    ("untar", "mescc-tools-extra untar: unpacks tar archives."),
    ("ungz", "mescc-tools-extra ungz: decompresses gzip files."),
    ("unbz2", "mescc-tools-extra unbz2: decompresses bzip2 files."),
    ("unxz", "mescc-tools-extra unxz: decompresses xz files."),
    ("wrap", "mescc-tools-extra wrap: runs a command in a fresh namespace."),
];

/// The role of the program at `exe` (any path; matched by file name).
pub fn role(exe: &str) -> Option<&'static str> {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    ROLES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The role, or a plain note that this program is not one of the chain's known tools.
pub fn role_or_unknown(exe: &str) -> &'static str {
    role(exe).unwrap_or("A program this guide has no description for.")
}

#[cfg(test)]
mod tests {
    #[test]
    fn roles_match_by_file_name() {
        assert!(super::role("./x86/artifact/hex1")
            .unwrap()
            .contains("labels"));
        assert!(super::role("/bootstrap-seeds/POSIX/x86/hex0-seed").is_some());
        assert!(super::role("/x86/bin/nonesuch").is_none());
    }
}
