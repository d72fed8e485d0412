//! DEFLATE's constants and code tables as Go's `compress/flate` names them.

pub(crate) const WINDOW_SIZE: usize = 1 << 15;
pub(crate) const WINDOW_MASK: usize = WINDOW_SIZE - 1;
pub(crate) const BASE_MATCH_LENGTH: usize = 3;
pub(crate) const MIN_MATCH_LENGTH: usize = 4;
pub(crate) const MAX_MATCH_LENGTH: usize = 258;
pub(crate) const BASE_MATCH_OFFSET: usize = 1;
pub(crate) const MAX_FLATE_BLOCK_TOKENS: usize = 1 << 14;
pub(crate) const MAX_STORE_BLOCK_SIZE: usize = 65535;
pub(crate) const HASH_BITS: u32 = 17;
pub(crate) const HASH_SIZE: usize = 1 << HASH_BITS;
pub(crate) const HASH_MASK: u32 = (1 << HASH_BITS) - 1;
pub(crate) const MAX_HASH_OFFSET: isize = 1 << 24;
pub(crate) const SKIP_NEVER: usize = i32::MAX as usize;
pub(crate) const HASHMUL: u32 = 0x1e35a7bd;

pub(crate) const MAX_NUM_LIT: usize = 286;
pub(crate) const OFFSET_CODE_COUNT: usize = 30;
pub(crate) const END_BLOCK_MARKER: u32 = 256;
pub(crate) const LENGTH_CODES_START: usize = 257;
pub(crate) const CODEGEN_CODE_COUNT: usize = 19;
pub(crate) const BAD_CODE: u8 = 255;

/// Tokens: literal `b`, or `MATCH_TYPE | xlength << 22 | xoffset`.
pub(crate) const LENGTH_SHIFT: u32 = 22;
pub(crate) const OFFSET_MASK: u32 = (1 << LENGTH_SHIFT) - 1;
pub(crate) const MATCH_TYPE: u32 = 1 << 30;

pub(crate) const LENGTH_EXTRA_BITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
pub(crate) const LENGTH_BASE: [u32; 29] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 255,
];
pub(crate) const OFFSET_EXTRA_BITS: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
pub(crate) const OFFSET_BASE: [u32; 30] = [
    0x000000, 0x000001, 0x000002, 0x000003, 0x000004, 0x000006, 0x000008, 0x00000c, 0x000010,
    0x000018, 0x000020, 0x000030, 0x000040, 0x000060, 0x000080, 0x0000c0, 0x000100, 0x000180,
    0x000200, 0x000300, 0x000400, 0x000600, 0x000800, 0x000c00, 0x001000, 0x001800, 0x002000,
    0x003000, 0x004000, 0x006000,
];
pub(crate) const CODEGEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Go's `lengthCodes[xlength]`: the largest code whose base is <= xlength.
pub(crate) fn length_code(xlength: u32) -> usize {
    LENGTH_BASE.iter().rposition(|&b| b <= xlength).unwrap_or(0)
}

/// Go's `offsetCode(xoffset)`.
pub(crate) fn offset_code(xoffset: u32) -> usize {
    OFFSET_BASE.iter().rposition(|&b| b <= xoffset).unwrap_or(0)
}

pub(crate) fn hash4(b: &[u8]) -> u32 {
    let v = u32::from(b[3]) | u32::from(b[2]) << 8 | u32::from(b[1]) << 16 | u32::from(b[0]) << 24;
    v.wrapping_mul(HASHMUL) >> (32 - HASH_BITS)
}

pub(crate) fn reverse_bits(number: u16, bit_length: u8) -> u16 {
    if bit_length == 0 {
        return 0;
    }
    (number << (16 - u32::from(bit_length))).reverse_bits()
}
