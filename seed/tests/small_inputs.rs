//! Each tool on small inputs written here: every pointer kind, the error cases
//! (with their file, line and column) and the stricter-than-upstream rules.

use seed::{run_tool, InputError, MemFs, SeedError};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs `tool` on in-memory `files`; returns the file system afterwards.
fn run(tool: &str, argv: &[&str], files: &[(&str, &str)]) -> Result<MemFs, SeedError> {
    let mut fs = MemFs::new();
    for (name, text) in files {
        fs.insert(name, text.as_bytes());
    }
    run_tool(tool, &args(argv), &mut fs)?;
    Ok(fs)
}

fn output(tool: &str, argv: &[&str], files: &[(&str, &str)], out: &str) -> Vec<u8> {
    let fs = run(tool, argv, files).unwrap_or_else(|e| panic!("{tool}: {e}"));
    fs.get(out)
        .unwrap_or_else(|| panic!("{tool} wrote no {out}"))
        .to_vec()
}

/// The input error of a failed run, with its line and column.
fn input_error(result: Result<MemFs, SeedError>) -> (usize, usize, InputError) {
    match result {
        Err(SeedError::Input { pos, kind }) => (pos.line, pos.column, kind),
        Err(other) => panic!("expected an input error, got {other}"),
        Ok(_) => panic!("expected an input error, got success"),
    }
}

fn hex2(text: &str, base: &str) -> Result<MemFs, SeedError> {
    let argv = [
        "--architecture",
        "x86",
        "--little-endian",
        "--base-address",
        base,
        "-f",
        "in.hex2",
        "-o",
        "out",
    ];
    run("hex2", &argv, &[("in.hex2", text)])
}

fn hex2_bytes(text: &str, base: &str) -> Vec<u8> {
    hex2(text, base)
        .unwrap_or_else(|e| panic!("{e}"))
        .get("out")
        .unwrap()
        .to_vec()
}

#[test]
fn hex0_pairs_comments_and_final_comment_without_newline() {
    let text = "7F 45 # ELF\n4c;x\n 46\t01 ; trailing";
    assert_eq!(
        output("hex0", &["in", "out"], &[("in", text)], "out"),
        [0x7F, 0x45, 0x4C, 0x46, 0x01]
    );
    // A pair may be split by a line end; `\r` does not end a hex0 comment.
    let text = "4\n1 # c\r42\n43";
    assert_eq!(
        output("hex0", &["in", "out"], &[("in", text)], "out"),
        [0x41, 0x43]
    );
}

#[test]
fn hex0_rejects_odd_digits_and_g() {
    let (line, col, kind) = input_error(run("hex0", &["in", "out"], &[("in", "41 42\n 4")]));
    assert_eq!((line, col, kind), (2, 2, InputError::UnpairedHexDigit('4')));
    let (line, col, kind) =
        input_error(run("hex0", &["in", "out"], &[("in", "41 # G ok here\n4G")]));
    assert_eq!((line, col, kind), (2, 2, InputError::HexDigitG('G')));
}

#[test]
fn hex1_labels_and_rel32_pointers() {
    // :a at 0; %a at 1..5 -> 0 - 5 = -5. %b at 6..10, :b at 10 -> 0.
    let text = ":a 90 %a 90 %b :b C3";
    let out = output("hex1", &["in", "out"], &[("in", text)], "out");
    assert_eq!(out, [0x90, 0xFB, 0xFF, 0xFF, 0xFF, 0x90, 0, 0, 0, 0, 0xC3]);
    let (line, col, kind) = input_error(run("hex1", &["in", "out"], &[("in", "90\n  %z\n")]));
    assert_eq!(
        (line, col, kind),
        (2, 3, InputError::UnknownLabel("z".into()))
    );
    let (_, _, kind) = input_error(run("hex1", &["in", "out"], &[("in", "90 # no newline")]));
    assert_eq!(kind, InputError::CommentAtEof("hex1"));
}

#[test]
fn hex2_every_pointer_kind() {
    let text = ":start\n90\n!start @start ~start %start $start &start\n:end\n";
    // start = 0x100. Pointers begin at 0x101; each relative one counts from its own end.
    let out = hex2_bytes(text, "0x100");
    let mut want = vec![0x90];
    want.push((0x100i32 - 0x102) as u8); // !  ends at 0x102
    want.extend(((0x100i32 - 0x104) as i16).to_le_bytes()); // @ ends at 0x104
    want.extend(&((0x100i32 - 0x107) as u32).to_le_bytes()[..3]); // ~ ends at 0x107
    want.extend(((0x100i32 - 0x10B) as u32).to_le_bytes()); // % ends at 0x10B
    want.extend(0x100u16.to_le_bytes()); // $ absolute
    want.extend(0x100u32.to_le_bytes()); // & absolute
    assert_eq!(out, want);
}

#[test]
fn hex2_base_labels_and_big_endian() {
    let text = ":a 00 00 :b %b>a @a>b &b $a\n";
    let out = hex2_bytes(text, "0x10");
    let mut want = vec![0, 0];
    want.extend(2u32.to_le_bytes());
    want.extend((-2i16).to_le_bytes());
    want.extend(0x12u32.to_le_bytes());
    want.extend(0x10u16.to_le_bytes());
    assert_eq!(out, want);

    let argv = [
        "--architecture",
        "x86",
        "--big-endian",
        "--base-address",
        "0x10",
        "-f",
        "in",
        "-o",
        "out",
    ];
    let out = output("hex2", &argv, &[("in", text)], "out");
    assert_eq!(&out[2..6], &2u32.to_be_bytes());
    assert_eq!(&out[12..14], &0x10u16.to_be_bytes());
}

#[test]
fn hex2_out_of_range_and_negative_pointers_are_errors() {
    // 1-byte relative: 200 bytes ahead does not fit.
    let far = format!("!far\n{}\n:far\n", "00 ".repeat(200));
    let (line, col, kind) = input_error(hex2(&far, "0x8048000"));
    assert_eq!((line, col), (1, 1));
    assert!(
        matches!(
            kind,
            InputError::PointerOutOfRange {
                kind: '!',
                value: 200,
                ..
            }
        ),
        "{kind:?}"
    );
    // 2-byte relative, backwards by more than 32768.
    let back = format!(":back\n{}\n@back\n", "00 ".repeat(40000));
    let (line, _, kind) = input_error(hex2(&back, "0x8048000"));
    assert_eq!(line, 3);
    assert!(
        matches!(
            kind,
            InputError::PointerOutOfRange {
                kind: '@',
                value: -40002,
                ..
            }
        ),
        "{kind:?}"
    );
    // 2-byte absolute: above 65535, and negative (an address with the top bit set).
    let (_, _, kind) = input_error(hex2(":x $x\n", "0x8048000"));
    assert!(
        matches!(kind, InputError::PointerOutOfRange { kind: '$', .. }),
        "{kind:?}"
    );
    let (_, _, kind) = input_error(hex2(":x $x\n", "0xFFFF0000"));
    assert!(
        matches!(
            kind,
            InputError::PointerOutOfRange {
                kind: '$',
                value: -65536,
                ..
            }
        ),
        "{kind:?}"
    );
    // Still in range at the edges.
    let edge = format!("!e\n{}\n:e\n", "00 ".repeat(127));
    assert_eq!(hex2_bytes(&edge, "0")[0], 127);
}

#[test]
fn hex2_0_truncation_cases_are_errors_too() {
    let far = format!("!far\n{}\n:far\n", "00 ".repeat(200));
    let (_, _, kind) = input_error(run("hex2-0", &["in", "out"], &[("in", &far)]));
    assert!(
        matches!(kind, InputError::PointerOutOfRange { kind: '!', .. }),
        "{kind:?}"
    );
    let (_, _, kind) = input_error(run("hex2-0", &["in", "out"], &[("in", ":a ~a\n")]));
    assert_eq!(
        kind,
        InputError::UnsupportedPointer {
            kind: '~',
            tool: "hex2-0"
        }
    );
    // hex2-0 loops forever on a final comment or name without newline: an error here.
    let (_, _, kind) = input_error(run("hex2-0", &["in", "out"], &[("in", "00 # end")]));
    assert_eq!(kind, InputError::CommentAtEof("hex2-0"));
    let (_, _, kind) = input_error(run("hex2-0", &["in", "out"], &[("in", ":a %a")]));
    assert!(
        matches!(kind, InputError::TokenAtEof { tool: "hex2-0", .. }),
        "{kind:?}"
    );
    // The C hex2 accepts both.
    assert_eq!(hex2_bytes("00 # end", "0"), [0]);
    assert_eq!(hex2_bytes(":a %a", "0"), (-4i32).to_le_bytes());
    // hex2-0 links at 0x8048000.
    let out = output("hex2-0", &["in", "out"], &[("in", ":a &a\n")], "out");
    assert_eq!(out, 0x0804_8000u32.to_le_bytes());
}

#[test]
fn hex2_unknown_label_odd_digits_and_split_bytes() {
    let (line, col, kind) = input_error(hex2("00\n 00 %nowhere\n", "0"));
    assert_eq!(
        (line, col, kind),
        (2, 5, InputError::UnknownLabel("nowhere".into()))
    );
    let (line, col, kind) = input_error(hex2("00 0", "0"));
    assert_eq!((line, col, kind), (1, 4, InputError::UnpairedHexDigit('0')));
    let (_, _, kind) = input_error(hex2(":a 0 %a 0\n", "0"));
    assert_eq!(kind, InputError::SplitByte('%'));
}

#[test]
fn hex2_labels_across_files_in_command_line_order() {
    let argv = [
        "--architecture",
        "x86",
        "--little-endian",
        "--base-address",
        "0x1000",
        "-f",
        "a",
        "-f",
        "b",
        "-o",
        "out",
    ];
    let out = output(
        "hex2",
        &argv,
        &[("a", ":first &second\n"), ("b", ":second &first\n")],
        "out",
    );
    assert_eq!(out, [0x04, 0x10, 0, 0, 0x00, 0x10, 0, 0]);
}

#[test]
fn catm_concatenates_and_reports_missing_inputs() {
    let out = output(
        "catm",
        &["out", "a", "b", "a"],
        &[("a", "xy"), ("b", "\n")],
        "out",
    );
    assert_eq!(out, b"xy\nxy");
    let err = run("catm", &["out", "a", "missing"], &[("a", "x")]).unwrap_err();
    assert!(
        matches!(err, SeedError::Read { ref path, .. } if path == "missing"),
        "{err}"
    );
}

#[test]
fn m0_macros_numbers_and_strings() {
    let text = "early DEFINE early 90\nearly %5 @-1 !0x10 %0 :lab &lab \"AB\" 'raw text'\n";
    let out = output("M0", &["in", "out"], &[("in", text)], "out");
    let want = "early\n90\n05000000\nFFFF\n10\n00000000\n:lab\n&lab\n414200\nraw text\n";
    assert_eq!(String::from_utf8(out).unwrap(), want);
}

#[test]
fn m0_rejects_what_upstream_mangles_or_hangs_on() {
    let (line, col, kind) = input_error(run("M0", &["in", "out"], &[("in", "%1\n C3\n")]));
    assert_eq!(
        (line, col, kind),
        (2, 2, InputError::NumberWithUnknownPrefix("C3".into(), 'C'))
    );
    // Upstream reads the raw byte `90` as the number 0 with prefix '9' and emits `00`.
    let (_, _, kind) = input_error(run("M0", &["in", "out"], &[("in", "90\n")]));
    assert_eq!(kind, InputError::NumberWithUnknownPrefix("90".into(), '9'));
    let (_, _, kind) = input_error(run("M0", &["in", "out"], &[("in", "!300\n")]));
    assert!(
        matches!(kind, InputError::NumberOutOfRange { value: 300, .. }),
        "{kind:?}"
    );
    let (_, _, kind) = input_error(run("M0", &["in", "out"], &[("in", "%1 # end")]));
    assert_eq!(kind, InputError::CommentAtEof("M0"));
    let (_, _, kind) = input_error(run("M0", &["in", "out"], &[("in", "%1")]));
    assert!(
        matches!(kind, InputError::TokenAtEof { tool: "M0", .. }),
        "{kind:?}"
    );
    let long = format!("'{}'\n", "x".repeat(300));
    let (_, _, kind) = input_error(run("M0", &["in", "out"], &[("in", &long)]));
    assert!(
        matches!(kind, InputError::TokenTooLong { max: 255, .. }),
        "{kind:?}"
    );
}

fn m1(files: &[(&str, &str)]) -> Result<MemFs, SeedError> {
    let mut argv = vec!["--architecture", "x86", "--little-endian"];
    for (name, _) in files {
        argv.extend(["-f", name]);
    }
    argv.extend(["-o", "out"]);
    run("M1", &argv, files)
}

fn m1_text(files: &[(&str, &str)]) -> String {
    String::from_utf8(
        m1(files)
            .unwrap_or_else(|e| panic!("{e}"))
            .get("out")
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

#[test]
fn m1_defines_strings_numbers_and_layout() {
    // DEFINE applies everywhere, even before it; its line leaves one line break.
    let text = "nop nop\nDEFINE nop 90\n\n# comment\n%5 @-1 $0x10 ~1 !0 &-1 <2 <0 :l %l !l>m ^x\n\"AB\" 'CD' nop";
    let want =
        "90 90\n05000000 FFFF 1000 010000 00 FFFFFFFF 0000 <0 :l %l !l>m ^x\n41 42 00  CD 90\n";
    assert_eq!(m1_text(&[("a.M1", text)]), want);
    // Files continue one token stream; a file's DEFINE reaches the others.
    let out = m1_text(&[("a", "x y\n"), ("b", "DEFINE x 01\nDEFINE y '02 03'\n")]);
    assert_eq!(out, "01 02 03\n");
    // Big endian.
    let mut fs = MemFs::new();
    fs.insert("a", &b"%1 @2\n"[..]);
    run_tool(
        "M1",
        &args(&["-A", "x86", "--big-endian", "-f", "a", "-o", "o"]),
        &mut fs,
    )
    .unwrap();
    assert_eq!(fs.get("o").unwrap(), b"00000001 0002\n");
}

#[test]
fn m1_errors_name_file_line_and_column() {
    let (line, col, kind) = input_error(m1(&[("a", "%1\n\n  !256\n")]));
    assert_eq!((line, col), (3, 3));
    assert!(
        matches!(
            kind,
            InputError::NumberOutOfRange {
                value: 256,
                bytes: 1,
                ..
            }
        ),
        "{kind:?}"
    );
    let (_, _, kind) = input_error(m1(&[("a", "!-129\n")]));
    assert!(
        matches!(kind, InputError::NumberOutOfRange { value: -129, .. }),
        "{kind:?}"
    );
    // `@` is signed only (as upstream); `$` takes either sign.
    let (_, _, kind) = input_error(m1(&[("a", "@32768\n")]));
    assert!(
        matches!(
            kind,
            InputError::NumberOutOfRange {
                value: 32768,
                bytes: 2,
                ..
            }
        ),
        "{kind:?}"
    );
    assert_eq!(
        m1_text(&[("a", "@32767 @-32768 $65535 $-32768\n")]),
        "FF7F 0080 FFFF 0080\n"
    );
    let (line, col, kind) = input_error(m1(&[("a", "ok\n"), ("b", "DEFINE ok 1\nnot_a_macro\n")]));
    assert_eq!(
        (line, col, kind),
        (2, 1, InputError::InvalidToken("not_a_macro".into()))
    );
    let (line, col, kind) = input_error(m1(&[("a", "x\n  \"open")]));
    assert_eq!(
        (line, col, kind),
        (2, 3, InputError::UnterminatedString('"'))
    );
    let (_, _, kind) = input_error(m1(&[("a", "\"caf\u{e9}\"\n")]));
    assert_eq!(kind, InputError::NonAsciiInString(0xC3));
}

#[test]
fn blood_elf_footer_lists_labels_in_order() {
    let text = ":main\n# :not_a_label\n\"a :string\" 'raw :quoted'\n:_hidden :FUNCTION_x>y\n";
    let argv = [
        "--little-endian",
        "--entry",
        "_start",
        "-f",
        "in.M1",
        "-o",
        "out",
    ];
    let out = String::from_utf8(output("blood-elf", &argv, &[("in.M1", text)], "out")).unwrap();
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix(":ELF_str_"))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["_start", "main", "quoted'", "_hidden", "FUNCTION_x"]
    );
    // sh_info of the symbol table is the symbol count plus the NULL symbol.
    assert!(out.contains("'06000000'\t#sh_info"), "{out}");
    // `_hidden` is hidden; the entry `_start` is not.
    let after = |name: &str| {
        out.split(&format!("%ELF_str_{name}>ELF_str"))
            .nth(1)
            .unwrap()
            .lines()
            .nth(4)
            .unwrap()
            .to_string()
    };
    assert_eq!(after("_hidden"), "'02'\t# st_other (hidden)");
    assert_eq!(after("_start"), "'00'\t# st_other (default)");
    assert!(out.ends_with("# END Generated symbol table\n\n:ELF_end\n"));
    let err = run("blood-elf", &["-f", "in", "-o", "out"], &[("in", ":a\n")]).unwrap_err();
    assert!(matches!(err, SeedError::Usage { .. }), "{err}");
}

#[test]
fn usage_errors() {
    assert!(matches!(
        run("hex0", &["only-one"], &[]),
        Err(SeedError::Usage { .. })
    ));
    assert!(matches!(
        run("M1", &["--architecture", "x86", "--bogus"], &[]),
        Err(SeedError::Usage { .. })
    ));
    assert!(matches!(
        run("hex2", &["-f"], &[]),
        Err(SeedError::Usage { .. })
    ));
    assert!(matches!(
        run("cc_x86", &[], &[]),
        Err(SeedError::UnknownTool(_))
    ));
    assert!(matches!(
        run("hex0", &["missing", "out"], &[]),
        Err(SeedError::Read { .. })
    ));
}

/// On the host file system, paths resolve against the working directory, the
/// output gets upstream's mode, and a RecordingFs sees exactly what was touched.
#[cfg(unix)]
#[test]
fn host_fs_with_recording() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("x86")).unwrap();
    std::fs::write(dir.path().join("x86/in.hex0"), "C3 # ret\n").unwrap();
    let mut fs = seed::RecordingFs::new(seed::HostFs::new(dir.path()));
    run_tool("hex0", &args(&["./x86/in.hex0", "./x86/out"]), &mut fs).unwrap();
    assert_eq!(fs.reads(), ["./x86/in.hex0"]);
    assert_eq!(fs.writes(), ["./x86/out"]);
    let out = dir.path().join("x86/out");
    assert_eq!(std::fs::read(&out).unwrap(), [0xC3]);
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mut fs = seed::RecordingFs::new(seed::HostFs::new(dir.path().join("x86")));
    run_tool("catm", &args(&["both", "in.hex0", "out"]), &mut fs).unwrap();
    assert_eq!(fs.reads(), ["in.hex0", "out"]);
    assert_eq!(
        std::fs::read(dir.path().join("x86/both")).unwrap(),
        b"C3 # ret\n\xC3"
    );
}
