//! Explains a small i386 ELF (such as the 181-byte `hex0-seed`) byte by byte:
//! every header field named and decoded, every reachable instruction
//! disassembled with a plain-language note, every other byte shown as data.
//!
//! The disassembly follows the code from the entry point (recursive descent),
//! because a linear sweep would also "decode" data. Notes for `int 0x80` name
//! the system call from the value tracked in eax and describe its arguments.
//! The tables of names live in [`notes`]; the logic in [`elf`] and [`disasm`].

pub mod disasm;
pub mod elf;
pub mod notes;
pub mod story;

use std::fmt::Write as _;

/// Why a file cannot be explained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// Shorter than an ELF32 header.
    #[error("{0} bytes is too short for an ELF32 header (52 bytes)")]
    TooShort(usize),
    /// No ELF magic.
    #[error("not an ELF file (no 7F 'E' 'L' 'F' magic)")]
    NotElf,
    /// Not 32-bit little-endian i386.
    #[error("not a 32-bit little-endian i386 ELF file")]
    NotI386,
    /// The program header table does not fit in the file.
    #[error("program header table ({phnum} entries at offset {phoff:#x}) lies outside the file")]
    ProgramHeadersOutside {
        /// e_phoff.
        phoff: usize,
        /// e_phnum.
        phnum: usize,
    },
}

/// Which header a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The ELF file header.
    ElfHeader,
    /// Program header number n.
    ProgramHeader(usize),
}

/// One decoded header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// File offset.
    pub offset: usize,
    /// Size in bytes.
    pub len: usize,
    /// Which header.
    pub part: Part,
    /// Field name (e.g. `e_entry`).
    pub name: &'static str,
    /// Little-endian value.
    pub value: u64,
    /// What the field is for.
    pub about: &'static str,
}

/// One disassembled instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insn {
    /// File offset.
    pub offset: usize,
    /// Virtual address.
    pub vaddr: u32,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Intel syntax.
    pub text: String,
    /// What it does here, in words.
    pub note: String,
    /// For `int 0x80`: the system call's name, when eax was tracked.
    pub syscall: Option<&'static str>,
}

/// A run of bytes that is neither header nor reachable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRun {
    /// File offset.
    pub offset: usize,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Virtual address, when a segment maps it.
    pub vaddr: Option<u32>,
}

/// Everything known about the file, byte by byte.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// File size.
    pub size: usize,
    /// Entry point.
    pub entry: u32,
    /// Header fields (ELF header, then program headers), in file order per header.
    pub fields: Vec<Field>,
    /// Reachable instructions in file order.
    pub instructions: Vec<Insn>,
    /// Everything else.
    pub data: Vec<DataRun>,
    /// Remarks about the layout (overlaps, permissions).
    pub remarks: Vec<String>,
}

impl Explanation {
    /// For every file byte, whether a field, an instruction or a data run covers it.
    pub fn coverage(&self) -> Vec<bool> {
        let mut covered = vec![false; self.size];
        let mut mark = |offset: usize, len: usize| {
            for b in covered.iter_mut().skip(offset).take(len) {
                *b = true;
            }
        };
        self.fields.iter().for_each(|f| mark(f.offset, f.len));
        self.instructions
            .iter()
            .for_each(|i| mark(i.offset, i.bytes.len()));
        self.data.iter().for_each(|d| mark(d.offset, d.bytes.len()));
        covered
    }
}

fn flags_text(flags: u32) -> String {
    let names: Vec<&str> = [(4, "R"), (2, "W"), (1, "X")]
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("+")
    }
}

/// Decodes `bytes` without rendering.
pub fn analyse(bytes: &[u8]) -> Result<Explanation, ExplainError> {
    let (headers, fields) = elf::decode(bytes)?;
    let instructions: Vec<Insn> = disasm::descend(bytes, &headers).into_values().collect();

    let mut claimed = vec![false; bytes.len()];
    for f in &fields {
        claimed[f.offset..f.offset + f.len]
            .iter_mut()
            .for_each(|b| *b = true);
    }
    for i in &instructions {
        claimed[i.offset..i.offset + i.bytes.len()]
            .iter_mut()
            .for_each(|b| *b = true);
    }
    let mut data: Vec<DataRun> = Vec::new();
    for (offset, _) in claimed.iter().enumerate().filter(|(_, c)| !**c) {
        match data.last_mut() {
            Some(run) if run.offset + run.bytes.len() == offset => run.bytes.push(bytes[offset]),
            _ => data.push(DataRun {
                offset,
                bytes: vec![bytes[offset]],
                vaddr: headers.vaddr_of(offset),
            }),
        }
    }

    let mut remarks = Vec::new();
    let ph_end = headers.phoff + headers.segments.len() * elf::PHDR_SIZE;
    if headers.phoff < elf::EHDR_SIZE && !headers.segments.is_empty() {
        remarks.push(format!(
            "the program header table starts at {:#x}, inside the 52-byte ELF header: bytes {:#x}..{:#x} are read both as ELF header fields and as program header fields",
            headers.phoff,
            headers.phoff,
            elf::EHDR_SIZE.min(ph_end) - 1
        ));
    }
    for s in &headers.segments {
        remarks.push(format!(
            "segment {}: type {}, file bytes {:#x}..{:#x} mapped at {:#010x}, permissions {}{}",
            s.index,
            s.kind,
            s.offset,
            s.offset + s.filesz,
            s.vaddr,
            flags_text(s.flags),
            if s.flags == 1 {
                " (execute only: the program never reads its own image)"
            } else {
                ""
            }
        ));
    }
    Ok(Explanation {
        size: bytes.len(),
        entry: headers.entry,
        fields,
        instructions,
        data,
        remarks,
    })
}

/// `text` broken into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders the explanation of an ELF32 i386 file as text.
pub fn explain(bytes: &[u8]) -> Result<String, ExplainError> {
    explain_with_source(bytes, None)
}

/// [`explain`], with each instruction and paragraph of the story linked to the line of the
/// commented source that spells it, when `map` (one origin per file byte) is given.
pub fn explain_with_source(
    bytes: &[u8],
    map: Option<&crate::sourcemap::SourceMap>,
) -> Result<String, ExplainError> {
    let e = analyse(bytes)?;
    let line_of = |offset: usize| -> Option<String> {
        let l = map?.line_at(offset)?;
        let name = l.file.rsplit('/').next().unwrap_or(l.file);
        Some(format!("{name}:{}", l.line))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ELF32 i386 executable, {} bytes, entry point {:#010x}",
        e.size, e.entry
    );
    for r in &e.remarks {
        let _ = writeln!(out, "note: {r}");
    }
    let mut part = None;
    for f in &e.fields {
        if part != Some(f.part) {
            part = Some(f.part);
            let title = match f.part {
                Part::ElfHeader => "ELF header".to_string(),
                Part::ProgramHeader(n) => format!("Program header {n}"),
            };
            let _ = writeln!(
                out,
                "\n== {title} ==\n{:<6} {:<24} {:<22} {:<12} meaning",
                "offset", "bytes", "field", "value"
            );
        }
        let _ = writeln!(
            out,
            "{:<#6x} {:<24} {:<22} {:<#12x} {}",
            f.offset,
            hex(&bytes[f.offset..f.offset + f.len]),
            f.name,
            f.value,
            f.about
        );
    }
    let _ = writeln!(
        out,
        "\n== Code (reached from the entry point) ==\n{:<6} {:<10} {:<20} {:<28} {}note",
        "offset",
        "vaddr",
        "bytes",
        "instruction",
        if map.is_some() {
            "source              "
        } else {
            ""
        }
    );
    for i in &e.instructions {
        let src = match map {
            Some(_) => format!("{:<20} ", line_of(i.offset).unwrap_or_default()),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<#6x} {:<#10x} {:<20} {:<28} {src}{}",
            i.offset,
            i.vaddr,
            hex(&i.bytes),
            i.text,
            i.note
        );
    }
    let paragraphs = story::story(&e);
    if !paragraphs.is_empty() {
        let _ = writeln!(out, "\n== How it works ==");
    }
    for p in &paragraphs {
        let lines: Vec<usize> = p
            .offsets
            .iter()
            .filter_map(|&o| map?.line_at(o).map(|l| l.line))
            .collect();
        let at = match (lines.iter().min(), lines.iter().max(), map) {
            (Some(a), Some(b), Some(m)) => {
                let name = m.files[0].name.rsplit('/').next().unwrap_or("source");
                format!(" [{name} lines {a}-{b}]")
            }
            _ => String::new(),
        };
        let _ = writeln!(out, "\n{}{at}\n{}", p.title, wrap(&p.text, 90));
    }
    let _ = writeln!(out, "\n== Data (bytes not reached as code) ==");
    if e.data.is_empty() {
        let _ = writeln!(out, "(none: every byte is header or code)");
    }
    for d in &e.data {
        let vaddr = d
            .vaddr
            .map_or("unmapped".to_string(), |v| format!("{v:#010x}"));
        for (k, chunk) in d.bytes.chunks(16).enumerate() {
            let _ = writeln!(out, "{:<#6x} {vaddr:<10} {}", d.offset + 16 * k, hex(chunk));
        }
    }
    Ok(out)
}
