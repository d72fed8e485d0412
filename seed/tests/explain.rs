//! `seed::explain` accounts for every byte of a small ELF and names its syscalls.

mod common;

use seed::explain::{analyse, explain, ExplainError, Part};

/// A minimal ELF32 image: header, one PT_LOAD program header, then `code`.
fn tiny_elf(code: &[u8], flags: u32) -> Vec<u8> {
    let base = 0x0804_8000u32;
    let size = 52 + 32 + code.len() as u32;
    let mut f = Vec::new();
    f.extend([0x7F, b'E', b'L', b'F', 1, 1, 1, 0]);
    f.extend([0; 8]);
    f.extend(2u16.to_le_bytes()); // e_type
    f.extend(3u16.to_le_bytes()); // e_machine
    f.extend(1u32.to_le_bytes()); // e_version
    f.extend((base + 84).to_le_bytes()); // e_entry
    f.extend(52u32.to_le_bytes()); // e_phoff
    f.extend(0u32.to_le_bytes()); // e_shoff
    f.extend(0u32.to_le_bytes()); // e_flags
    f.extend(52u16.to_le_bytes());
    f.extend(32u16.to_le_bytes());
    f.extend(1u16.to_le_bytes());
    f.extend([0; 6]);
    for v in [1, 0, base, base, size, size, flags, 1] {
        f.extend(v.to_le_bytes());
    }
    f.extend_from_slice(code);
    f
}

#[test]
fn small_elf_every_byte_and_the_syscalls() {
    let code = [
        0x31, 0xDB, // xor ebx, ebx
        0x6A, 0x04, // push 4
        0x58, // pop eax
        0xEB, 0x02, // jmp over two data bytes
        0xDE, 0xAD, // data, never executed
        0xB0, 0x01, // mov al, 1  (eax = 4 -> 1)
        0xCD, 0x80, // int 0x80: exit(0)
        0x90, // after exit: unreachable
    ];
    let elf = tiny_elf(&code, 5);
    let e = analyse(&elf).unwrap();
    assert!(e.coverage().iter().all(|&c| c), "every byte accounted for");
    assert_eq!(
        e.fields
            .iter()
            .filter(|f| f.part == Part::ElfHeader)
            .count(),
        20
    );
    assert_eq!(
        e.fields
            .iter()
            .filter(|f| f.part == Part::ProgramHeader(0))
            .count(),
        8
    );
    let texts: Vec<&str> = e.instructions.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "xor ebx,ebx",
            "push 4",
            "pop eax",
            "jmp short 0804805Dh",
            "mov al,1",
            "int 80h"
        ]
    );
    let exit = e.instructions.last().unwrap();
    assert_eq!(exit.syscall, Some("exit"));
    assert!(exit.note.contains("status = ebx = 0x0"), "{}", exit.note);
    // The jumped-over bytes and the byte after exit are data.
    let data: Vec<(usize, Vec<u8>)> = e.data.iter().map(|d| (d.offset, d.bytes.clone())).collect();
    assert_eq!(data, [(91, vec![0xDE, 0xAD]), (97, vec![0x90])]);
    let text = explain(&elf).unwrap();
    assert!(text.contains("permissions R+X"), "{text}");
}

#[test]
fn rejects_what_it_cannot_explain() {
    assert_eq!(analyse(b"\x7fELF").unwrap_err(), ExplainError::TooShort(4));
    assert_eq!(analyse(&[0u8; 60]).unwrap_err(), ExplainError::NotElf);
    let mut elf = tiny_elf(&[0xC3], 1);
    elf[18] = 0x3E; // amd64
    assert_eq!(analyse(&elf).unwrap_err(), ExplainError::NotI386);
    let mut elf = tiny_elf(&[0xC3], 1);
    elf[28] = 0xF0; // e_phoff past the end
    assert!(matches!(
        analyse(&elf),
        Err(ExplainError::ProgramHeadersOutside { .. })
    ));
}

#[test]
#[ignore = "needs STAGE0_NATIVE_TREE or STAGE0_POSIX_TREE (a stage0-posix tree)"]
fn hex0_seed_all_181_bytes_and_its_syscalls() {
    let tree = common::tree_from_any(
        &["STAGE0_NATIVE_TREE", "STAGE0_POSIX_TREE"],
        "hex0_seed_all_181_bytes_and_its_syscalls",
    );
    let seed = std::fs::read(tree.join("bootstrap-seeds/POSIX/x86/hex0-seed")).unwrap();
    assert_eq!(seed.len(), 181);
    let e = analyse(&seed).unwrap();
    let coverage = e.coverage();
    let missing: Vec<usize> = (0..181).filter(|&i| !coverage[i]).collect();
    assert!(missing.is_empty(), "bytes not accounted for: {missing:?}");
    // The program header overlaps the last 8 bytes of the ELF header.
    assert!(
        e.remarks
            .iter()
            .any(|r| r.contains("inside the 52-byte ELF header")),
        "{:?}",
        e.remarks
    );
    assert!(
        e.remarks.iter().any(|r| r.contains("execute only")),
        "{:?}",
        e.remarks
    );
    // Every byte from the entry point to the end is code: nothing left as data.
    assert!(e.data.is_empty(), "{:?}", e.data);
    assert_eq!(e.instructions.first().unwrap().offset, 0x4C);
    let syscalls: Vec<&str> = e.instructions.iter().filter_map(|i| i.syscall).collect();
    let mut sorted = syscalls.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["exit", "open", "open", "read", "write"],
        "{syscalls:?}"
    );
    let note = |name: &str| {
        e.instructions
            .iter()
            .filter(|i| i.syscall == Some(name))
            .map(|i| i.note.clone())
            .collect::<Vec<_>>()
    };
    let opens = note("open");
    assert!(
        opens[0].contains("argv[1]") && opens[0].contains("O_RDONLY"),
        "{opens:?}"
    );
    assert!(
        opens[1].contains("argv[2]")
            && opens[1].contains("O_WRONLY|O_CREAT|O_TRUNC")
            && opens[1].contains("0o700"),
        "{opens:?}"
    );
    let read = note("read");
    assert!(
        read[0].contains("fd = ebx = the value open returned"),
        "read's fd comes from open: {read:?}"
    );
    assert!(read[0].contains("count = edx = 0x1"), "{read:?}");
    assert!(
        note("exit")[0].contains("status = ebx = 0x0"),
        "{:?}",
        note("exit")
    );
    let text = explain(&seed).unwrap();
    if std::env::var_os("SEED_SHOW_EXPLAIN").is_some() {
        eprintln!("{text}");
    }
}

/// The other hand-made binaries of the chain: every byte accounted for, the
/// exit syscall found, and the words they keep their globals in shown as data.
#[test]
#[ignore = "needs STAGE0_NATIVE_TREE (a stage0-posix tree after a native run)"]
fn other_small_seed_binaries() {
    let tree = common::tree_from_env("STAGE0_NATIVE_TREE", "other_small_seed_binaries");
    for path in [
        "bootstrap-seeds/POSIX/x86/kaem-optional-seed",
        "x86/artifact/hex1",
        "x86/artifact/hex2-0",
        "x86/artifact/catm",
        "x86/artifact/M0",
    ] {
        let bytes = std::fs::read(tree.join(path)).unwrap();
        let e = analyse(&bytes).unwrap_or_else(|err| panic!("{path}: {err}"));
        assert!(
            e.coverage().iter().all(|&c| c),
            "{path}: bytes not accounted for"
        );
        let syscalls: Vec<&str> = e.instructions.iter().filter_map(|i| i.syscall).collect();
        assert!(syscalls.contains(&"exit"), "{path}: {syscalls:?}");
        assert!(syscalls.contains(&"open"), "{path}: {syscalls:?}");
        assert!(
            explain(&bytes).unwrap().lines().count() > e.instructions.len(),
            "{path}"
        );
    }
    // hex1 keeps fin, fout and its label table after the code: data, not instructions.
    let hex1 = analyse(&std::fs::read(tree.join("x86/artifact/hex1")).unwrap()).unwrap();
    let tail = hex1.data.last().expect("hex1 has data after its code");
    assert_eq!(tail.offset + tail.bytes.len(), hex1.size);
}
