//! hex0: pairs of hex digits become bytes.
//!
//! Behaviour of the x86 `hex0-seed` (and the `hex0` built from `hex0_x86.hex0`):
//! `#` and `;` start a comment that ends at the next `\n` (a `\r` does not end
//! it); every other non-hex byte is ignored; the two digits of a byte may be
//! separated by whitespace, comments or line ends.
//!
//! Where upstream is silent, this implementation stops with an error:
//! * an odd number of digits (upstream drops the last one);
//! * `G`/`g` outside a comment (upstream's range test accepts them as the value 16).

use crate::error::InputError;
use crate::source::Source;
use crate::SeedError;

/// The value of an ASCII hex digit.
pub fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Assembles hex0 text into bytes.
pub fn assemble(src: &Source) -> Result<Vec<u8>, SeedError> {
    let mut out = Vec::with_capacity(src.data.len() / 3);
    let mut in_comment = false;
    // First digit of the byte being built, and where it was.
    let mut high: Option<(u8, usize)> = None;
    for (i, &c) in src.data.iter().enumerate() {
        if c == b'\n' {
            in_comment = false;
            continue;
        }
        if in_comment {
            continue;
        }
        match c {
            b'#' | b';' => in_comment = true,
            b'G' | b'g' => return Err(src.error(i, InputError::HexDigitG(c as char))),
            _ => {
                if let Some(d) = hex_digit(c) {
                    match high.take() {
                        None => high = Some((d, i)),
                        Some((h, _)) => out.push((h << 4) | d),
                    }
                }
            }
        }
    }
    if let Some((_, at)) = high {
        return Err(src.error(at, InputError::UnpairedHexDigit(src.data[at] as char)));
    }
    Ok(out)
}
