//! Go's `compress/gzip` + `compress/flate` encoder (Go 1.19 to 1.25, levels 2-9), ported
//! so layer blobs match what BuildKit writes byte for byte. BuildKit compresses layers
//! with Go's standard library at `gzip.DefaultCompression` (level 6); every other
//! deflate encoder picks different matches or blocks and so changes the layer digests
//! and the manifest digest. (Go 1.26 replaced this encoder; images built by a BuildKit
//! compiled with it will have different blob digests.)
//!
//! Structure follows Go's files: the LZ77 pass (`deflate.go`), the block writer
//! (`huffman_bit_writer.go`) and the length-limited Huffman builder (`huffman_code.go`).

const WINDOW_SIZE: usize = 1 << 15;
const WINDOW_MASK: usize = WINDOW_SIZE - 1;
const BASE_MATCH_LENGTH: usize = 3;
const MIN_MATCH_LENGTH: usize = 4;
const MAX_MATCH_LENGTH: usize = 258;
const BASE_MATCH_OFFSET: usize = 1;
const MAX_FLATE_BLOCK_TOKENS: usize = 1 << 14;
const MAX_STORE_BLOCK_SIZE: usize = 65535;
const HASH_BITS: u32 = 17;
const HASH_SIZE: usize = 1 << HASH_BITS;
const HASH_MASK: u32 = (1 << HASH_BITS) - 1;
const MAX_HASH_OFFSET: isize = 1 << 24;
const SKIP_NEVER: usize = i32::MAX as usize;
const HASHMUL: u32 = 0x1e35a7bd;

const MAX_NUM_LIT: usize = 286;
const OFFSET_CODE_COUNT: usize = 30;
const END_BLOCK_MARKER: u32 = 256;
const LENGTH_CODES_START: usize = 257;
const CODEGEN_CODE_COUNT: usize = 19;
const BAD_CODE: u8 = 255;

/// Tokens: literal `b`, or `MATCH_TYPE | xlength << 22 | xoffset`.
const LENGTH_SHIFT: u32 = 22;
const OFFSET_MASK: u32 = (1 << LENGTH_SHIFT) - 1;
const MATCH_TYPE: u32 = 1 << 30;

const LENGTH_EXTRA_BITS: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const LENGTH_BASE: [u32; 29] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 255,
];
const OFFSET_EXTRA_BITS: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const OFFSET_BASE: [u32; 30] = [
    0x000000, 0x000001, 0x000002, 0x000003, 0x000004, 0x000006, 0x000008, 0x00000c, 0x000010,
    0x000018, 0x000020, 0x000030, 0x000040, 0x000060, 0x000080, 0x0000c0, 0x000100, 0x000180,
    0x000200, 0x000300, 0x000400, 0x000600, 0x000800, 0x000c00, 0x001000, 0x001800, 0x002000,
    0x003000, 0x004000, 0x006000,
];
const CODEGEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Go's `lengthCodes[xlength]`: the largest code whose base is <= xlength.
fn length_code(xlength: u32) -> usize {
    LENGTH_BASE.iter().rposition(|&b| b <= xlength).unwrap_or(0)
}

/// Go's `offsetCode(xoffset)`.
fn offset_code(xoffset: u32) -> usize {
    OFFSET_BASE.iter().rposition(|&b| b <= xoffset).unwrap_or(0)
}

fn hash4(b: &[u8]) -> u32 {
    let v = u32::from(b[3]) | u32::from(b[2]) << 8 | u32::from(b[1]) << 16 | u32::from(b[0]) << 24;
    v.wrapping_mul(HASHMUL) >> (32 - HASH_BITS)
}

fn reverse_bits(number: u16, bit_length: u8) -> u16 {
    if bit_length == 0 {
        return 0;
    }
    (number << (16 - u32::from(bit_length))).reverse_bits()
}

#[derive(Debug, Clone, Copy, Default)]
struct HCode {
    code: u16,
    len: u16,
}

#[derive(Debug, Clone, Copy)]
struct LiteralNode {
    literal: u16,
    freq: i32,
}

#[derive(Debug, Clone, Copy, Default)]
struct LevelInfo {
    level: i32,
    last_freq: i32,
    next_char_freq: i32,
    next_pair_freq: i32,
    needed: i32,
}

/// `huffmanEncoder`: codes built from frequencies with a length limit.
#[derive(Debug, Clone)]
struct HuffmanEncoder {
    codes: Vec<HCode>,
}

impl HuffmanEncoder {
    fn new(size: usize) -> Self {
        HuffmanEncoder {
            codes: vec![HCode::default(); size],
        }
    }

    fn fixed_literal() -> Self {
        let mut h = Self::new(MAX_NUM_LIT);
        for ch in 0..MAX_NUM_LIT as u16 {
            let (bits, size) = match ch {
                0..=143 => (ch + 48, 8),
                144..=255 => (ch + 400 - 144, 9),
                256..=279 => (ch - 256, 7),
                _ => (ch + 192 - 280, 8),
            };
            h.codes[ch as usize] = HCode {
                code: reverse_bits(bits, size as u8),
                len: size,
            };
        }
        h
    }

    fn fixed_offset() -> Self {
        let mut h = Self::new(OFFSET_CODE_COUNT);
        for ch in 0..OFFSET_CODE_COUNT {
            h.codes[ch] = HCode {
                code: reverse_bits(ch as u16, 5),
                len: 5,
            };
        }
        h
    }

    fn bit_length(&self, freq: &[i32]) -> i64 {
        freq.iter()
            .enumerate()
            .filter(|(_, &f)| f != 0)
            .map(|(i, &f)| i64::from(f) * i64::from(self.codes[i].len))
            .sum()
    }

    /// Go's `bitCounts`: how many literals get each code length (package-merge).
    fn bit_counts(list: &[LiteralNode], mut max_bits: i32) -> Vec<i32> {
        let n = list.len() as i32;
        let mut ext: Vec<LiteralNode> = list.to_vec();
        ext.push(LiteralNode {
            literal: u16::MAX,
            freq: i32::MAX,
        });
        if max_bits > n - 1 {
            max_bits = n - 1;
        }
        let mut levels = [LevelInfo::default(); 16];
        let mut leaf_counts = [[0i32; 16]; 16];
        for level in 1..=max_bits {
            let l = level as usize;
            levels[l] = LevelInfo {
                level,
                last_freq: ext[1].freq,
                next_char_freq: ext[2].freq,
                next_pair_freq: ext[0].freq.wrapping_add(ext[1].freq),
                needed: 0,
            };
            leaf_counts[l][l] = 2;
            if level == 1 {
                levels[l].next_pair_freq = i32::MAX;
            }
        }
        levels[max_bits as usize].needed = 2 * n - 4;
        let mut level = max_bits as usize;
        loop {
            if levels[level].next_pair_freq == i32::MAX && levels[level].next_char_freq == i32::MAX
            {
                levels[level].needed = 0;
                levels[level + 1].next_pair_freq = i32::MAX;
                level += 1;
                continue;
            }
            let prev_freq = levels[level].last_freq;
            if levels[level].next_char_freq < levels[level].next_pair_freq {
                let nn = leaf_counts[level][level] + 1;
                levels[level].last_freq = levels[level].next_char_freq;
                leaf_counts[level][level] = nn;
                levels[level].next_char_freq = ext[nn as usize].freq;
            } else {
                levels[level].last_freq = levels[level].next_pair_freq;
                let (lower, upper) = leaf_counts.split_at_mut(level);
                upper[0][..level].copy_from_slice(&lower[level - 1][..level]);
                levels[level - 1].needed = 2;
            }
            levels[level].needed -= 1;
            if levels[level].needed == 0 {
                if levels[level].level == max_bits {
                    break;
                }
                levels[level + 1].next_pair_freq = prev_freq.wrapping_add(levels[level].last_freq);
                level += 1;
            } else {
                while levels[level - 1].needed > 0 {
                    level -= 1;
                }
            }
        }
        let mb = max_bits as usize;
        let mut bit_count = vec![0i32; mb + 1];
        for (bits, level) in (1..).zip((1..=mb).rev()) {
            bit_count[bits] = leaf_counts[mb][level] - leaf_counts[mb][level - 1];
        }
        bit_count
    }

    fn assign_encoding_and_size(&mut self, bit_count: &[i32], list: &mut [LiteralNode]) {
        let mut code: u16 = 0;
        let mut end = list.len();
        for (n, &bits) in bit_count.iter().enumerate() {
            code <<= 1;
            if n == 0 || bits == 0 {
                continue;
            }
            let chunk = &mut list[end - bits as usize..end];
            chunk.sort_by_key(|node| node.literal);
            for node in chunk.iter() {
                self.codes[node.literal as usize] = HCode {
                    code: reverse_bits(code, n as u8),
                    len: n as u16,
                };
                code = code.wrapping_add(1);
            }
            end -= bits as usize;
        }
    }

    fn generate(&mut self, freq: &[i32], max_bits: i32) {
        let mut list = Vec::with_capacity(freq.len() + 1);
        for (i, &f) in freq.iter().enumerate() {
            if f != 0 {
                list.push(LiteralNode {
                    literal: i as u16,
                    freq: f,
                });
            } else {
                self.codes[i].len = 0;
            }
        }
        if list.len() <= 2 {
            for (i, node) in list.iter().enumerate() {
                self.codes[node.literal as usize] = HCode {
                    code: i as u16,
                    len: 1,
                };
            }
            return;
        }
        list.sort_by(|a, b| a.freq.cmp(&b.freq).then(a.literal.cmp(&b.literal)));
        let bit_count = Self::bit_counts(&list, max_bits);
        self.assign_encoding_and_size(&bit_count, &mut list);
    }
}

/// LSB-first bit output (Go's buffering does not change the byte stream).
#[derive(Debug, Default)]
struct BitOut {
    out: Vec<u8>,
    bits: u64,
    nbits: u32,
}

impl BitOut {
    fn write_bits(&mut self, b: u32, nb: u32) {
        self.bits |= u64::from(b) << self.nbits;
        self.nbits += nb;
        while self.nbits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.nbits -= 8;
        }
    }

    fn write_code(&mut self, c: HCode) {
        self.write_bits(u32::from(c.code), u32::from(c.len));
    }

    /// Pads to a byte boundary with zero bits.
    fn flush(&mut self) {
        if self.nbits > 0 {
            self.out.push(self.bits as u8);
        }
        self.bits = 0;
        self.nbits = 0;
    }
}

/// `huffmanBitWriter`.
struct BlockWriter {
    bits: BitOut,
    literal_freq: Vec<i32>,
    offset_freq: Vec<i32>,
    codegen: Vec<u8>,
    codegen_freq: [i32; CODEGEN_CODE_COUNT],
    literal_encoding: HuffmanEncoder,
    offset_encoding: HuffmanEncoder,
    codegen_encoding: HuffmanEncoder,
    fixed_literal: HuffmanEncoder,
    fixed_offset: HuffmanEncoder,
}

impl BlockWriter {
    fn new() -> Self {
        BlockWriter {
            bits: BitOut::default(),
            literal_freq: vec![0; MAX_NUM_LIT],
            offset_freq: vec![0; OFFSET_CODE_COUNT],
            codegen: vec![0; MAX_NUM_LIT + OFFSET_CODE_COUNT + 1],
            codegen_freq: [0; CODEGEN_CODE_COUNT],
            literal_encoding: HuffmanEncoder::new(MAX_NUM_LIT),
            offset_encoding: HuffmanEncoder::new(OFFSET_CODE_COUNT),
            codegen_encoding: HuffmanEncoder::new(CODEGEN_CODE_COUNT),
            fixed_literal: HuffmanEncoder::fixed_literal(),
            fixed_offset: HuffmanEncoder::fixed_offset(),
        }
    }

    /// RFC 1951 3.2.7 run-length coding of the two code-length tables.
    fn generate_codegen(&mut self, num_literals: usize, num_offsets: usize) {
        self.codegen_freq = [0; CODEGEN_CODE_COUNT];
        let cg = &mut self.codegen;
        for (c, code) in cg
            .iter_mut()
            .zip(&self.literal_encoding.codes[..num_literals])
        {
            *c = code.len as u8;
        }
        for (c, code) in cg[num_literals..]
            .iter_mut()
            .zip(&self.offset_encoding.codes[..num_offsets])
        {
            *c = code.len as u8;
        }
        cg[num_literals + num_offsets] = BAD_CODE;
        let mut size = cg[0];
        let mut count: i32 = 1;
        let mut out = 0usize;
        let mut in_index = 1usize;
        while size != BAD_CODE {
            let next = cg[in_index];
            in_index += 1;
            if next == size {
                count += 1;
                continue;
            }
            if size != 0 {
                cg[out] = size;
                out += 1;
                self.codegen_freq[size as usize] += 1;
                count -= 1;
                while count >= 3 {
                    let n = count.min(6);
                    cg[out] = 16;
                    cg[out + 1] = (n - 3) as u8;
                    out += 2;
                    self.codegen_freq[16] += 1;
                    count -= n;
                }
            } else {
                while count >= 11 {
                    let n = count.min(138);
                    cg[out] = 18;
                    cg[out + 1] = (n - 11) as u8;
                    out += 2;
                    self.codegen_freq[18] += 1;
                    count -= n;
                }
                if count >= 3 {
                    cg[out] = 17;
                    cg[out + 1] = (count - 3) as u8;
                    out += 2;
                    self.codegen_freq[17] += 1;
                    count = 0;
                }
            }
            count -= 1;
            while count >= 0 {
                cg[out] = size;
                out += 1;
                self.codegen_freq[size as usize] += 1;
                count -= 1;
            }
            size = next;
            count = 1;
        }
        cg[out] = BAD_CODE;
    }

    fn dynamic_size(&self, extra_bits: i64) -> (i64, usize) {
        let mut num_codegens = CODEGEN_CODE_COUNT;
        while num_codegens > 4 && self.codegen_freq[CODEGEN_ORDER[num_codegens - 1]] == 0 {
            num_codegens -= 1;
        }
        let f = &self.codegen_freq;
        let header = 3
            + 5
            + 5
            + 4
            + 3 * num_codegens as i64
            + self.codegen_encoding.bit_length(f)
            + i64::from(f[16]) * 2
            + i64::from(f[17]) * 3
            + i64::from(f[18]) * 7;
        let size = header
            + self.literal_encoding.bit_length(&self.literal_freq)
            + self.offset_encoding.bit_length(&self.offset_freq)
            + extra_bits;
        (size, num_codegens)
    }

    fn fixed_size(&self, extra_bits: i64) -> i64 {
        3 + self.fixed_literal.bit_length(&self.literal_freq)
            + self.fixed_offset.bit_length(&self.offset_freq)
            + extra_bits
    }

    fn write_dynamic_header(
        &mut self,
        num_literals: usize,
        num_offsets: usize,
        num_codegens: usize,
        eof: bool,
    ) {
        self.bits.write_bits(if eof { 5 } else { 4 }, 3);
        self.bits.write_bits((num_literals - 257) as u32, 5);
        self.bits.write_bits((num_offsets - 1) as u32, 5);
        self.bits.write_bits((num_codegens - 4) as u32, 4);
        for &o in CODEGEN_ORDER.iter().take(num_codegens) {
            self.bits
                .write_bits(u32::from(self.codegen_encoding.codes[o].len), 3);
        }
        let mut i = 0;
        loop {
            let word = self.codegen[i];
            i += 1;
            if word == BAD_CODE {
                break;
            }
            self.bits
                .write_code(self.codegen_encoding.codes[word as usize]);
            let extra = match word {
                16 => 2,
                17 => 3,
                18 => 7,
                _ => 0,
            };
            if extra > 0 {
                self.bits.write_bits(u32::from(self.codegen[i]), extra);
                i += 1;
            }
        }
    }

    fn write_stored_header(&mut self, length: usize, eof: bool) {
        self.bits.write_bits(u32::from(eof), 3);
        self.bits.flush();
        self.bits.write_bits(length as u32, 16);
        self.bits.write_bits(u32::from(!(length as u16)), 16);
    }

    fn index_tokens(&mut self, tokens: &[u32]) -> (usize, usize) {
        self.literal_freq.iter_mut().for_each(|f| *f = 0);
        self.offset_freq.iter_mut().for_each(|f| *f = 0);
        for &t in tokens {
            if t < MATCH_TYPE {
                self.literal_freq[t as usize] += 1;
                continue;
            }
            self.literal_freq
                [LENGTH_CODES_START + length_code((t - MATCH_TYPE) >> LENGTH_SHIFT)] += 1;
            self.offset_freq[offset_code(t & OFFSET_MASK)] += 1;
        }
        let mut num_literals = self.literal_freq.len();
        while self.literal_freq[num_literals - 1] == 0 {
            num_literals -= 1;
        }
        let mut num_offsets = self.offset_freq.len();
        while num_offsets > 0 && self.offset_freq[num_offsets - 1] == 0 {
            num_offsets -= 1;
        }
        if num_offsets == 0 {
            self.offset_freq[0] = 1;
            num_offsets = 1;
        }
        self.literal_encoding.generate(&self.literal_freq, 15);
        self.offset_encoding.generate(&self.offset_freq, 15);
        (num_literals, num_offsets)
    }

    fn write_tokens(&mut self, tokens: &[u32], fixed: bool) {
        for &t in tokens {
            let (le, oe) = if fixed {
                (&self.fixed_literal, &self.fixed_offset)
            } else {
                (&self.literal_encoding, &self.offset_encoding)
            };
            if t < MATCH_TYPE {
                let c = le.codes[t as usize];
                self.bits.write_code(c);
                continue;
            }
            let length = (t - MATCH_TYPE) >> LENGTH_SHIFT;
            let lc = length_code(length);
            let lcode = le.codes[lc + LENGTH_CODES_START];
            let offset = t & OFFSET_MASK;
            let oc = offset_code(offset);
            let ocode = oe.codes[oc];
            self.bits.write_code(lcode);
            if LENGTH_EXTRA_BITS[lc] > 0 {
                self.bits
                    .write_bits(length - LENGTH_BASE[lc], u32::from(LENGTH_EXTRA_BITS[lc]));
            }
            self.bits.write_code(ocode);
            if OFFSET_EXTRA_BITS[oc] > 0 {
                self.bits
                    .write_bits(offset - OFFSET_BASE[oc], u32::from(OFFSET_EXTRA_BITS[oc]));
            }
        }
    }

    /// Go's `writeBlock`: the smallest of fixed, dynamic and (when `input` is known) stored.
    fn write_block(&mut self, tokens: &[u32], eof: bool, input: Option<&[u8]>) {
        let mut tokens = tokens.to_vec();
        tokens.push(END_BLOCK_MARKER);
        let (num_literals, num_offsets) = self.index_tokens(&tokens);
        let stored = input.filter(|i| i.len() <= MAX_STORE_BLOCK_SIZE);
        let mut extra_bits: i64 = 0;
        if stored.is_some() {
            for code in LENGTH_CODES_START + 8..num_literals {
                extra_bits += i64::from(self.literal_freq[code])
                    * i64::from(LENGTH_EXTRA_BITS[code - LENGTH_CODES_START]);
            }
            for (freq, extra) in self.offset_freq[..num_offsets]
                .iter()
                .zip(OFFSET_EXTRA_BITS)
                .skip(4)
            {
                extra_bits += i64::from(*freq) * i64::from(extra);
            }
        }
        let mut size = self.fixed_size(extra_bits);
        let mut fixed = true;
        self.generate_codegen(num_literals, num_offsets);
        let cf = self.codegen_freq;
        self.codegen_encoding.generate(&cf, 7);
        let (dynamic_size, num_codegens) = self.dynamic_size(extra_bits);
        if dynamic_size < size {
            size = dynamic_size;
            fixed = false;
        }
        if let Some(input) = stored {
            if ((input.len() as i64) + 5) * 8 < size {
                self.write_stored_header(input.len(), eof);
                self.bits.out.extend_from_slice(input);
                return;
            }
        }
        if fixed {
            self.bits.write_bits(if eof { 3 } else { 2 }, 3);
        } else {
            self.write_dynamic_header(num_literals, num_offsets, num_codegens, eof);
        }
        self.write_tokens(&tokens, fixed);
    }
}

/// `compressionLevel`: lazy-matching parameters of levels 2-9.
#[derive(Debug, Clone, Copy)]
struct Params {
    good: usize,
    lazy: usize,
    nice: usize,
    chain: usize,
    fast_skip_hashing: usize,
}

fn params(level: u32) -> Option<Params> {
    let p = |good, lazy, nice, chain, fast_skip_hashing| Params {
        good,
        lazy,
        nice,
        chain,
        fast_skip_hashing,
    };
    Some(match level {
        2 => p(4, 0, 16, 8, 5),
        3 => p(4, 0, 32, 32, 6),
        4 => p(4, 4, 16, 16, SKIP_NEVER),
        5 => p(8, 16, 32, 32, SKIP_NEVER),
        6 => p(8, 16, 128, 128, SKIP_NEVER),
        7 => p(8, 32, 128, 256, SKIP_NEVER),
        8 => p(32, 128, 258, 1024, SKIP_NEVER),
        9 => p(32, 258, 258, 4096, SKIP_NEVER),
        _ => return None,
    })
}

/// Go's `flate.Writer` for levels 2-9.
pub struct DeflateWriter {
    p: Params,
    w: BlockWriter,
    sync: bool,
    chain_head: isize,
    hash_head: Vec<u32>,
    hash_prev: Vec<u32>,
    hash_offset: isize,
    index: isize,
    window: Vec<u8>,
    window_end: isize,
    block_start: isize,
    byte_available: bool,
    tokens: Vec<u32>,
    length: isize,
    offset: isize,
    max_insert_index: isize,
}

impl DeflateWriter {
    /// A writer at `level` (2..=9); other levels use different Go code paths and are refused.
    pub fn new(level: u32) -> Option<Self> {
        Some(DeflateWriter {
            p: params(level)?,
            w: BlockWriter::new(),
            sync: false,
            chain_head: -1,
            hash_head: vec![0; HASH_SIZE],
            hash_prev: vec![0; WINDOW_SIZE],
            hash_offset: 1,
            index: 0,
            window: vec![0; 2 * WINDOW_SIZE],
            window_end: 0,
            block_start: 0,
            byte_available: false,
            tokens: Vec::with_capacity(MAX_FLATE_BLOCK_TOKENS + 1),
            length: MIN_MATCH_LENGTH as isize - 1,
            offset: 0,
            max_insert_index: 0,
        })
    }

    fn fill(&mut self, b: &[u8]) -> usize {
        const WS: isize = WINDOW_SIZE as isize;
        if self.index >= 2 * WS - (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) as isize {
            self.window.copy_within(WINDOW_SIZE..2 * WINDOW_SIZE, 0);
            self.index -= WS;
            self.window_end -= WS;
            self.block_start = if self.block_start >= WS {
                self.block_start - WS
            } else {
                i32::MAX as isize
            };
            self.hash_offset += WS;
            if self.hash_offset > MAX_HASH_OFFSET {
                let delta = self.hash_offset - 1;
                self.hash_offset -= delta;
                self.chain_head -= delta;
                for v in self.hash_prev.iter_mut().chain(self.hash_head.iter_mut()) {
                    *v = if *v as isize > delta {
                        (*v as isize - delta) as u32
                    } else {
                        0
                    };
                }
            }
        }
        let start = self.window_end as usize;
        let n = b.len().min(self.window.len() - start);
        self.window[start..start + n].copy_from_slice(&b[..n]);
        self.window_end += n as isize;
        n
    }

    fn write_block(&mut self, index: isize) {
        if index > 0 {
            let input =
                (self.block_start <= index).then_some(self.block_start as usize..index as usize);
            self.block_start = index;
            let tokens = std::mem::take(&mut self.tokens);
            self.w
                .write_block(&tokens, false, input.map(|r| &self.window[r]));
            self.tokens = tokens;
            self.tokens.clear();
        }
    }

    fn find_match(
        &self,
        pos: usize,
        prev_head: isize,
        prev_length: usize,
        lookahead: usize,
    ) -> Option<(usize, usize)> {
        let min_match_look = MAX_MATCH_LENGTH.min(lookahead);
        let win = &self.window[..pos + min_match_look];
        let nice = self.p.nice.min(win.len() - pos);
        let mut tries = self.p.chain;
        let mut length = prev_length;
        if length >= self.p.good {
            tries >>= 2;
        }
        let mut w_end = win[pos + length];
        let w_pos = &win[pos..];
        let min_index = pos as isize - WINDOW_SIZE as isize;
        let mut found = None;
        let mut i = prev_head;
        while tries > 0 {
            let iu = i as usize;
            if w_end == win[iu + length] {
                let n = win[iu..iu + min_match_look]
                    .iter()
                    .zip(&w_pos[..min_match_look])
                    .take_while(|(a, b)| a == b)
                    .count();
                if n > length && (n > MIN_MATCH_LENGTH || pos - iu <= 4096) {
                    length = n;
                    found = Some((n, pos - iu));
                    if n >= nice {
                        break;
                    }
                    w_end = win[pos + n];
                }
            }
            if i == min_index {
                break;
            }
            i = self.hash_prev[iu & WINDOW_MASK] as isize - self.hash_offset;
            if i < min_index || i < 0 {
                break;
            }
            tries -= 1;
        }
        found
    }

    fn insert_hash(&mut self, index: usize) -> u32 {
        let h = hash4(&self.window[index..index + MIN_MATCH_LENGTH]);
        let hh = &mut self.hash_head[(h & HASH_MASK) as usize];
        self.hash_prev[index & WINDOW_MASK] = *hh;
        *hh = (index as isize + self.hash_offset) as u32;
        h
    }

    /// Go's `deflate()` step: LZ77 with lazy matching over the window.
    fn deflate(&mut self) {
        let min_len = MIN_MATCH_LENGTH as isize;
        if self.window_end - self.index < (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) as isize
            && !self.sync
        {
            return;
        }
        self.max_insert_index = self.window_end - (min_len - 1);
        let skip_never = self.p.fast_skip_hashing == SKIP_NEVER;
        loop {
            let lookahead = self.window_end - self.index;
            if lookahead < (MIN_MATCH_LENGTH + MAX_MATCH_LENGTH) as isize {
                if !self.sync {
                    break;
                }
                if lookahead == 0 {
                    if self.byte_available {
                        self.tokens
                            .push(u32::from(self.window[self.index as usize - 1]));
                        self.byte_available = false;
                    }
                    if !self.tokens.is_empty() {
                        self.write_block(self.index);
                    }
                    break;
                }
            }
            if self.index < self.max_insert_index {
                let h = hash4(
                    &self.window[self.index as usize..self.index as usize + MIN_MATCH_LENGTH],
                );
                let hh = &mut self.hash_head[(h & HASH_MASK) as usize];
                self.chain_head = *hh as isize;
                self.hash_prev[self.index as usize & WINDOW_MASK] = self.chain_head as u32;
                *hh = (self.index + self.hash_offset) as u32;
            }
            let prev_length = self.length;
            let prev_offset = self.offset;
            self.length = min_len - 1;
            self.offset = 0;
            let min_index = (self.index - WINDOW_SIZE as isize).max(0);
            let search = if skip_never {
                lookahead > prev_length && (prev_length as usize) < self.p.lazy
            } else {
                lookahead > min_len - 1
            };
            if self.chain_head - self.hash_offset >= min_index && search {
                if let Some((l, o)) = self.find_match(
                    self.index as usize,
                    self.chain_head - self.hash_offset,
                    MIN_MATCH_LENGTH - 1,
                    lookahead as usize,
                ) {
                    self.length = l as isize;
                    self.offset = o as isize;
                }
            }
            let emit_match = if skip_never {
                prev_length >= min_len && self.length <= prev_length
            } else {
                self.length >= min_len
            };
            if emit_match {
                let (l, o) = if skip_never {
                    (prev_length, prev_offset)
                } else {
                    (self.length, self.offset)
                };
                self.tokens.push(
                    MATCH_TYPE
                        | ((l as usize - BASE_MATCH_LENGTH) as u32) << LENGTH_SHIFT
                        | (o as usize - BASE_MATCH_OFFSET) as u32,
                );
                if self.length as usize <= self.p.fast_skip_hashing {
                    let new_index = if skip_never {
                        self.index + prev_length - 1
                    } else {
                        self.index + self.length
                    };
                    self.index += 1;
                    while self.index < new_index {
                        if self.index < self.max_insert_index {
                            self.insert_hash(self.index as usize);
                        }
                        self.index += 1;
                    }
                    if skip_never {
                        self.byte_available = false;
                        self.length = min_len - 1;
                    }
                } else {
                    self.index += self.length;
                }
                if self.tokens.len() == MAX_FLATE_BLOCK_TOKENS {
                    self.write_block(self.index);
                }
            } else {
                if !skip_never || self.byte_available {
                    let i = if skip_never {
                        self.index - 1
                    } else {
                        self.index
                    };
                    self.tokens.push(u32::from(self.window[i as usize]));
                    if self.tokens.len() == MAX_FLATE_BLOCK_TOKENS {
                        self.write_block(i + 1);
                    }
                }
                self.index += 1;
                if skip_never {
                    self.byte_available = true;
                }
            }
        }
    }

    /// Compresses `b` (Go's `Write`).
    pub fn write(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            self.deflate();
            let n = self.fill(b);
            b = &b[n..];
        }
    }

    /// Flushes the last block and the final empty stored block; returns the stream.
    pub fn finish(mut self) -> Vec<u8> {
        self.sync = true;
        self.deflate();
        self.w.write_stored_header(0, true);
        self.w.bits.flush();
        self.w.bits.out
    }
}

/// CRC-32 (IEEE) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// `gzip.NewWriterLevel(w, gzip.DefaultCompression)` over `data`, written in 32 KiB
/// pieces as BuildKit's `io.Copy` does: header `1f 8b 08 00`, mtime 0, xfl 0, OS 255.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut d = DeflateWriter::new(6).expect("level 6 is supported");
    for chunk in data.chunks(32 * 1024) {
        d.write(chunk);
    }
    out.extend_from_slice(&d.finish());
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_small_vectors() {
        // Rows of Go's TestDeflate table for the levels this port covers.
        let e = [0x11u8; 8];
        let rows: [(&[u8], u32, &[u8]); 10] = [
            (&[], 6, &[1, 0, 0, 255, 255]),
            (&[0x11], 6, &[18, 4, 4, 0, 0, 255, 255]),
            (&[0x11], 4, &[18, 4, 4, 0, 0, 255, 255]),
            (&[], 2, &[1, 0, 0, 255, 255]),
            (&[0x11], 2, &[18, 4, 4, 0, 0, 255, 255]),
            (&[0x11, 0x12], 2, &[18, 20, 2, 4, 0, 0, 255, 255]),
            (&e, 2, &[18, 132, 2, 64, 0, 0, 0, 255, 255]),
            (&[0x11], 9, &[18, 4, 4, 0, 0, 255, 255]),
            (&[0x11, 0x12], 9, &[18, 20, 2, 4, 0, 0, 255, 255]),
            (&e, 9, &[18, 132, 2, 64, 0, 0, 0, 255, 255]),
        ];
        for (input, level, want) in rows {
            let mut d = DeflateWriter::new(level).unwrap();
            d.write(input);
            assert_eq!(d.finish(), want, "level {level} input {input:?}");
        }
    }

    #[test]
    fn crc_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn unsupported_levels_refused() {
        assert!(DeflateWriter::new(1).is_none() && DeflateWriter::new(10).is_none());
    }
}
