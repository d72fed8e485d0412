//! The chain told as a story: which stage each step belongs to, what each stage adds to
//! the language, and what a step does in the chain (not just what its program is).

/// One stage of the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// Short name, also the anchor (`stage-<id>`).
    pub id: &'static str,
    pub title: &'static str,
    /// What this stage adds to what came before.
    pub adds: &'static str,
}

/// The stages in order. A step belongs to the stage of the newest tool that ran so far
/// (see [`classify`]); a chain that never runs one of these tools stays in the first.
pub const STAGES: &[Stage] = &[
    Stage {
        id: "seed",
        title: "The seed: 181 bytes",
        adds: "Two hand-checked binaries start everything: kaem-optional-seed runs the commands of a script, and hex0-seed turns pairs of hex digits into bytes, skipping # and ; comments. Its first job is to rebuild hex0 from its commented source.",
    },
    Stage {
        id: "hex0",
        title: "hex0: bytes from commented hex",
        adds: "The same language, now a binary built from source instead of trusted: every byte of every later tool is written out by hand as two hex digits, with comments. hex0 builds the minimal shell kaem-0 and hex1.",
    },
    Stage {
        id: "hex1",
        title: "hex1: labels and relative pointers",
        adds: "One-character labels (:a) and 32-bit relative pointers (%a): the assembler counts the jump distances, so code can be edited without recomputing every offset by hand.",
    },
    Stage {
        id: "hex2",
        title: "hex2: named labels and absolute pointers",
        adds: "Labels with names, and 1-, 2- and 4-byte pointers, relative (!@%) or absolute (&): a real linker, always linking at 0x08048000.",
    },
    Stage {
        id: "catm",
        title: "catm: joining files",
        adds: "Concatenation, so one ELF header file can be shared by every program instead of copied into each source.",
    },
    Stage {
        id: "M0",
        title: "M0: macros",
        adds: "DEFINE: names for instruction bytes, plus numbers and strings. Programs are now written as readable assembly (M1) and turned into hex2.",
    },
    Stage {
        id: "cc_x86",
        title: "cc_x86: C",
        adds: "A compiler for a subset of C, written in M1 assembly. It compiles M2-Planet, the first compiler written in C.",
    },
    Stage {
        id: "M2-Planet",
        title: "M2-Planet: C compiling C",
        adds: "M2-Planet (built by cc_x86) compiles the C sources of the real tools: blood-elf, M1, hex2 and kaem, each assembled and linked by the tools before it.",
    },
    Stage {
        id: "mescc-tools",
        title: "mescc-tools: the tools rebuild themselves",
        adds: "The full kaem shell runs the rest. M2-Mesoplanet, M2-Planet, blood-elf and get_machine are rebuilt with the C tools, no hand-written program involved any more.",
    },
    Stage {
        id: "mescc-tools-extra",
        title: "mescc-tools-extra: a small userland",
        adds: "M2-Mesoplanet compiles, assembles and links sha256sum, mkdir, cp, untar and the other small tools in one command each.",
    },
    Stage {
        id: "answers",
        title: "The answers check",
        adds: "sha256sum -c compares every built file with the published answers: the chain's verdict, computed by a program the chain itself built.",
    },
];

/// The stage a program's start moves the story to, by its guest path.
fn trigger(exe: &str, argv: &[String]) -> Option<usize> {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    let in_bin = exe.contains("/bin/");
    let stage = match name {
        "kaem-optional-seed" | "hex0-seed" => "seed",
        "hex0" => "hex0",
        "hex1" => "hex1",
        "hex2-0" => "hex2",
        "catm" if !in_bin => "catm",
        "M0" => "M0",
        "cc_x86" => "cc_x86",
        "M2" => "M2-Planet",
        "kaem" if in_bin => {
            if argv.iter().any(|a| a.contains("mescc-tools-extra")) {
                "mescc-tools-extra"
            } else {
                "mescc-tools"
            }
        }
        "sha256sum" if argv.iter().any(|a| a == "-c" || a == "--check") => "answers",
        _ => return None,
    };
    STAGES.iter().position(|s| s.id == stage)
}

/// The stage of every step: the newest stage any program so far moved the story to (a
/// stage never goes back: hex2-0 linking M2 still belongs to the cc_x86 stage).
pub fn classify<'a>(steps: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Vec<usize> {
    let mut current = 0;
    steps
        .into_iter()
        .map(|(exe, argv)| {
            if let Some(s) = trigger(exe, argv) {
                current = current.max(s);
            }
            current
        })
        .collect()
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// What one step does in the chain, in a sentence: the program's verb applied to the
/// files it read and wrote (`reads` excludes the program itself).
pub fn describe(exe: &str, argv: &[String], reads: &[&str], writes: &[&str]) -> String {
    let name = base(exe);
    let list = |v: &[&str]| -> String {
        match v.len() {
            0 => "nothing".to_string(),
            1..=3 => v.iter().map(|p| base(p)).collect::<Vec<_>>().join(" + "),
            n => format!(
                "{} and {} more files",
                v[..2]
                    .iter()
                    .map(|p| base(p))
                    .collect::<Vec<_>>()
                    .join(", "),
                n - 2
            ),
        }
    };
    let (ins, outs) = (list(reads), list(writes));
    let script = argv
        .iter()
        .skip(1)
        .find(|a| a.ends_with(".kaem") || a.ends_with(".run"));
    match name {
        "hex0-seed" | "hex0" if writes.iter().any(|w| base(w) == "hex0") => format!(
            "{name} assembles {ins}, the commented source of hex0 itself, into {outs}: the seed rebuilt from source, so its bytes can be checked against the text."
        ),
        "hex0-seed" | "hex0" => format!("{name} assembles the hex0 text {ins} into {outs}."),
        "hex1" => format!("hex1 assembles {ins} (hex with one-character labels) into {outs}."),
        "hex2-0" | "hex2" | "hex2-1" => format!("{name} links {ins} into the executable {outs}."),
        "catm" => format!("{name} joins {ins} into {outs}."),
        "M0" | "M1" | "M1-0" => format!("{name} expands the macros of {ins} into hex2 text {outs}."),
        "cc_x86" => format!("cc_x86 compiles the C of {ins} into M1 assembly {outs}."),
        "M2" | "M2-Planet" => format!("{name} compiles {ins} into M1 assembly {outs}."),
        "blood-elf" | "blood-elf-0" => {
            format!("{name} writes the symbol table and debug footer of {ins} as {outs}.")
        }
        "M2-Mesoplanet" => format!(
            "M2-Mesoplanet preprocesses {ins} and drives M2-Planet, blood-elf, M1 and hex2 to make {outs}."
        ),
        "sha256sum" if argv.iter().any(|a| a == "-c") => format!(
            "sha256sum checks the hash of every file listed in {} against the answers.",
            argv.last().map(String::as_str).unwrap_or("the answers")
        ),
        "kaem-optional-seed" | "kaem-0" | "kaem" => match script {
            Some(s) => format!("{name} runs the commands of {}, one program at a time.", base(s)),
            None => format!("{name} runs a script of commands."),
        },
        _ if !writes.is_empty() => format!("{name} reads {ins} and writes {outs}."),
        _ if !reads.is_empty() => format!("{name} reads {ins}."),
        _ => format!("{name} runs."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn stages_follow_the_newest_tool_and_never_go_back() {
        let steps = [
            ("/bootstrap-seeds/POSIX/x86/hex0-seed", s(&["hex0-seed"])),
            ("/x86/artifact/hex0", s(&["hex0"])),
            ("/x86/artifact/kaem-0", s(&["kaem-0"])),
            ("/x86/artifact/hex1", s(&["hex1"])),
            ("/x86/artifact/hex2-0", s(&["hex2-0"])),
            ("/x86/artifact/M0", s(&["M0"])),
            ("/x86/artifact/hex2-0", s(&["hex2-0"])),
            (
                "/x86/bin/kaem",
                s(&["kaem", "--file", "mescc-tools-extra.kaem"]),
            ),
            ("/x86/bin/catm", s(&["catm"])),
            ("/x86/bin/sha256sum", s(&["sha256sum", "-c", "x86.answers"])),
        ];
        let got = classify(steps.iter().map(|(e, a)| (*e, a.as_slice())));
        let ids: Vec<&str> = got.iter().map(|&k| STAGES[k].id).collect();
        assert_eq!(
            ids,
            [
                "seed",
                "hex0",
                "hex0",
                "hex1",
                "hex2",
                "M0",
                "M0",
                "mescc-tools-extra",
                "mescc-tools-extra",
                "answers"
            ]
        );
    }

    #[test]
    fn a_step_is_told_by_what_it_does_in_the_chain() {
        let d = describe(
            "/x86/artifact/hex0",
            &s(&[
                "./x86/artifact/hex0",
                "./x86/hex1_x86.hex0",
                "./x86/artifact/hex1",
            ]),
            &["/x86/hex1_x86.hex0"],
            &["/x86/artifact/hex1"],
        );
        assert_eq!(d, "hex0 assembles the hex0 text hex1_x86.hex0 into hex1.");
        let d = describe(
            "/bootstrap-seeds/POSIX/x86/hex0-seed",
            &s(&["hex0-seed", "./x86/hex0_x86.hex0", "./x86/artifact/hex0"]),
            &["/x86/hex0_x86.hex0"],
            &["/x86/artifact/hex0"],
        );
        assert!(d.contains("the seed rebuilt from source"), "{d}");
    }
}
