//! hex1: hex0 plus one-character labels and 32-bit relative pointers.
//!
//! Behaviour of the x86 `hex1` (built from `hex1_x86.hex0`):
//! * `:c` defines label `c` (any single byte) at the current output offset;
//! * `%c` emits a 4-byte little-endian displacement `label - end_of_pointer`,
//!   i.e. relative to the address just after the four bytes (what x86
//!   `call`/`jmp rel32` expect);
//! * `#` and `;` comments end at `\n` or `\r`;
//! * no other pointer kinds: hex1 on x86 has only `%`.
//!
//! A label defined twice takes its last definition (upstream's table is filled in
//! a first pass). Where upstream is silent or never finishes, this stops with an
//! error: an undefined label (upstream uses address 0), a comment or `:`/`%` at end
//! of file (upstream loops forever), a label or pointer between the two digits of a
//! byte, and an odd number of hex digits.

use crate::error::InputError;
use crate::hex0::hex_digit;
use crate::source::Source;
use crate::SeedError;

const TOOL: &str = "hex1";

/// One piece of a hex1 program.
enum Item {
    Byte(u8),
    Label(u8),
    /// A `%` pointer to this label, written at this offset in the source.
    Pointer(u8, usize),
}

fn parse(src: &Source) -> Result<Vec<Item>, SeedError> {
    let data = &src.data;
    let mut items = Vec::new();
    let mut high: Option<(u8, usize)> = None;
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        match c {
            b'#' | b';' => match data[i..].iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(len) => i += len,
                None => return Err(src.error(i, InputError::CommentAtEof(TOOL))),
            },
            b':' | b'%' => {
                if let Some((_, at)) = high {
                    return Err(src.error(at, InputError::SplitByte(c as char)));
                }
                let Some(&name) = data.get(i + 1) else {
                    return Err(src.error(i, InputError::MissingLabelName(c as char)));
                };
                items.push(if c == b':' {
                    Item::Label(name)
                } else {
                    Item::Pointer(name, i)
                });
                i += 1;
            }
            _ => {
                if let Some(d) = hex_digit(c) {
                    match high.take() {
                        None => high = Some((d, i)),
                        Some((h, _)) => items.push(Item::Byte((h << 4) | d)),
                    }
                }
            }
        }
        i += 1;
    }
    if let Some((_, at)) = high {
        return Err(src.error(at, InputError::UnpairedHexDigit(data[at] as char)));
    }
    Ok(items)
}

/// Assembles hex1 text into bytes.
pub fn assemble(src: &Source) -> Result<Vec<u8>, SeedError> {
    let items = parse(src)?;
    let mut labels: [Option<u32>; 256] = [None; 256];
    let mut ip: u32 = 0;
    for item in &items {
        match item {
            Item::Byte(_) => ip += 1,
            Item::Label(name) => labels[*name as usize] = Some(ip),
            Item::Pointer(..) => ip += 4,
        }
    }
    let mut out = Vec::with_capacity(ip as usize);
    for item in &items {
        match item {
            Item::Byte(b) => out.push(*b),
            Item::Label(_) => {}
            Item::Pointer(name, at) => {
                let target = labels[*name as usize].ok_or_else(|| {
                    src.error(*at, InputError::UnknownLabel((*name as char).to_string()))
                })?;
                let next = out.len() as u32 + 4;
                out.extend_from_slice(&target.wrapping_sub(next).to_le_bytes());
            }
        }
    }
    Ok(out)
}
