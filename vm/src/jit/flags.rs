//! Conditions and CF from the lazy flags record, as IR.
//!
//! After CMP/SUB a condition is one comparison of the operands; after the other families
//! this block records (ADD, INC, DEC, logic ops) ZF SF CF OF come from the record the way
//! `cpu/flags.rs` computes them. PF and AF are not computed here: a condition on PF, or
//! on flags this block did not record, leaves to the interpreter.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::translate::{Flags, Tx};
use crate::cpu::flags::kind;
use crate::cpu::tier::layout;

fn mask(w: u8) -> i64 {
    match w {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

fn sign(w: u8) -> i64 {
    match w {
        1 => 0x80,
        2 => 0x8000,
        _ => 0x8000_0000,
    }
}

impl Tx<'_> {
    /// Condition `cc` (0 = O ... 15 = G) as an i8 0/1, or `None` when only the
    /// interpreter can tell.
    pub(super) fn cond(&mut self, cc: u8) -> Option<Value> {
        let Flags::Known {
            kind, a, b, res, ..
        } = self.flags
        else {
            return None;
        };
        let w = [1u8, 2, 4, 4][(kind & 3) as usize];
        let family = kind & !3;
        if family == kind::SUB {
            let sh = [24i64, 16, 0, 0][(kind & 3) as usize];
            let direct = |tx: &mut Self, cc: IntCC, signed: bool| {
                let (x, y) = if signed {
                    (tx.b.ins().ishl_imm(a, sh), tx.b.ins().ishl_imm(b, sh))
                } else {
                    (a, b)
                };
                tx.b.ins().icmp(cc, x, y)
            };
            match cc {
                2 => return Some(direct(self, IntCC::UnsignedLessThan, false)),
                3 => return Some(direct(self, IntCC::UnsignedGreaterThanOrEqual, false)),
                4 => return Some(direct(self, IntCC::Equal, false)),
                5 => return Some(direct(self, IntCC::NotEqual, false)),
                6 => return Some(direct(self, IntCC::UnsignedLessThanOrEqual, false)),
                7 => return Some(direct(self, IntCC::UnsignedGreaterThan, false)),
                12 => return Some(direct(self, IntCC::SignedLessThan, true)),
                13 => return Some(direct(self, IntCC::SignedGreaterThanOrEqual, true)),
                14 => return Some(direct(self, IntCC::SignedLessThanOrEqual, true)),
                15 => return Some(direct(self, IntCC::SignedGreaterThan, true)),
                _ => {}
            }
        }
        if cc >> 1 == 5 {
            return None; // PF
        }
        let masked = self.b.ins().band_imm(res, mask(w));
        let zf = self.b.ins().icmp_imm(IntCC::Equal, masked, 0);
        let s = self.b.ins().band_imm(res, sign(w));
        let sf = self.b.ins().icmp_imm(IntCC::NotEqual, s, 0);
        // OF as `LazyFlags::of` has it: the sign bit of `(p ^ q) & (r ^ t)`.
        let overflow = |tx: &mut Self, (p, q): (Value, Value), (r, t): (Value, Value)| {
            let x = tx.b.ins().bxor(p, q);
            let y = tx.b.ins().bxor(r, t);
            let o = tx.b.ins().band(x, y);
            let o = tx.b.ins().band_imm(o, sign(w));
            tx.b.ins().icmp_imm(IntCC::NotEqual, o, 0)
        };
        let (cf, of) = match family {
            kind::SUB => (
                self.b.ins().icmp(IntCC::UnsignedLessThan, a, b),
                overflow(self, (a, b), (a, res)),
            ),
            kind::ADD => (
                self.b.ins().icmp(IntCC::UnsignedLessThan, masked, a),
                overflow(self, (a, res), (b, res)),
            ),
            kind::INC | kind::DEC => {
                let cf = self.b.ins().icmp_imm(IntCC::NotEqual, b, 0);
                let at = if family == kind::INC {
                    sign(w)
                } else {
                    sign(w) - 1
                };
                (cf, self.b.ins().icmp_imm(IntCC::Equal, masked, at))
            }
            // Logic ops: CF = OF = 0 (this translator records RES only for them).
            kind::RES => {
                let zero = self.b.ins().iconst(types::I8, 0);
                (zero, zero)
            }
            _ => return None,
        };
        let v = match cc >> 1 {
            0 => of,
            1 => cf,
            2 => zf,
            3 => self.b.ins().bor(cf, zf),
            4 => sf,
            6 => self.b.ins().bxor(sf, of),
            _ => {
                let l = self.b.ins().bxor(sf, of);
                self.b.ins().bor(zf, l)
            }
        };
        Some(if cc & 1 != 0 {
            self.b.ins().bxor_imm(v, 1)
        } else {
            v
        })
    }

    /// CF as an i32 0/1 (INC and DEC keep it): from the record when this block made it,
    /// else from the `Cpu`'s record, family by family as `LazyFlags::cf` does.
    pub(super) fn cf(&mut self) -> Value {
        if let Flags::Known {
            kind, a, b, res, ..
        } = self.flags
        {
            let w = [1u8, 2, 4, 4][(kind & 3) as usize];
            let c = match kind & !3 {
                kind::SUB => self.b.ins().icmp(IntCC::UnsignedLessThan, a, b),
                kind::ADD => {
                    let r = self.b.ins().band_imm(res, mask(w));
                    self.b.ins().icmp(IntCC::UnsignedLessThan, r, a)
                }
                kind::INC | kind::DEC => return b,
                _ => return self.b.ins().iconst(types::I32, 0),
            };
            return self.b.ins().uextend(types::I32, c);
        }
        let st = super::translate::state();
        let k = self
            .b
            .ins()
            .uload8(types::I32, st, self.cpu, layout::FLAGS_KIND);
        let a = self.b.ins().load(types::I32, st, self.cpu, layout::FLAGS_A);
        let b = self.b.ins().load(types::I32, st, self.cpu, layout::FLAGS_B);
        let res = self
            .b
            .ins()
            .load(types::I32, st, self.cpu, layout::FLAGS_RES);
        let fam = self.b.ins().ushr_imm(k, 2);
        let widx = self.b.ins().band_imm(k, 3);
        let m8 = self.b.ins().iconst(types::I32, 0xff);
        let m16 = self.b.ins().iconst(types::I32, 0xffff);
        let m32 = self.b.ins().iconst(types::I32, -1);
        let is8 = self.b.ins().icmp_imm(IntCC::Equal, widx, 0);
        let is16 = self.b.ins().icmp_imm(IntCC::Equal, widx, 1);
        let m = self.b.ins().select(is16, m16, m32);
        let m = self.b.ins().select(is8, m8, m);
        let rm = self.b.ins().band(res, m);
        let add = self.b.ins().icmp(IntCC::UnsignedLessThan, rm, a);
        let adc = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, rm, a);
        let sub = self.b.ins().icmp(IntCC::UnsignedLessThan, a, b);
        let sbb = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, a, b);
        let incdec = self.b.ins().icmp_imm(IntCC::NotEqual, b, 0);
        let bit = self.b.ins().band_imm(a, 1);
        let fixed = self.b.ins().icmp_imm(IntCC::NotEqual, bit, 0);
        let pick = |tx: &mut Self, f: i64, yes: Value, no: Value| {
            let is = tx.b.ins().icmp_imm(IntCC::Equal, fam, f);
            tx.b.ins().select(is, yes, no)
        };
        let below6 = self.b.ins().icmp_imm(IntCC::UnsignedLessThan, fam, 6);
        let c = self.b.ins().select(below6, incdec, fixed);
        let c = pick(self, 3, sbb, c);
        let c = pick(self, 2, sub, c);
        let c = pick(self, 1, adc, c);
        let c = pick(self, 0, add, c);
        self.b.ins().uextend(types::I32, c)
    }
}
