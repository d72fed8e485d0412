//! `huffman_code.go`: length-limited Huffman codes from frequencies.

use crate::tables::*;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HCode {
    pub(crate) code: u16,
    pub(crate) len: u16,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LiteralNode {
    pub(crate) literal: u16,
    pub(crate) freq: i32,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LevelInfo {
    pub(crate) level: i32,
    pub(crate) last_freq: i32,
    pub(crate) next_char_freq: i32,
    pub(crate) next_pair_freq: i32,
    pub(crate) needed: i32,
}

/// `huffmanEncoder`: codes built from frequencies with a length limit.
#[derive(Debug, Clone)]
pub(crate) struct HuffmanEncoder {
    pub(crate) codes: Vec<HCode>,
}

impl HuffmanEncoder {
    pub(crate) fn new(size: usize) -> Self {
        HuffmanEncoder {
            codes: vec![HCode::default(); size],
        }
    }

    pub(crate) fn fixed_literal() -> Self {
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

    pub(crate) fn fixed_offset() -> Self {
        let mut h = Self::new(OFFSET_CODE_COUNT);
        for ch in 0..OFFSET_CODE_COUNT {
            h.codes[ch] = HCode {
                code: reverse_bits(ch as u16, 5),
                len: 5,
            };
        }
        h
    }

    pub(crate) fn bit_length(&self, freq: &[i32]) -> i64 {
        freq.iter()
            .enumerate()
            .filter(|(_, &f)| f != 0)
            .map(|(i, &f)| i64::from(f) * i64::from(self.codes[i].len))
            .sum()
    }

    /// Go's `bitCounts`: how many literals get each code length (package-merge).
    pub(crate) fn bit_counts(list: &[LiteralNode], mut max_bits: i32) -> Vec<i32> {
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

    pub(crate) fn assign_encoding_and_size(&mut self, bit_count: &[i32], list: &mut [LiteralNode]) {
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

    pub(crate) fn generate(&mut self, freq: &[i32], max_bits: i32) {
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
