//! One guest instruction -> IR, for the kinds the chain runs most (moves, stack, ALU,
//! compares and conditions, branches, `int 0x80`); [`Tx::native`] says no to the rest,
//! which then run on the interpreter.

use cranelift_codegen::ir::{types, InstBuilder, Value};

use super::translate::Tx;
use crate::cpu::flags::kind;
use crate::cpu::reg::ESP;
use crate::cpu::tier::native;
use crate::cpu::{Kind, Operand, Rep};

fn mask(w: u8) -> u32 {
    match w {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

impl Tx<'_> {
    /// Reads a register, memory or immediate operand of width `w`.
    fn read(&mut self, o: Operand, w: u8) -> Option<Value> {
        Some(match o {
            Operand::Reg(r, _) => self.get(r, w),
            Operand::Mem(m) => {
                let a = self.ea(&m);
                self.load(a, w)
            }
            Operand::Imm(v) => self.c32(v & mask(w)),
            _ => return None,
        })
    }

    /// Writes `v` to a register or memory operand of width `w` (memory: `addr` computed
    /// before anything was committed).
    fn write(&mut self, o: Operand, addr: Option<Value>, w: u8, v: Value) {
        match (o, addr) {
            (Operand::Reg(r, _), _) => self.set(r, w, v),
            (_, Some(a)) => self.store(a, w, v),
            _ => unreachable!("write to a non-location operand"),
        }
    }

    /// The width of a register or memory operand.
    fn width(o: Operand) -> Option<u8> {
        match o {
            Operand::Reg(_, w) => Some(w),
            Operand::Mem(m) => Some(m.size),
            _ => None,
        }
    }

    /// A destination operand: its width, its address when in memory, and its value when
    /// `read`.
    fn dest(&mut self, o: Operand, read: bool) -> Option<(u8, Option<Value>, Option<Value>)> {
        let w = Self::width(o)?;
        if !matches!(w, 1 | 2 | 4) {
            return None;
        }
        Some(match o {
            Operand::Reg(r, _) => (w, None, read.then(|| self.get(r, w))),
            Operand::Mem(m) => {
                let a = self.ea(&m);
                let v = read.then(|| self.load(a, w));
                (w, Some(a), v)
            }
            _ => return None,
        })
    }

    /// Translates the current instruction; false (before committing anything): the
    /// interpreter runs it.
    pub(super) fn native(&mut self) -> bool {
        let i = self.insn;
        if i.rep != Rep::None {
            return false;
        }
        let (o0, o1) = (i.operand(0), i.operand(1));
        match i.kind {
            Kind::Mov => {
                let Some((w, addr, _)) = self.dest(o0, false) else {
                    return false;
                };
                if !matches!(o1, Operand::Reg(..) | Operand::Mem(_) | Operand::Imm(_)) {
                    return false;
                }
                let v = self.read(o1, w).expect("checked");
                self.write(o0, addr, w, v);
            }
            Kind::Movzx | Kind::Movsx => {
                let (Operand::Reg(r, w), Some(ws)) = (o0, Self::width(o1)) else {
                    return false;
                };
                if !matches!(o1, Operand::Reg(..) | Operand::Mem(_)) || ws >= w {
                    return false;
                }
                let v = self.read(o1, ws).expect("checked");
                let v = if i.kind == Kind::Movsx {
                    let sh = 32 - 8 * ws as i64;
                    let v = self.b.ins().ishl_imm(v, sh);
                    self.b.ins().sshr_imm(v, sh)
                } else {
                    v
                };
                self.set(r, w, v);
            }
            Kind::Lea => {
                let (Operand::Reg(r, w), Operand::Mem(m)) = (o0, o1) else {
                    return false;
                };
                let a = self.ea(&m);
                self.set(r, w, a);
            }
            Kind::Push if i.osize == 4 => {
                let v = match o0 {
                    Operand::Reg(r, 4) => self.get(r, 4),
                    Operand::Imm(v) => self.c32(v),
                    Operand::Mem(m) if m.size == 4 => {
                        let a = self.ea(&m);
                        self.load(a, 4)
                    }
                    _ => return false,
                };
                let esp = self.get(ESP as u8, 4);
                let new = self.b.ins().iadd_imm(esp, -4);
                self.store(new, 4, v);
                self.set(ESP as u8, 4, new);
            }
            Kind::Pop if i.osize == 4 => {
                let Operand::Reg(r, 4) = o0 else {
                    return false;
                };
                let esp = self.get(ESP as u8, 4);
                let v = self.load(esp, 4);
                let up = self.b.ins().iadd_imm(esp, 4);
                self.set(ESP as u8, 4, up);
                self.set(r, 4, v);
            }
            Kind::Add | Kind::Sub | Kind::Cmp | Kind::And | Kind::Or | Kind::Xor | Kind::Test => {
                let Some((w, addr, Some(a))) = self.dest(o0, true) else {
                    return false;
                };
                let Some(b) = self.read(o1, w) else {
                    return false;
                };
                let (res, family) = match i.kind {
                    Kind::Add => (self.b.ins().iadd(a, b), kind::ADD),
                    Kind::Sub | Kind::Cmp => (self.b.ins().isub(a, b), kind::SUB),
                    Kind::And | Kind::Test => (self.b.ins().band(a, b), kind::RES),
                    Kind::Or => (self.b.ins().bor(a, b), kind::RES),
                    _ => (self.b.ins().bxor(a, b), kind::RES),
                };
                if !matches!(i.kind, Kind::Cmp | Kind::Test) {
                    let out = if w == 4 {
                        res
                    } else {
                        self.b.ins().band_imm(res, mask(w) as i64)
                    };
                    self.write(o0, addr, w, out);
                }
                if family == kind::RES {
                    let zero = self.c32(0);
                    self.record(family, w, zero, zero, res);
                } else {
                    self.record(family, w, a, b, res);
                }
            }
            Kind::Inc | Kind::Dec | Kind::Neg | Kind::Not => {
                let cf = matches!(i.kind, Kind::Inc | Kind::Dec).then(|| self.cf());
                let Some((w, addr, Some(a))) = self.dest(o0, true) else {
                    return false;
                };
                let res = match i.kind {
                    Kind::Inc => self.b.ins().iadd_imm(a, 1),
                    Kind::Dec => self.b.ins().iadd_imm(a, -1),
                    Kind::Neg => self.b.ins().ineg(a),
                    _ => self.b.ins().bnot(a),
                };
                let out = if w == 4 {
                    res
                } else {
                    self.b.ins().band_imm(res, mask(w) as i64)
                };
                self.write(o0, addr, w, out);
                match i.kind {
                    Kind::Inc => self.record(kind::INC, w, a, cf.expect("inc"), res),
                    Kind::Dec => self.record(kind::DEC, w, a, cf.expect("dec"), res),
                    Kind::Neg => {
                        let zero = self.c32(0);
                        self.record(kind::SUB, w, zero, a, res)
                    }
                    _ => {}
                }
            }
            Kind::Setcc => {
                let Some(cc) = i.cond else { return false };
                let Some((1, addr, _)) = self.dest(o0, false) else {
                    return false;
                };
                let Some(c) = self.cond(cc) else {
                    return false;
                };
                let v = self.b.ins().uextend(types::I32, c);
                self.write(o0, addr, 1, v);
            }
            Kind::Jcc => {
                let (Some(cc), Operand::Rel(t)) = (i.cond, o0) else {
                    return false;
                };
                let Some(c) = self.cond(cc) else {
                    return false;
                };
                let taken = self.b.create_block();
                let not = self.b.create_block();
                self.b.ins().brif(c, taken, &[], not, &[]);
                let n = self.index + 1;
                self.b.switch_to_block(taken);
                self.goto(n, t);
                self.b.switch_to_block(not);
                self.goto(n, i.next());
            }
            Kind::Jmp | Kind::Call if i.osize == 4 => {
                let to = match o0 {
                    Operand::Rel(_) => self.c32(0),
                    Operand::Reg(r, 4) => self.get(r, 4),
                    Operand::Mem(m) if m.size == 4 => {
                        let a = self.ea(&m);
                        self.load(a, 4)
                    }
                    _ => return false,
                };
                if i.kind == Kind::Call {
                    let esp = self.get(ESP as u8, 4);
                    let new = self.b.ins().iadd_imm(esp, -4);
                    let ret = self.c32(i.next());
                    self.store(new, 4, ret);
                    self.set(ESP as u8, 4, new);
                }
                match o0 {
                    Operand::Rel(t) => self.goto(self.index + 1, t),
                    _ => self.chain(self.index + 1, to),
                }
            }
            Kind::Ret if i.osize == 4 => {
                let extra = match o0 {
                    Operand::Imm(v) => v & 0xffff,
                    Operand::Other if i.count == 0 => 0,
                    _ => return false,
                };
                let esp = self.get(ESP as u8, 4);
                let to = self.load(esp, 4);
                let up = self.b.ins().iadd_imm(esp, 4 + extra as i64);
                self.set(ESP as u8, 4, up);
                self.chain(self.index + 1, to);
            }
            Kind::Int if o0 == Operand::Imm(0x80) => {
                let next = self.c32(i.next());
                self.exit(native::SYSCALL, self.index + 1, next);
            }
            _ => return false,
        }
        true
    }
}
