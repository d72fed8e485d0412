//! Lazy arithmetic flags.
//!
//! Flag-setting instructions only record what they did (`kind`, operands `a`/`b`, result
//! `res`); CF PF AF ZF SF OF are computed when something reads them (Jcc, SETcc, CMOVcc,
//! ADC/SBB, pushfd, lahf, [`super::Cpu::eflags`]). `kind` is `family << 2 | width`, width
//! 0/1/2 = 8/16/32 bits; `a` and `b` are zero-extended operands, `res` the unmasked result.
//!
//! # Where the SDM leaves flags undefined
//!
//! The choices follow QEMU/unicorn (the differential reference) where that was easy:
//!
//! | instruction            | undefined flag(s)     | this interpreter gives                            |
//! |------------------------|-----------------------|---------------------------------------------------|
//! | AND OR XOR TEST        | AF                    | 0                                                 |
//! | SHL/SAL SHR SAR        | AF (count ≠ 0)        | 0                                                 |
//! | SHL/SAL, count > 1     | OF                    | CF XOR MSB(result)                                |
//! | SHR, count > 1         | OF                    | MSB(operand >> (count-1)) XOR MSB(result) (= 0 for 32-bit) |
//! | SAR, count > 1         | OF                    | 0                                                 |
//! | SHL/SHR, count > width | CF                    | bit shifted out of the value widened to 64 bits (0) |
//! | ROL, count > 1         | OF                    | MSB(result) XOR CF                                |
//! | ROR, count > 1         | OF                    | MSB(result) XOR bit next to MSB                   |
//! | RCL RCR, count > 1     | OF                    | MSB(operand XOR result)                           |
//! | SHLD SHRD, count > 1   | OF                    | CF XOR MSB(result) / MSB(last shifted) XOR MSB(result) |
//! | SHLD SHRD              | AF                    | 0                                                 |
//! | SHLD SHRD 16-bit, count > 16 | result, CF      | the Intel/QEMU "dest:src:dest" 48-bit shift       |
//! | MUL IMUL               | SF ZF PF from the low half of the result, AF = 0  |                   |
//! | DIV IDIV               | all six               | unchanged                                         |
//! | BSF BSR                | CF OF SF AF PF        | CF = OF = AF = 0; SF, PF from the source          |
//! | BT BTS BTR BTC         | OF SF AF PF           | unchanged                                         |

/// EFLAGS bits.
pub mod bit {
    pub const CF: u32 = 1 << 0;
    pub const PF: u32 = 1 << 2;
    pub const AF: u32 = 1 << 4;
    pub const ZF: u32 = 1 << 6;
    pub const SF: u32 = 1 << 7;
    pub const DF: u32 = 1 << 10;
    pub const OF: u32 = 1 << 11;
    /// The six arithmetic flags.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
}

/// Flag families (shifted left by 2, plus the width index).
pub mod kind {
    /// `res = a + b`.
    pub const ADD: u8 = 0 << 2;
    /// `res = a + b + 1` (ADC with carry in; ADC without carry records ADD).
    pub const ADC: u8 = 1 << 2;
    /// `res = a - b` (also CMP and NEG with `a` = 0).
    pub const SUB: u8 = 2 << 2;
    /// `res = a - b - 1` (SBB with borrow in).
    pub const SBB: u8 = 3 << 2;
    /// `res = a + 1`; `b` holds the preserved CF (0/1).
    pub const INC: u8 = 4 << 2;
    /// `res = a - 1`; `b` holds the preserved CF (0/1).
    pub const DEC: u8 = 5 << 2;
    /// ZF SF PF from `res`; CF OF AF are the EFLAGS bits stored in `a` (logic ops, shifts, mul).
    pub const RES: u8 = 6 << 2;
    /// All six flags are the EFLAGS bits stored in `a`.
    pub const FIXED: u8 = 7 << 2;
}

const MASKS: [u32; 4] = [0xff, 0xffff, 0xffff_ffff, 0xffff_ffff];
const SIGNS: [u32; 4] = [0x80, 0x8000, 0x8000_0000, 0x8000_0000];
/// Shift that moves a value's sign bit to bit 31.
const TO_TOP: [u32; 4] = [24, 16, 0, 0];

/// The recorded last flag-setting operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LazyFlags {
    pub kind: u8,
    pub a: u32,
    pub b: u32,
    pub res: u32,
}

impl Default for LazyFlags {
    fn default() -> Self {
        LazyFlags::fixed(0)
    }
}

impl LazyFlags {
    /// Flags given explicitly as EFLAGS bits.
    #[inline(always)]
    pub fn fixed(bits: u32) -> Self {
        LazyFlags {
            kind: kind::FIXED | 2,
            a: bits & bit::ARITH,
            b: 0,
            res: 0,
        }
    }

    #[inline(always)]
    fn mask(&self) -> u32 {
        MASKS[(self.kind & 3) as usize]
    }

    #[inline(always)]
    fn sign(&self) -> u32 {
        SIGNS[(self.kind & 3) as usize]
    }

    pub fn cf(&self) -> bool {
        let (a, b) = (self.a, self.b);
        match self.kind >> 2 {
            0 => (self.res & self.mask()) < a,
            1 => (self.res & self.mask()) <= a,
            2 => a < b,
            3 => a <= b,
            4 | 5 => b != 0,
            _ => a & bit::CF != 0,
        }
    }

    pub fn zf(&self) -> bool {
        if self.kind >> 2 == 7 {
            self.a & bit::ZF != 0
        } else {
            self.res & self.mask() == 0
        }
    }

    pub fn sf(&self) -> bool {
        if self.kind >> 2 == 7 {
            self.a & bit::SF != 0
        } else {
            self.res & self.sign() != 0
        }
    }

    pub fn pf(&self) -> bool {
        if self.kind >> 2 == 7 {
            self.a & bit::PF != 0
        } else {
            (self.res as u8).count_ones() & 1 == 0
        }
    }

    pub fn of(&self) -> bool {
        let (a, b, r) = (self.a, self.b, self.res);
        match self.kind >> 2 {
            0 | 1 => (a ^ r) & (b ^ r) & self.sign() != 0,
            2 | 3 => (a ^ b) & (a ^ r) & self.sign() != 0,
            4 => r & self.mask() == self.sign(),
            5 => r & self.mask() == self.sign() - 1,
            _ => a & bit::OF != 0,
        }
    }

    pub fn af(&self) -> bool {
        let (a, b, r) = (self.a, self.b, self.res);
        match self.kind >> 2 {
            0..=3 => (a ^ b ^ r) & 0x10 != 0,
            4 | 5 => (a ^ r) & 0x10 != 0,
            _ => a & bit::AF != 0,
        }
    }

    /// The six arithmetic flags as EFLAGS bits.
    pub fn bits(&self) -> u32 {
        if self.kind >> 2 == 7 {
            return self.a;
        }
        let mut f = 0;
        if self.cf() {
            f |= bit::CF;
        }
        if self.pf() {
            f |= bit::PF;
        }
        if self.af() {
            f |= bit::AF;
        }
        if self.zf() {
            f |= bit::ZF;
        }
        if self.sf() {
            f |= bit::SF;
        }
        if self.of() {
            f |= bit::OF;
        }
        f
    }

    /// Evaluates condition code `cc` (the low nibble of the Jcc/SETcc/CMOVcc opcode).
    #[inline(always)]
    pub fn cond(&self, cc: u8) -> bool {
        // After CMP/SUB most conditions are a direct comparison of the operands.
        if self.kind >> 2 == 2 {
            let (a, b) = (self.a, self.b);
            let sh = TO_TOP[(self.kind & 3) as usize];
            let (sa, sb) = ((a << sh) as i32, (b << sh) as i32);
            match cc {
                2 => return a < b,
                3 => return a >= b,
                4 => return a == b,
                5 => return a != b,
                6 => return a <= b,
                7 => return a > b,
                12 => return sa < sb,
                13 => return sa >= sb,
                14 => return sa <= sb,
                15 => return sa > sb,
                _ => {}
            }
        }
        // After logic ops, shifts and multiplies: ZF SF from the result, CF OF stored.
        if self.kind >> 2 == 6 {
            let size = (self.kind & 3) as usize;
            let zf = self.res & MASKS[size] == 0;
            let sf = self.res & SIGNS[size] != 0;
            let cf = self.a & bit::CF != 0;
            let of = self.a & bit::OF != 0;
            let v = match cc >> 1 {
                0 => of,
                1 => cf,
                2 => zf,
                3 => cf || zf,
                4 => sf,
                5 => self.pf(),
                6 => sf != of,
                _ => zf || (sf != of),
            };
            return v != (cc & 1 != 0);
        }
        self.cond_slow(cc)
    }

    fn cond_slow(&self, cc: u8) -> bool {
        let v = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        v != (cc & 1 != 0)
    }
}
