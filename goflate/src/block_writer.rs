//! `huffman_bit_writer.go`: choosing stored, fixed or dynamic blocks and writing them.

use crate::huffman::*;
use crate::tables::*;

/// LSB-first bit output (Go's buffering does not change the byte stream).
#[derive(Debug, Default)]
pub(crate) struct BitOut {
    pub(crate) out: Vec<u8>,
    pub(crate) bits: u64,
    pub(crate) nbits: u32,
}

impl BitOut {
    pub(crate) fn write_bits(&mut self, b: u32, nb: u32) {
        self.bits |= u64::from(b) << self.nbits;
        self.nbits += nb;
        while self.nbits >= 8 {
            self.out.push(self.bits as u8);
            self.bits >>= 8;
            self.nbits -= 8;
        }
    }

    pub(crate) fn write_code(&mut self, c: HCode) {
        self.write_bits(u32::from(c.code), u32::from(c.len));
    }

    /// Pads to a byte boundary with zero bits.
    pub(crate) fn flush(&mut self) {
        if self.nbits > 0 {
            self.out.push(self.bits as u8);
        }
        self.bits = 0;
        self.nbits = 0;
    }
}

/// `huffmanBitWriter`.
pub(crate) struct BlockWriter {
    pub(crate) bits: BitOut,
    pub(crate) literal_freq: Vec<i32>,
    pub(crate) offset_freq: Vec<i32>,
    pub(crate) codegen: Vec<u8>,
    pub(crate) codegen_freq: [i32; CODEGEN_CODE_COUNT],
    pub(crate) literal_encoding: HuffmanEncoder,
    pub(crate) offset_encoding: HuffmanEncoder,
    pub(crate) codegen_encoding: HuffmanEncoder,
    pub(crate) fixed_literal: HuffmanEncoder,
    pub(crate) fixed_offset: HuffmanEncoder,
}

impl BlockWriter {
    pub(crate) fn new() -> Self {
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
    pub(crate) fn generate_codegen(&mut self, num_literals: usize, num_offsets: usize) {
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

    pub(crate) fn dynamic_size(&self, extra_bits: i64) -> (i64, usize) {
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

    pub(crate) fn fixed_size(&self, extra_bits: i64) -> i64 {
        3 + self.fixed_literal.bit_length(&self.literal_freq)
            + self.fixed_offset.bit_length(&self.offset_freq)
            + extra_bits
    }

    pub(crate) fn write_dynamic_header(
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

    pub(crate) fn write_stored_header(&mut self, length: usize, eof: bool) {
        self.bits.write_bits(u32::from(eof), 3);
        self.bits.flush();
        self.bits.write_bits(length as u32, 16);
        self.bits.write_bits(u32::from(!(length as u16)), 16);
    }

    pub(crate) fn index_tokens(&mut self, tokens: &[u32]) -> (usize, usize) {
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

    pub(crate) fn write_tokens(&mut self, tokens: &[u32], fixed: bool) {
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
    pub(crate) fn write_block(&mut self, tokens: &[u32], eof: bool, input: Option<&[u8]>) {
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
