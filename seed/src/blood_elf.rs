//! blood-elf: writes the M1 footer that gives an M2-Planet program ELF section
//! headers and a symbol table (so objdump and gdb can name its functions).
//!
//! Behaviour of mescc-tools `blood-elf.c` (hex output):
//! * every `:name` in the inputs becomes a symbol, in file order, after any
//!   `--entry` names; `#`/`;` comments (to `\n`/`\r`) and `"…"` strings are
//!   skipped, but `'…'` strings are not (a `:` inside one still names a label);
//! * a name is the byte after `:` plus everything up to space, tab, newline or `>`;
//! * names starting with `_` are marked hidden, except the last `--entry` name;
//! * `--64` writes 64-bit symbol and section entries.

use crate::error::InputError;
use crate::numbers::hex_bytes;
use crate::source::Source;
use crate::SeedError;

/// How to write the footer.
#[derive(Debug, Clone)]
pub struct BloodOptions {
    /// Byte order of the constants.
    pub big_endian: bool,
    /// 64-bit ELF layout.
    pub elf64: bool,
    /// `--entry` names, in command-line order.
    pub entries: Vec<String>,
}

/// Collects label names from one source.
fn collect_labels(src: &Source, names: &mut Vec<Vec<u8>>) -> Result<(), SeedError> {
    let data = &src.data;
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        i += 1;
        match c {
            b':' => {
                if i >= data.len() {
                    return Err(src.error(i - 1, InputError::LabelAtEof));
                }
                // The first byte is taken whatever it is; then up to a separator.
                let start = i;
                i += 1;
                while i < data.len() && !matches!(data[i], b' ' | b'\t' | b'\n' | b'>') {
                    i += 1;
                }
                names.push(data[start..i].to_vec());
                // The separator is consumed with the name.
                i = (i + 1).min(data.len());
            }
            b'#' | b';' => {
                let n = data[i..].iter().position(|&b| b == b'\n' || b == b'\r');
                i = n.map_or(data.len(), |n| i + n + 1);
            }
            b'"' => {
                let n = data[i..].iter().position(|&b| b == b'"');
                i = n.map_or(data.len(), |n| i + n + 1);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Renders blood-elf's fixed-width constants.
struct Fields {
    big_endian: bool,
}

impl Fields {
    /// `'hex'` of `value` in `bytes` bytes.
    fn quoted(&self, value: u32, bytes: usize) -> String {
        format!("'{}'", hex_bytes(value, bytes, !self.big_endian))
    }
}

/// Writes one section header.
struct Section<'a> {
    label: &'a str,
    name: &'a str,
    kind: String,
    flags: String,
    address: &'a str,
    offset: &'a str,
    size: &'a str,
    link: String,
    info: String,
    entsize: String,
}

fn write_section(out: &mut String, s: &Section, zero_32: &str, one_32: &str, elf64: bool) {
    // 64-bit "register" fields get a second, zero, 32-bit half.
    let wide = |v: &str| {
        if elf64 {
            format!("{v} {zero_32}")
        } else {
            v.to_string()
        }
    };
    out.push_str(&format!("\n{}\n", s.label));
    out.push_str(&format!("{}\t#sh_name\n", s.name));
    out.push_str(&format!("{}\t#sh_type\n", s.kind));
    out.push_str(&format!("{}\t#sh_flags\n", wide(&s.flags)));
    out.push_str(&format!("{}\t#sh_addr\n", wide(s.address)));
    out.push_str(&format!("{}\t#sh_offset\n", wide(s.offset)));
    out.push_str(&format!("{}\t#sh_size\n", wide(s.size)));
    out.push_str(&format!("{}\t#sh_link\n", s.link));
    out.push_str(&format!("{}\t#sh_info\n", s.info));
    out.push_str(&format!("{}\t#sh_addralign\n", wide(one_32)));
    out.push_str(&format!("{}\t#sh_entsize\n", wide(&s.entsize)));
}

/// Produces the footer for `sources`.
pub fn footer(sources: &[Source], opts: &BloodOptions) -> Result<Vec<u8>, SeedError> {
    let mut names: Vec<Vec<u8>> = opts.entries.iter().map(|e| e.as_bytes().to_vec()).collect();
    for src in sources {
        collect_labels(src, &mut names)?;
    }
    let f = Fields {
        big_endian: opts.big_endian,
    };
    let z8 = f.quoted(0, 1);
    let z32 = f.quoted(0, 4);
    let one16 = f.quoted(1, 2);
    let one32 = f.quoted(1, 4);
    let two8 = f.quoted(2, 1);
    let entry = opts.entries.last().map(|e| e.as_bytes()).unwrap_or(b"");
    let count = 1 + names.len() as u32;

    let mut out = String::new();
    out.push_str("# Generated sections\n:ELF_shstr\n");
    out.push_str(&format!("{z8}\t# NULL\n"));
    out.push_str(":ELF_shstr__text\n\".text\"\n");
    out.push_str(":ELF_shstr__shstr\n\".shstrtab\"\n");
    out.push_str(":ELF_shstr__sym\n\".symtab\"\n");
    out.push_str(":ELF_shstr__str\n\".strtab\"\n");

    let sections = [
        Section {
            label: ":ELF_section_headers",
            name: &z32,
            kind: z32.clone(),
            flags: z32.clone(),
            address: &z32,
            offset: &z32,
            size: &z32,
            link: z32.clone(),
            info: z32.clone(),
            entsize: z32.clone(),
        },
        Section {
            label: ":ELF_section_header_text",
            name: "%ELF_shstr__text>ELF_shstr",
            kind: one32.clone(),
            flags: f.quoted(6, 4),
            address: "&ELF_text",
            offset: "%ELF_text>ELF_base",
            size: "%ELF_data>ELF_text",
            link: z32.clone(),
            info: z32.clone(),
            entsize: z32.clone(),
        },
        Section {
            label: ":ELF_section_header_shstr",
            name: "%ELF_shstr__shstr>ELF_shstr",
            kind: f.quoted(3, 4),
            flags: z32.clone(),
            address: "&ELF_shstr",
            offset: "%ELF_shstr>ELF_base",
            size: "%ELF_section_headers>ELF_shstr",
            link: z32.clone(),
            info: z32.clone(),
            entsize: z32.clone(),
        },
        Section {
            label: ":ELF_section_header_str",
            name: "%ELF_shstr__str>ELF_shstr",
            kind: f.quoted(3, 4),
            flags: z32.clone(),
            address: "&ELF_str",
            offset: "%ELF_str>ELF_base",
            size: "%ELF_sym>ELF_str",
            link: z32.clone(),
            info: z32.clone(),
            entsize: z32.clone(),
        },
        Section {
            label: ":ELF_section_header_sym",
            name: "%ELF_shstr__sym>ELF_shstr",
            kind: f.quoted(2, 4),
            flags: z32.clone(),
            address: "&ELF_sym",
            offset: "%ELF_sym>ELF_base",
            size: "%ELF_end>ELF_sym",
            link: f.quoted(3, 4),
            info: f.quoted(count, 4),
            entsize: f.quoted(if opts.elf64 { 24 } else { 16 }, 4),
        },
    ];
    for s in &sections {
        write_section(&mut out, s, &z32, &one32, opts.elf64);
    }

    // Names are raw bytes from the input; the rest is ASCII built with format!.
    let mut out = out.into_bytes();
    let mut put = |parts: &[&[u8]]| parts.iter().for_each(|p| out.extend_from_slice(p));
    put(&[
        b"\n# Generated string table\n:ELF_str\n",
        z8.as_bytes(),
        b"\t# NULL string\n",
    ]);
    for name in &names {
        put(&[b":ELF_str_", name, b"\t\"", name, b"\"\n"]);
    }
    put(&[b"# END Generated string table\n\n"]);
    put(&[b"\n# Generated symbol table\n:ELF_sym\n# Required NULL symbol entry\n"]);
    let header = if opts.elf64 {
        format!(
            "{z32}\t# st_name\n{z8}\t# st_info\n{z8}\t# st_other\n\
             {one16}\t# st_shndx\n{z32} {z32}\t# st_value\n{z32} {z32}\t# st_size\n\n"
        )
    } else {
        format!(
            "{z32}\t# st_name\n{z32}\t# st_value\n{z32}\t# st_size\n\
             {z8}\t# st_info\n{z8}\t# st_other\n{one16}\t# st_shndx\n\n"
        )
    };
    put(&[header.as_bytes()]);
    for name in &names {
        let hidden = name.first() == Some(&b'_') && name.as_slice() != entry;
        let other = match (hidden, opts.elf64) {
            (true, _) => format!("{two8}\t# st_other (hidden)\n"),
            (false, true) => format!("{z8}\t# st_other (other)\n"),
            (false, false) => format!("{z8}\t# st_other (default)\n"),
        };
        put(&[b"%ELF_str_", name, b">ELF_str\t# st_name\n"]);
        if opts.elf64 {
            let info = format!("{two8}\t# st_info (FUNC)\n");
            let shndx = format!("{one16}\t# st_shndx\n");
            put(&[info.as_bytes(), other.as_bytes(), shndx.as_bytes()]);
            let value = format!(" {z32}\t# st_value\n{z32} {z32}\t# st_size (unknown size)\n\n");
            put(&[b"&", name, value.as_bytes()]);
        } else {
            let rest = format!(
                "\t#st_value\n{z32}\t# st_size (unknown size)\n{two8}\t# st_info (FUNC)\n{other}{one16}\t# st_shndx\n\n"
            );
            put(&[b"&", name, rest.as_bytes()]);
        }
    }
    put(&[b"# END Generated symbol table\n\n:ELF_end\n"]);
    Ok(out)
}
