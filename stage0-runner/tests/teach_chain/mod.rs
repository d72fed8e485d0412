//! A small bootstrap chain the tests write themselves (CI has no upstream sources): a
//! hex0 assembler of our own, written out as commented hex0 text the way stage0's seeds
//! are, its "seed" binary made from that text by the Rust hex0 tool, and a chain that has
//! the seed rebuild itself, the rebuilt tool build a program and rebuild itself again, and
//! the program run.
//!
//! The program is not stage0's hex0: it keeps the two digits of a byte in ebp above a
//! sentinel bit (1 → 0x1d → 0x1dd: the bit reaching 0x100 says both digits are in) and
//! skips comments in a loop of their own.

use iced_x86::code_asm::*;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use stage0_testkit::Sandbox;

/// Where the code starts: right after the 52-byte ELF header and one 32-byte program header.
const ENTRY: u32 = 0x0804_8054;

/// Instructions with their comments, labels with their block comments.
struct Prog {
    a: CodeAssembler,
    comments: Vec<&'static str>,
    /// (index of the first instruction after the label, name, comment above it)
    labels: Vec<(usize, &'static str, &'static str)>,
}

impl Prog {
    fn i(
        &mut self,
        emit: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
        comment: &'static str,
    ) {
        emit(&mut self.a).expect("assembles");
        self.comments.push(comment);
    }
    fn label(&mut self, l: &mut CodeLabel, name: &'static str, about: &'static str) {
        self.a.set_label(l).expect("label");
        self.labels.push((self.comments.len(), name, about));
    }
}

/// The commented hex0 source of the test's hex0 assembler.
pub fn mini_hex0_source() -> String {
    let mut p = Prog {
        a: CodeAssembler::new(32).unwrap(),
        comments: Vec::new(),
        labels: Vec::new(),
    };
    let mut next_byte = p.a.create_label();
    let mut digit = p.a.create_label();
    let mut comment = p.a.create_label();
    let mut done = p.a.create_label();
    let mut start = p.a.create_label();
    p.label(
        &mut start,
        "start",
        "Take the file names from the stack and open both files.",
    );
    p.i(|a| a.pop(eax), "argc");
    p.i(|a| a.pop(ebx), "argv[0], our own name");
    p.i(|a| a.pop(ebx), "argv[1], the hex0 text to read");
    p.i(|a| a.xor(ecx, ecx), "O_RDONLY");
    p.i(|a| a.mov(eax, 5u32), "open");
    p.i(|a| a.int(0x80), "open(argv[1], O_RDONLY)");
    p.i(|a| a.mov(esi, eax), "esi: the input descriptor");
    p.i(|a| a.pop(ebx), "argv[2], the file to write");
    p.i(|a| a.mov(ecx, 0x241u32), "O_WRONLY|O_CREAT|O_TRUNC");
    p.i(|a| a.mov(edx, 0x1edu32), "mode 0755");
    p.i(|a| a.mov(eax, 5u32), "open");
    p.i(|a| a.int(0x80), "open(argv[2], ...)");
    p.i(|a| a.mov(edi, eax), "edi: the output descriptor");
    p.i(|a| a.mov(edx, 1u32), "every read and write moves one byte");
    p.i(|a| a.mov(ebp, 1u32), "ebp: the sentinel bit, no digit yet");
    p.label(
        &mut next_byte,
        "next_byte",
        "Read one byte of text onto the stack; at the end of the file, stop.",
    );
    p.i(|a| a.mov(ebx, esi), "from the input");
    p.i(|a| a.mov(ecx, esp), "into the top of the stack");
    p.i(|a| a.mov(eax, 3u32), "read");
    p.i(|a| a.int(0x80), "read(esi, esp, 1)");
    p.i(|a| a.test(eax, eax), "0 bytes: end of file");
    p.i(|a| a.je(done), "then we are done");
    p.i(|a| a.movzx(eax, byte_ptr(esp)), "the byte read");
    p.i(|a| a.cmp(al, 0x23), "'#' starts a comment");
    p.i(|a| a.je(comment), "skip it");
    p.i(|a| a.cmp(al, 0x3b), "';' starts one too");
    p.i(|a| a.je(comment), "skip it");
    p.i(|a| a.sub(al, 0x30), "'0'..'9' become 0..9");
    p.i(|a| a.cmp(al, 9), "a decimal digit?");
    p.i(|a| a.jbe(digit), "yes: use it");
    p.i(|a| a.and(al, 0xdf), "fold 'a'..'f' onto 'A'..'F'");
    p.i(|a| a.sub(al, 0x11), "'A'..'F' become 0..5");
    p.i(|a| a.cmp(al, 5), "a hex letter?");
    p.i(|a| a.ja(next_byte), "no: ignore the byte");
    p.i(|a| a.add(al, 10), "A is 10");
    p.label(&mut digit, "digit", "Shift the digit in below the sentinel; once the sentinel reaches 0x100 both digits are in: write the byte.");
    p.i(|a| a.shl(ebp, 4), "make room for a digit");
    p.i(|a| a.or(ebp, eax), "put it in");
    p.i(|a| a.cmp(ebp, 0x100), "sentinel past bit 8?");
    p.i(|a| a.jb(next_byte), "no: wait for the second digit");
    p.i(|a| a.mov(dword_ptr(esp), ebp), "the byte, low end first");
    p.i(|a| a.mov(ebx, edi), "to the output");
    p.i(|a| a.mov(ecx, esp), "from the top of the stack");
    p.i(|a| a.mov(eax, 4u32), "write");
    p.i(|a| a.int(0x80), "write(edi, esp, 1)");
    p.i(|a| a.mov(ebp, 1u32), "start the next byte");
    p.i(|a| a.jmp(next_byte), "and go on");
    p.label(
        &mut comment,
        "comment",
        "Inside a comment: read and drop bytes up to the newline.",
    );
    p.i(|a| a.mov(ebx, esi), "from the input");
    p.i(|a| a.mov(ecx, esp), "into the top of the stack");
    p.i(|a| a.mov(eax, 3u32), "read");
    p.i(|a| a.int(0x80), "read(esi, esp, 1)");
    p.i(|a| a.test(eax, eax), "end of file inside a comment");
    p.i(|a| a.je(done), "then we are done");
    p.i(|a| a.cmp(byte_ptr(esp), 10), "a newline?");
    p.i(|a| a.jne(comment), "no: keep skipping");
    p.i(|a| a.jmp(next_byte), "yes: back to the text");
    p.label(
        &mut done,
        "done",
        "Exit with status 0 (the kernel closes the files).",
    );
    p.i(|a| a.mov(eax, 1u32), "exit");
    p.i(|a| a.xor(ebx, ebx), "status 0");
    p.i(|a| a.int(0x80), "exit(0)");
    let code = p.a.assemble(ENTRY as u64).expect("assembles");
    render(&code, &p.comments, &p.labels)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn render(code: &[u8], comments: &[&str], labels: &[(usize, &str, &str)]) -> String {
    let size = (ENTRY - 0x0804_8000) as usize + code.len();
    let le = |v: u32| hex(&v.to_le_bytes());
    let mut s = String::from(
        "# mini-hex0: a hex0 assembler written for stage0-runner's tests.\n# Two hex digits make a byte; '#' and ';' start comments.\n\n## ELF header\n",
    );
    let header: [(String, &str); 14] = [
        ("7F 45 4C 46".into(), "e_ident: the ELF magic"),
        (
            "01 01 01 00".into(),
            "32-bit, little-endian, version 1, System V",
        ),
        ("00 00 00 00 00 00 00 00".into(), "padding"),
        ("02 00 03 00".into(), "e_type executable, e_machine i386"),
        (le(1), "e_version"),
        (le(ENTRY), "e_entry: the code below"),
        (le(0x34), "e_phoff: the program header follows"),
        (le(0), "e_shoff: no sections"),
        (le(0), "e_flags"),
        (
            "34 00 20 00 01 00 28 00 00 00 00 00".into(),
            "header sizes, one program header, no sections",
        ),
        (
            "## Program header\n01 00 00 00 00 00 00 00".into(),
            "PT_LOAD from file offset 0",
        ),
        ("00 80 04 08 00 80 04 08".into(), "at 0x08048000"),
        (
            format!("{} {}", le(size as u32), le(size as u32)),
            "file and memory size",
        ),
        (
            "05 00 00 00 00 10 00 00".into(),
            "read + execute, page aligned",
        ),
    ];
    for (bytes, about) in header {
        s.push_str(&format!("{bytes:<32} # {about}\n"));
    }
    let mut decoder = Decoder::with_ip(32, code, ENTRY as u64, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    let mut k = 0;
    while decoder.can_decode() {
        let at = decoder.position();
        let insn = decoder.decode();
        for (_, name, about) in labels.iter().filter(|(i, _, _)| *i == k) {
            s.push_str(&format!("\n# {about}\n#:{name}\n"));
        }
        let mut text = String::new();
        fmt.format(&insn, &mut text);
        let bytes = &code[at..at + insn.len()];
        s.push_str(&format!(
            "\t{:<24} ; {:<24} # {}\n",
            hex(bytes).replace(' ', ""),
            text,
            comments[k]
        ));
        k += 1;
    }
    assert_eq!(k, comments.len(), "one comment per instruction");
    s
}

/// A hex0 text that spells `bytes`, 16 to a line, after a long comment (so a two-pass-like
/// wait precedes the first byte written: the page's trace window has to move there).
pub fn as_hex0(bytes: &[u8], title: &str) -> String {
    let mut s = format!("# {title}\n");
    for k in 0..300 {
        s.push_str(&format!(
            "# {k:>3}: a comment line the assembler reads and drops, byte by byte.\n"
        ));
    }
    for chunk in bytes.chunks(16) {
        s.push_str(&hex(chunk));
        s.push('\n');
    }
    s
}

/// The tree: the seed made from the source by the Rust hex0 tool, the source, a program
/// to build, the chain script and the answers. Returns the sandbox, the seed's bytes and
/// the program's.
pub fn tree(name: &str) -> (Sandbox, Vec<u8>, Vec<u8>) {
    let sb = Sandbox::new(name);
    let source = mini_hex0_source();
    let seed_bin = seed::hex0::assemble(&seed::Source::new(
        "hex0_x86.hex0",
        source.clone().into_bytes(),
    ))
    .expect("the Rust hex0 assembles the test's source");
    let hello = stage0_testkit::programs::hello(b"built by a seed\n", 0);
    sb.put("bootstrap-seeds/POSIX/x86/hex0-seed", &seed_bin);
    sb.put("x86/hex0_x86.hex0", source.as_bytes());
    sb.put(
        "x86/hello.hex0",
        as_hex0(&hello, "hello: prints a line").as_bytes(),
    );
    sb.put("x86/artifact/.keep", b"");
    sb.put(
        "chain.kaem",
        b"./bootstrap-seeds/POSIX/x86/hex0-seed ./x86/hex0_x86.hex0 ./x86/artifact/hex0\n\
./x86/artifact/hex0 ./x86/hello.hex0 ./x86/artifact/hello\n\
./x86/artifact/hex0 ./x86/hex0_x86.hex0 ./x86/artifact/hex0-again\n\
./x86/artifact/hello\n",
    );
    let sha = vm::record::sha256_hex;
    sb.put(
        "x86.answers",
        format!(
            "{s}  x86/artifact/hex0\n{s}  x86/artifact/hex0-again\n{h}  x86/artifact/hello\n",
            s = sha(&seed_bin),
            h = sha(&hello)
        )
        .as_bytes(),
    );
    (sb, seed_bin, hello)
}
