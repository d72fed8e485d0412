//! Number parsing and hex rendering as the upstream tools do it.

/// Parses like M2libc's `strtoint`: `0x` hex, `0b` binary, leading `0` octal,
/// otherwise decimal; `-` after the prefix negates; `_` is skipped; arithmetic
/// wraps at 32 bits. Returns `None` where upstream silently returns 0 for
/// malformed text.
pub fn strtoint(text: &[u8]) -> Option<i32> {
    match text {
        [] => Some(0),
        [b'0', b'b', rest @ ..] => read_digits(rest, 2),
        [b'0', b'x', rest @ ..] => read_digits(rest, 16),
        [b'0', rest @ ..] => read_digits(rest, 8),
        _ => read_digits(text, 10),
    }
}

/// Like [`strtoint`] but with upstream's fallback of 0 for malformed text.
pub fn strtoint_or_zero(text: &[u8]) -> i32 {
    strtoint(text).unwrap_or(0)
}

fn read_digits(text: &[u8], base: u32) -> Option<i32> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let mut n: i32 = 0;
    for &c in digits {
        if c == b'_' {
            continue;
        }
        let d = (c as char).to_digit(base)?;
        n = n.wrapping_mul(base as i32).wrapping_add(d as i32);
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

/// Parses like the hand-written M0's `numerate_string`: if the second byte is
/// `x`, upper-case hex from the third byte on; otherwise decimal with an optional
/// leading `-`. Malformed text gives 0, as upstream.
pub fn m0_numerate(text: &[u8]) -> i32 {
    if text.get(1) == Some(&b'x') {
        let mut n: i32 = 0;
        for &c in &text[2..] {
            // Upstream's digit test: c - '0', minus 7 more if >= 10, must be 0..=15.
            let mut d = c as i32 - b'0' as i32;
            if d >= 10 {
                d -= 7;
            }
            if !(0..=15).contains(&d) {
                return 0;
            }
            n = (n << 4).wrapping_add(d);
        }
        return n;
    }
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let mut n: i32 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return 0;
        }
        n = n.wrapping_mul(10).wrapping_add((c - b'0') as i32);
    }
    if negative {
        n.wrapping_neg()
    } else {
        n
    }
}

/// Renders the low `bytes` bytes of `value` as upper-case hex, two digits per
/// byte, least significant byte first when `little_endian`.
pub fn hex_bytes(value: u32, bytes: usize, little_endian: bool) -> String {
    let le = value.to_le_bytes();
    let mut out = String::with_capacity(bytes * 2);
    let order: Vec<usize> = if little_endian {
        (0..bytes).collect()
    } else {
        (0..bytes).rev().collect()
    };
    for i in order {
        out.push_str(&format!("{:02X}", le[i]));
    }
    out
}

/// The range of values a `bytes`-wide field accepts when it may hold either a
/// signed or an unsigned number: `-2^(8n-1) ..= 2^(8n) - 1`.
pub fn either_sign_range(bytes: u8) -> (i64, i64) {
    let bits = 8 * bytes as u32;
    (-(1i64 << (bits - 1)), (1i64 << bits) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoint_prefixes() {
        assert_eq!(strtoint(b"0x8048000"), Some(0x8048000));
        assert_eq!(strtoint(b"0x08048000"), Some(0x8048000));
        assert_eq!(strtoint(b"0xff"), Some(255));
        assert_eq!(strtoint(b"010"), Some(8));
        assert_eq!(strtoint(b"0b101"), Some(5));
        assert_eq!(strtoint(b"-5"), Some(-5));
        assert_eq!(strtoint(b"0x-1"), Some(-1));
        assert_eq!(strtoint(b"1_0"), Some(10));
        assert_eq!(strtoint(b"foo"), None);
        assert_eq!(strtoint(b"-0x5"), None);
        assert_eq!(strtoint(b"4294967295"), Some(-1));
    }

    #[test]
    fn m0_numerate_forms() {
        assert_eq!(m0_numerate(b"0x10"), 16);
        assert_eq!(
            m0_numerate(b"0xff"),
            0,
            "lower case hex is malformed for M0"
        );
        assert_eq!(m0_numerate(b"-1"), -1);
        assert_eq!(m0_numerate(b"12a"), 0);
        assert_eq!(m0_numerate(b""), 0);
    }

    #[test]
    fn hex_rendering() {
        assert_eq!(hex_bytes(5, 4, true), "05000000");
        assert_eq!(hex_bytes(0x1234, 2, false), "1234");
        assert_eq!(hex_bytes(0xFFFF_FFFF, 1, true), "FF");
        assert_eq!(either_sign_range(1), (-128, 255));
    }
}
