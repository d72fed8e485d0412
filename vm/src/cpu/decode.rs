//! iced-x86 instructions -> [`Op`]s, one basic block at a time.
//!
//! A block ends after a control transfer or `int`, after [`MAX_BLOCK_OPS`] instructions,
//! or when the next instruction would start on another page; the last instruction may
//! straddle into the next page. An instruction that cannot run (unmapped bytes, invalid or
//! unsupported, privileged) ends the block before it; if it is the first one, decoding
//! fails with the fault it raises, so it is reported when execution actually reaches it.
//!
//! Not supported (decoded as [`FaultKind::InvalidOpcode`]): the 0x67 address-size prefix,
//! 16-bit near branches (0x66 on jmp/call/ret/jcc), segment-register operands, x87/SIMD,
//! and anything not listed in [`translate`]. FS/GS segment overrides are accepted with a
//! segment base of 0 (flat, like every other segment).

use iced_x86::{
    Code, ConditionCode, Decoder, DecoderError, DecoderOptions, Instruction, Mnemonic, OpKind,
    Register,
};

use super::exec::arith::{self, Adc, Add, Cmp, Dec, Inc, Neg, Sbb, Sub};
use super::exec::bit::{self, Bt, Btc, Btr, Bts};
use super::exec::fast::Form;
use super::exec::logic::{self, And, Not, Or, Test, Xor};
use super::exec::shift::{self, Rcl, Rcr, Rol, Ror, Sar, Shl, Shr};
use super::exec::{control, fast, misc, mov, muldiv, stack, string, MemLoc, RegLoc};
use super::op::{threaded, Handler, Op, NO_REG};
use super::width::{W16, W32, W8};
use super::FaultKind;
use crate::memory::{GuestMemory, MemFault, PAGE_SIZE};

/// Most instructions in one block.
pub const MAX_BLOCK_OPS: usize = 64;

/// Longest x86 instruction.
const MAX_INSN_LEN: u32 = 15;

const INVALID: FaultKind = FaultKind::InvalidOpcode;

/// A fused op: the op at `index` runs `span` instructions; `single` is its handler for
/// its own instruction alone (to unfuse it when a block is cut short inside the span).
#[derive(Clone, Copy)]
pub struct Fusion {
    pub index: u8,
    pub span: u8,
    pub single: Handler,
}

/// A decoded block: its ops, how many of them are guest instructions, the address just
/// past the last one, and which ops were fused with their successors.
///
/// `ops` always ends with an op that leaves the block: the last instruction when it is a
/// branch or `int`, otherwise an added [`end_of_block`] jump (which retires nothing), so
/// threaded handlers can always continue to the next op.
pub struct Decoded {
    pub ops: Vec<Op>,
    pub insns: usize,
    pub end: u32,
    pub fused: Vec<Fusion>,
}

/// The synthetic last op of a block that does not end in a branch: jumps to `to`.
pub fn end_of_block(to: u32) -> Op {
    Op {
        imm: to,
        ..Op::new(threaded(control::jmp), 0)
    }
}

/// Decodes the block starting at `start`.
pub fn decode_block(mem: &GuestMemory, start: u32) -> Result<Decoded, FaultKind> {
    let buf = fetch(mem, start)?;
    let mut decoder = Decoder::with_ip(32, &buf, start as u64, DecoderOptions::NONE);
    let mut instr = Instruction::default();
    let mut ops = Vec::new();
    let mut ip = start;
    let mut ended = false;
    let mut forms = Vec::new();
    loop {
        decoder.decode_out(&mut instr);
        let result = if instr.is_invalid() {
            Err(match decoder.last_error() {
                DecoderError::NoMoreBytes => FaultKind::Page(MemFault {
                    addr: start.wrapping_add(buf.len() as u32),
                    write: false,
                }),
                _ => INVALID,
            })
        } else {
            let off = ip.wrapping_sub(start) as usize;
            translate(&instr, &buf[off..off + instr.len()])
        };
        match result {
            Ok((mut op, ends_block)) => {
                let form = form_of(&instr, &op);
                if let Some(h) = form.and_then(fast::single_handler) {
                    op.exec = h;
                }
                forms.push(form);
                ops.push(op);
                ip = instr.next_ip32();
                ended = ends_block;
                if ends_block || ops.len() >= MAX_BLOCK_OPS || ip / PAGE_SIZE != start / PAGE_SIZE {
                    break;
                }
            }
            Err(kind) if ops.is_empty() => return Err(kind),
            Err(_) => break,
        }
    }
    let insns = ops.len();
    let fused = fuse(&mut ops, &forms);
    if !ended {
        ops.push(end_of_block(ip));
    }
    Ok(Decoded {
        ops,
        insns,
        end: ip,
        fused,
    })
}

/// Replaces the first op of each frequent sequence of fast forms with a fused handler
/// (left to right, sequences not overlapping). The other ops stay as they are: the fused
/// handler hands over to them when their fast path does not apply.
fn fuse(ops: &mut [Op], forms: &[Option<Form>]) -> Vec<Fusion> {
    let mut fused = Vec::new();
    let mut i = 0;
    while i < forms.len() {
        match fast::fused_handler(&forms[i..]) {
            Some((handler, span)) => {
                fused.push(Fusion {
                    index: i as u8,
                    span: span as u8,
                    single: ops[i].exec,
                });
                ops[i].exec = handler;
                i += span;
            }
            None => i += 1,
        }
    }
    fused
}

/// A `jcc rel` (not `loop`/`jecxz`, which also have condition-like codes).
fn is_jcc(instr: &Instruction) -> bool {
    instr.op_count() == 1
        && instr.op_kind(0) == OpKind::NearBranch32
        && instr.condition_code() != ConditionCode::None
        && !matches!(
            instr.mnemonic(),
            Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne | Mnemonic::Jecxz | Mnemonic::Jmp
        )
}

/// The [`Form`] of an instruction the [`fast`] handlers take: 32-bit operands, memory
/// operands `[base+disp]` (no index), in the op layout `translate` gave it.
fn form_of(instr: &Instruction, op: &Op) -> Option<Form> {
    let width = |i: u32| match instr.op_kind(i) {
        OpKind::Register => gpr(instr.op_register(i)).map(|(_, w)| w),
        _ => None,
    };
    let r32 = |i: u32| width(i) == Some(4);
    let mem = |i: u32, size: usize| {
        instr.op_kind(i) == OpKind::Memory && instr.memory_size().size() == size && base_disp(op)
    };
    let imm = |i: u32| instr.op_kind(i) == OpKind::Immediate32;
    let two = instr.op_count() == 2;
    Some(match instr.mnemonic() {
        Mnemonic::Push if instr.op_count() == 1 && r32(0) => Form::Push,
        Mnemonic::Pop if instr.op_count() == 1 && r32(0) => Form::Pop,
        Mnemonic::Lea if two && r32(0) && base_disp(op) => Form::Lea,
        Mnemonic::Mov if two && r32(0) && r32(1) => Form::MovReg,
        Mnemonic::Mov if two && r32(0) && mem(1, 4) => Form::Load,
        Mnemonic::Mov if two && mem(0, 4) && r32(1) => Form::Store,
        Mnemonic::Mov if two && mem(0, 1) && width(1) == Some(1) => Form::StoreByte,
        Mnemonic::Mov if two && r32(0) && imm(1) => Form::MovImm,
        Mnemonic::Movzx if two && r32(0) && mem(1, 1) => Form::MovzxByte,
        Mnemonic::Movsx if two && r32(0) && mem(1, 1) => Form::MovsxByte,
        Mnemonic::Movzx if two && r32(0) && width(1) == Some(1) => Form::MovzxReg,
        Mnemonic::Xor
            if two && r32(0) && r32(1) && instr.op0_register() == instr.op1_register() =>
        {
            Form::Zero
        }
        m if two && r32(0) && r32(1) => match m {
            Mnemonic::Add => Form::Add,
            Mnemonic::Sub => Form::Sub,
            Mnemonic::Cmp => Form::Cmp,
            Mnemonic::And => Form::And,
            Mnemonic::Or => Form::Or,
            Mnemonic::Xor => Form::Xor,
            Mnemonic::Test => Form::Test,
            _ => return None,
        },
        // One 8-bit register and a condition: only SETcc has that shape.
        _ if instr.op_count() == 1
            && width(0) == Some(1)
            && instr.condition_code() != ConditionCode::None =>
        {
            Form::Setcc
        }
        _ if is_jcc(instr) => Form::Jcc,
        _ => return None,
    })
}

/// The bytes from `start` to the end of its page, plus up to 15 bytes of the next page if
/// it is mapped (for an instruction that straddles the boundary).
fn fetch(mem: &GuestMemory, start: u32) -> Result<Vec<u8>, FaultKind> {
    let in_page = PAGE_SIZE - start % PAGE_SIZE;
    let mut buf = vec![0u8; in_page as usize];
    mem.read_bytes(start, &mut buf).map_err(FaultKind::Page)?;
    if let Some(next) = start.checked_add(in_page) {
        let mut more = [0u8; MAX_INSN_LEN as usize];
        if mem.read_bytes(next, &mut more).is_ok() {
            buf.extend_from_slice(&more);
        }
    }
    Ok(buf)
}

/// An operand as the handlers see it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Arg {
    /// Register number (8-bit: 4-7 = AH CH DH BH) and width in bytes.
    Reg(u8, u8),
    /// The memory operand (already stored in the op), width in bytes.
    Mem(u8),
    Imm(u32),
}

/// A general-purpose register: number and width in bytes.
fn gpr(r: Register) -> Option<(u8, u8)> {
    let n = r as u32;
    let (first_8, first_16, first_32) = (
        Register::AL as u32,
        Register::AX as u32,
        Register::EAX as u32,
    );
    if (first_8..first_8 + 8).contains(&n) {
        Some(((n - first_8) as u8, 1))
    } else if (first_16..first_16 + 8).contains(&n) {
        Some(((n - first_16) as u8, 2))
    } else if (first_32..first_32 + 8).contains(&n) {
        Some(((n - first_32) as u8, 4))
    } else {
        None
    }
}

fn reg32(r: Register) -> Result<u8, FaultKind> {
    match r {
        Register::None => Ok(NO_REG),
        r => match gpr(r) {
            Some((n, 4)) => Ok(n),
            _ => Err(INVALID),
        },
    }
}

fn fill_mem(instr: &Instruction, op: &mut Op) -> Result<(), FaultKind> {
    op.base = reg32(instr.memory_base())?;
    op.index = reg32(instr.memory_index())?;
    op.scale = instr.memory_index_scale().trailing_zeros() as u8;
    op.disp = instr.memory_displacement32();
    Ok(())
}

fn arg(instr: &Instruction, i: u32, op: &mut Op) -> Result<Arg, FaultKind> {
    match instr.op_kind(i) {
        OpKind::Register => match gpr(instr.op_register(i)) {
            Some((r, w)) => Ok(Arg::Reg(r, w)),
            None => Err(INVALID),
        },
        OpKind::Memory => {
            fill_mem(instr, op)?;
            Ok(Arg::Mem(instr.memory_size().size() as u8))
        }
        OpKind::Immediate8
        | OpKind::Immediate16
        | OpKind::Immediate32
        | OpKind::Immediate8to16
        | OpKind::Immediate8to32 => Ok(Arg::Imm(instr.immediate(i) as u32)),
        _ => Err(INVALID),
    }
}

/// Handler of `$m::$f::<W, extra.., Loc>` for a width in bytes and a register/memory r/m.
macro_rules! wl {
    ($m:ident::$f:ident, $w:expr, $mem:expr $(, $t:ty)*) => {
        match ($w, $mem) {
            (1, false) => threaded($m::$f::<W8 $(, $t)*, RegLoc>),
            (1, true) => threaded($m::$f::<W8 $(, $t)*, MemLoc>),
            (2, false) => threaded($m::$f::<W16 $(, $t)*, RegLoc>),
            (2, true) => threaded($m::$f::<W16 $(, $t)*, MemLoc>),
            (4, false) => threaded($m::$f::<W32 $(, $t)*, RegLoc>),
            (4, true) => threaded($m::$f::<W32 $(, $t)*, MemLoc>),
            _ => return Err(INVALID),
        }
    };
}

/// Handler of `$m::$f::<W, extra..>` for 16- or 32-bit operands.
macro_rules! w1632 {
    ($m:ident::$f:ident, $w:expr $(, $t:tt)*) => {
        match $w {
            2 => threaded($m::$f::<W16 $(, $t)*>),
            4 => threaded($m::$f::<W32 $(, $t)*>),
            _ => return Err(INVALID),
        }
    };
}

/// Handler of `$e` with the const `$c` bound to the condition code `$cc` (0..=15).
macro_rules! by_cc {
    ($cc:expr, $c:ident => $e:expr) => {
        match $cc & 15 {
            0 => {
                const $c: u8 = 0;
                threaded($e)
            }
            1 => {
                const $c: u8 = 1;
                threaded($e)
            }
            2 => {
                const $c: u8 = 2;
                threaded($e)
            }
            3 => {
                const $c: u8 = 3;
                threaded($e)
            }
            4 => {
                const $c: u8 = 4;
                threaded($e)
            }
            5 => {
                const $c: u8 = 5;
                threaded($e)
            }
            6 => {
                const $c: u8 = 6;
                threaded($e)
            }
            7 => {
                const $c: u8 = 7;
                threaded($e)
            }
            8 => {
                const $c: u8 = 8;
                threaded($e)
            }
            9 => {
                const $c: u8 = 9;
                threaded($e)
            }
            10 => {
                const $c: u8 = 10;
                threaded($e)
            }
            11 => {
                const $c: u8 = 11;
                threaded($e)
            }
            12 => {
                const $c: u8 = 12;
                threaded($e)
            }
            13 => {
                const $c: u8 = 13;
                threaded($e)
            }
            14 => {
                const $c: u8 = 14;
                threaded($e)
            }
            _ => {
                const $c: u8 = 15;
                threaded($e)
            }
        }
    };
}

/// The x86 condition-code nibble (0 = O ... 15 = G) of a Jcc/SETcc/CMOVcc.
fn cc(instr: &Instruction) -> Result<u8, FaultKind> {
    match instr.condition_code() as u8 {
        0 => Err(INVALID),
        n => Ok(n - 1),
    }
}

/// Whether the legacy prefixes include 0x67 (16-bit addressing: not supported).
fn has_addr_size_prefix(bytes: &[u8]) -> bool {
    for &b in bytes {
        match b {
            0x67 => return true,
            0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x66 | 0xf0 | 0xf2 | 0xf3 => {}
            _ => return false,
        }
    }
    false
}

/// Translates one instruction; the flag says whether it ends the block.
fn translate(instr: &Instruction, bytes: &[u8]) -> Result<(Op, bool), FaultKind> {
    if has_addr_size_prefix(bytes) {
        return Err(INVALID);
    }
    if instr.is_privileged() {
        return Err(FaultKind::GeneralProtection);
    }
    let mut op = Op::new(threaded(misc::nop), instr.len() as u8);
    let next = instr.next_ip32();
    let mut ends = false;
    use Mnemonic as M;
    op.exec = match instr.mnemonic() {
        M::Add => alu::<Add>(instr, &mut op)?,
        M::Adc => alu::<Adc>(instr, &mut op)?,
        M::Sub => alu::<Sub>(instr, &mut op)?,
        M::Sbb => alu::<Sbb>(instr, &mut op)?,
        M::Cmp => alu::<Cmp>(instr, &mut op)?,
        M::And => alu::<And>(instr, &mut op)?,
        M::Or => alu::<Or>(instr, &mut op)?,
        M::Test => alu::<Test>(instr, &mut op)?,
        M::Xor => match (arg(instr, 0, &mut op)?, arg(instr, 1, &mut op)?) {
            (Arg::Reg(d, 4), Arg::Reg(s, 4)) if d == s => {
                op.r1 = d;
                threaded(logic::zero_r32)
            }
            _ => alu::<Xor>(instr, &mut op)?,
        },
        M::Inc => unary::<Inc>(instr, &mut op)?,
        M::Dec => unary::<Dec>(instr, &mut op)?,
        M::Neg => unary::<Neg>(instr, &mut op)?,
        M::Not => unary::<Not>(instr, &mut op)?,
        M::Mov => mov_(instr, &mut op)?,
        M::Movzx | M::Movsx => extend(instr, &mut op)?,
        M::Lea => match arg(instr, 0, &mut op)? {
            Arg::Reg(d, w) => {
                op.r1 = d;
                fill_mem(instr, &mut op)?;
                w1632!(mov::lea, w)
            }
            _ => return Err(INVALID),
        },
        M::Xchg => match (arg(instr, 0, &mut op)?, arg(instr, 1, &mut op)?) {
            (Arg::Reg(a, w), Arg::Reg(b, _)) => {
                op.r2 = a;
                op.r1 = b;
                wl!(mov::xchg, w, false)
            }
            (Arg::Mem(w), Arg::Reg(r, _)) | (Arg::Reg(r, _), Arg::Mem(w)) => {
                op.r1 = r;
                wl!(mov::xchg, w, true)
            }
            _ => return Err(INVALID),
        },
        M::Cmovo
        | M::Cmovno
        | M::Cmovb
        | M::Cmovae
        | M::Cmove
        | M::Cmovne
        | M::Cmovbe
        | M::Cmova
        | M::Cmovs
        | M::Cmovns
        | M::Cmovp
        | M::Cmovnp
        | M::Cmovl
        | M::Cmovge
        | M::Cmovle
        | M::Cmovg => {
            let c = cc(instr)?;
            let Arg::Reg(d, w) = arg(instr, 0, &mut op)? else {
                return Err(INVALID);
            };
            op.r1 = d;
            match (arg(instr, 1, &mut op)?, w) {
                (Arg::Reg(s, _), 2) => {
                    op.r2 = s;
                    by_cc!(c, C => mov::cmov::<W16, RegLoc, C>)
                }
                (Arg::Reg(s, _), 4) => {
                    op.r2 = s;
                    by_cc!(c, C => mov::cmov::<W32, RegLoc, C>)
                }
                (Arg::Mem(_), 2) => by_cc!(c, C => mov::cmov::<W16, MemLoc, C>),
                (Arg::Mem(_), 4) => by_cc!(c, C => mov::cmov::<W32, MemLoc, C>),
                _ => return Err(INVALID),
            }
        }
        M::Seto
        | M::Setno
        | M::Setb
        | M::Setae
        | M::Sete
        | M::Setne
        | M::Setbe
        | M::Seta
        | M::Sets
        | M::Setns
        | M::Setp
        | M::Setnp
        | M::Setl
        | M::Setge
        | M::Setle
        | M::Setg => {
            let c = cc(instr)?;
            match arg(instr, 0, &mut op)? {
                Arg::Reg(r, 1) => {
                    op.r2 = r;
                    op.aux = c;
                    by_cc!(c, C => mov::setcc::<RegLoc, C>)
                }
                Arg::Mem(1) => by_cc!(c, C => mov::setcc::<MemLoc, C>),
                _ => return Err(INVALID),
            }
        }
        M::Bswap => match arg(instr, 0, &mut op)? {
            Arg::Reg(r, 4) => {
                op.r1 = r;
                threaded(mov::bswap)
            }
            _ => return Err(INVALID),
        },
        M::Xlatb => threaded(mov::xlat),
        M::Cbw => threaded(misc::cbw),
        M::Cwde => threaded(misc::cwde),
        M::Cwd => threaded(misc::cwd),
        M::Cdq => threaded(misc::cdq),
        M::Push => match arg(instr, 0, &mut op)? {
            Arg::Reg(r, w) => {
                op.r2 = r;
                match w {
                    2 => threaded(stack::push::<W16, RegLoc>),
                    4 => threaded(stack::push::<W32, RegLoc>),
                    _ => return Err(INVALID),
                }
            }
            Arg::Mem(w) => match w {
                2 => threaded(stack::push::<W16, MemLoc>),
                4 => threaded(stack::push::<W32, MemLoc>),
                _ => return Err(INVALID),
            },
            Arg::Imm(v) => {
                op.imm = v;
                match instr.stack_pointer_increment() {
                    -2 => threaded(stack::push_imm::<W16>),
                    -4 => threaded(stack::push_imm::<W32>),
                    _ => return Err(INVALID),
                }
            }
        },
        M::Pop => match arg(instr, 0, &mut op)? {
            Arg::Reg(r, w) => {
                op.r2 = r;
                match w {
                    2 => threaded(stack::pop::<W16, RegLoc>),
                    4 => threaded(stack::pop::<W32, RegLoc>),
                    _ => return Err(INVALID),
                }
            }
            Arg::Mem(w) => match w {
                2 => threaded(stack::pop::<W16, MemLoc>),
                4 => threaded(stack::pop::<W32, MemLoc>),
                _ => return Err(INVALID),
            },
            Arg::Imm(_) => return Err(INVALID),
        },
        M::Pushad => threaded(stack::pusha::<W32>),
        M::Pusha => threaded(stack::pusha::<W16>),
        M::Popad => threaded(stack::popa::<W32>),
        M::Popa => threaded(stack::popa::<W16>),
        M::Pushfd => threaded(stack::pushf::<W32>),
        M::Pushf => threaded(stack::pushf::<W16>),
        M::Popfd => threaded(stack::popf::<W32>),
        M::Popf => threaded(stack::popf::<W16>),
        M::Leave => match instr.code() {
            Code::Leaved => threaded(stack::leave::<W32>),
            Code::Leavew => threaded(stack::leave::<W16>),
            _ => return Err(INVALID),
        },
        M::Enter => match instr.code() {
            Code::Enterd_imm16_imm8 => {
                op.imm = instr.immediate16() as u32;
                op.aux = instr.immediate8_2nd();
                threaded(stack::enter)
            }
            _ => return Err(INVALID),
        },
        M::Mul => one_operand(instr, &mut op, Mul1::Mul)?,
        M::Div => one_operand(instr, &mut op, Mul1::Div)?,
        M::Idiv => one_operand(instr, &mut op, Mul1::Idiv)?,
        M::Imul => match instr.op_count() {
            1 => one_operand(instr, &mut op, Mul1::Imul)?,
            2 | 3 => {
                let Arg::Reg(d, w) = arg(instr, 0, &mut op)? else {
                    return Err(INVALID);
                };
                op.r1 = d;
                let src = arg(instr, 1, &mut op)?;
                if let Arg::Reg(s, _) = src {
                    op.r2 = s;
                }
                let is_mem = matches!(src, Arg::Mem(_));
                if instr.op_count() == 3 {
                    let Arg::Imm(v) = arg(instr, 2, &mut op)? else {
                        return Err(INVALID);
                    };
                    op.imm = v;
                    match (w, is_mem) {
                        (2, false) => threaded(muldiv::imul3::<W16, RegLoc>),
                        (2, true) => threaded(muldiv::imul3::<W16, MemLoc>),
                        (4, false) => threaded(muldiv::imul3::<W32, RegLoc>),
                        (4, true) => threaded(muldiv::imul3::<W32, MemLoc>),
                        _ => return Err(INVALID),
                    }
                } else {
                    match (w, is_mem) {
                        (2, false) => threaded(muldiv::imul2::<W16, RegLoc>),
                        (2, true) => threaded(muldiv::imul2::<W16, MemLoc>),
                        (4, false) => threaded(muldiv::imul2::<W32, RegLoc>),
                        (4, true) => threaded(muldiv::imul2::<W32, MemLoc>),
                        _ => return Err(INVALID),
                    }
                }
            }
            _ => return Err(INVALID),
        },
        M::Shl | M::Sal => shifter::<Shl>(instr, &mut op)?,
        M::Shr => shifter::<Shr>(instr, &mut op)?,
        M::Sar => shifter::<Sar>(instr, &mut op)?,
        M::Rol => shifter::<Rol>(instr, &mut op)?,
        M::Ror => shifter::<Ror>(instr, &mut op)?,
        M::Rcl => shifter::<Rcl>(instr, &mut op)?,
        M::Rcr => shifter::<Rcr>(instr, &mut op)?,
        M::Shld | M::Shrd => {
            let dst = arg(instr, 0, &mut op)?;
            let Arg::Reg(s, _) = arg(instr, 1, &mut op)? else {
                return Err(INVALID);
            };
            op.r1 = s;
            shift_count(instr, 2, &mut op)?;
            let left = instr.mnemonic() == M::Shld;
            match (dst, left) {
                (Arg::Reg(d, w), true) => {
                    op.r2 = d;
                    shxd_pick::<true>(w, false)?
                }
                (Arg::Reg(d, w), false) => {
                    op.r2 = d;
                    shxd_pick::<false>(w, false)?
                }
                (Arg::Mem(w), true) => shxd_pick::<true>(w, true)?,
                (Arg::Mem(w), false) => shxd_pick::<false>(w, true)?,
                _ => return Err(INVALID),
            }
        }
        M::Bt => bit_test::<Bt>(instr, &mut op)?,
        M::Bts => bit_test::<Bts>(instr, &mut op)?,
        M::Btr => bit_test::<Btr>(instr, &mut op)?,
        M::Btc => bit_test::<Btc>(instr, &mut op)?,
        M::Bsf | M::Bsr => {
            let Arg::Reg(d, w) = arg(instr, 0, &mut op)? else {
                return Err(INVALID);
            };
            op.r1 = d;
            let src = arg(instr, 1, &mut op)?;
            if let Arg::Reg(s, _) = src {
                op.r2 = s;
            }
            let is_mem = matches!(src, Arg::Mem(_));
            match (w, is_mem, instr.mnemonic() == M::Bsr) {
                (2, false, false) => threaded(bit::bsf::<W16, RegLoc, false>),
                (2, true, false) => threaded(bit::bsf::<W16, MemLoc, false>),
                (4, false, false) => threaded(bit::bsf::<W32, RegLoc, false>),
                (4, true, false) => threaded(bit::bsf::<W32, MemLoc, false>),
                (2, false, true) => threaded(bit::bsf::<W16, RegLoc, true>),
                (2, true, true) => threaded(bit::bsf::<W16, MemLoc, true>),
                (4, false, true) => threaded(bit::bsf::<W32, RegLoc, true>),
                (4, true, true) => threaded(bit::bsf::<W32, MemLoc, true>),
                _ => return Err(INVALID),
            }
        }
        M::Jmp => {
            ends = true;
            match instr.op_kind(0) {
                OpKind::NearBranch32 => {
                    op.imm = instr.near_branch32();
                    threaded(control::jmp)
                }
                _ => match arg(instr, 0, &mut op)? {
                    Arg::Reg(r, 4) => {
                        op.r2 = r;
                        threaded(control::jmp_rm::<RegLoc>)
                    }
                    Arg::Mem(4) => threaded(control::jmp_rm::<MemLoc>),
                    _ => return Err(INVALID),
                },
            }
        }
        M::Jo
        | M::Jno
        | M::Jb
        | M::Jae
        | M::Je
        | M::Jne
        | M::Jbe
        | M::Ja
        | M::Js
        | M::Jns
        | M::Jp
        | M::Jnp
        | M::Jl
        | M::Jge
        | M::Jle
        | M::Jg => {
            if instr.op_kind(0) != OpKind::NearBranch32 {
                return Err(INVALID);
            }
            ends = true;
            op.imm = instr.near_branch32();
            op.disp = next;
            op.aux = cc(instr)?;
            by_cc!(op.aux, C => control::jcc::<C>)
        }
        M::Call => {
            ends = true;
            match instr.op_kind(0) {
                OpKind::NearBranch32 => {
                    op.imm = instr.near_branch32();
                    op.disp = next;
                    fast::call_rel
                }
                _ => {
                    let a = arg(instr, 0, &mut op)?;
                    op.imm = next;
                    match a {
                        Arg::Reg(r, 4) => {
                            op.r2 = r;
                            threaded(control::call_rm::<RegLoc>)
                        }
                        Arg::Mem(4) => threaded(control::call_rm::<MemLoc>),
                        _ => return Err(INVALID),
                    }
                }
            }
        }
        M::Ret => {
            ends = true;
            match instr.code() {
                Code::Retnd => fast::ret,
                Code::Retnd_imm16 => {
                    op.imm = instr.immediate16() as u32;
                    fast::ret
                }
                _ => return Err(INVALID),
            }
        }
        M::Loop | M::Loope | M::Loopne | M::Jecxz => {
            match instr.code() {
                Code::Loop_rel8_32_ECX
                | Code::Loope_rel8_32_ECX
                | Code::Loopne_rel8_32_ECX
                | Code::Jecxz_rel8_32 => {}
                _ => return Err(INVALID),
            }
            ends = true;
            op.imm = instr.near_branch32();
            op.disp = next;
            match instr.mnemonic() {
                M::Loop => threaded(control::loop_::<0>),
                M::Loope => threaded(control::loop_::<1>),
                M::Loopne => threaded(control::loop_::<2>),
                _ => threaded(control::jecxz),
            }
        }
        M::Int => {
            if instr.immediate8() != 0x80 {
                // Linux has no other gate open to user mode: #GP, SIGSEGV.
                return Err(FaultKind::GeneralProtection);
            }
            ends = true;
            op.disp = next;
            threaded(control::int80)
        }
        M::Int3 => return Err(FaultKind::Breakpoint),
        M::Into => threaded(control::into),
        M::Movsb
        | M::Movsw
        | M::Movsd
        | M::Stosb
        | M::Stosw
        | M::Stosd
        | M::Lodsb
        | M::Lodsw
        | M::Lodsd
        | M::Cmpsb
        | M::Cmpsw
        | M::Cmpsd
        | M::Scasb
        | M::Scasw
        | M::Scasd => string_op(instr)?,
        M::Cld => threaded(misc::cld),
        M::Std => threaded(misc::std_),
        M::Clc => threaded(misc::clc),
        M::Stc => threaded(misc::stc),
        M::Cmc => threaded(misc::cmc),
        M::Sahf => threaded(misc::sahf),
        M::Lahf => threaded(misc::lahf),
        M::Nop | M::Pause | M::Endbr32 => threaded(misc::nop),
        M::Hlt
        | M::Cli
        | M::Sti
        | M::In
        | M::Out
        | M::Insb
        | M::Insw
        | M::Insd
        | M::Outsb
        | M::Outsw
        | M::Outsd => return Err(FaultKind::GeneralProtection),
        _ => return Err(INVALID),
    };
    Ok((op, ends))
}

fn alu<O: arith::Alu>(instr: &Instruction, op: &mut Op) -> Result<Handler, FaultKind> {
    Ok(match (arg(instr, 0, op)?, arg(instr, 1, op)?) {
        (Arg::Reg(d, w), Arg::Reg(s, _)) => {
            op.r2 = d;
            op.r1 = s;
            wl!(arith::alu_rm_r, w, false, O)
        }
        (Arg::Mem(w), Arg::Reg(s, _)) => {
            op.r1 = s;
            wl!(arith::alu_rm_r, w, true, O)
        }
        (Arg::Reg(d, w), Arg::Mem(_)) => {
            op.r1 = d;
            wl!(arith::alu_r_rm, w, true, O)
        }
        (Arg::Reg(d, w), Arg::Imm(v)) => {
            op.r2 = d;
            op.imm = v;
            wl!(arith::alu_rm_i, w, false, O)
        }
        (Arg::Mem(w), Arg::Imm(v)) => {
            op.imm = v;
            wl!(arith::alu_rm_i, w, true, O)
        }
        _ => return Err(INVALID),
    })
}

fn unary<U: arith::Unary>(instr: &Instruction, op: &mut Op) -> Result<Handler, FaultKind> {
    Ok(match arg(instr, 0, op)? {
        Arg::Reg(r, w) => {
            op.r2 = r;
            wl!(arith::unary, w, false, U)
        }
        Arg::Mem(w) => wl!(arith::unary, w, true, U),
        Arg::Imm(_) => return Err(INVALID),
    })
}

/// Whether the op's memory operand is `[base+disp]` (no index), the form the
/// [`fast`] handlers take.
fn base_disp(op: &Op) -> bool {
    op.base != NO_REG && op.index == NO_REG
}

fn mov_(instr: &Instruction, op: &mut Op) -> Result<Handler, FaultKind> {
    Ok(match (arg(instr, 0, op)?, arg(instr, 1, op)?) {
        (Arg::Reg(d, w), Arg::Reg(s, _)) => {
            op.r1 = d;
            op.r2 = s;
            wl!(mov::load, w, false)
        }
        (Arg::Reg(d, w), Arg::Mem(_)) => {
            op.r1 = d;
            wl!(mov::load, w, true)
        }
        (Arg::Mem(w), Arg::Reg(s, _)) => {
            op.r1 = s;
            wl!(mov::store, w, true)
        }
        (Arg::Reg(d, w), Arg::Imm(v)) => {
            op.r2 = d;
            op.imm = v;
            wl!(mov::store_imm, w, false)
        }
        (Arg::Mem(w), Arg::Imm(v)) => {
            op.imm = v;
            wl!(mov::store_imm, w, true)
        }
        _ => return Err(INVALID),
    })
}

fn extend(instr: &Instruction, op: &mut Op) -> Result<Handler, FaultKind> {
    let Arg::Reg(d, wd) = arg(instr, 0, op)? else {
        return Err(INVALID);
    };
    op.r1 = d;
    let (ws, is_mem) = match arg(instr, 1, op)? {
        Arg::Reg(s, ws) => {
            op.r2 = s;
            (ws, false)
        }
        Arg::Mem(ws) => (ws, true),
        Arg::Imm(_) => return Err(INVALID),
    };
    let zx = instr.mnemonic() == Mnemonic::Movzx;
    Ok(match (wd, ws, is_mem, zx) {
        (4, 1, false, true) => threaded(mov::movzx::<W32, W8, RegLoc>),
        (4, 1, true, true) => threaded(mov::movzx::<W32, W8, MemLoc>),
        (4, 2, false, true) => threaded(mov::movzx::<W32, W16, RegLoc>),
        (4, 2, true, true) => threaded(mov::movzx::<W32, W16, MemLoc>),
        (2, 1, false, true) => threaded(mov::movzx::<W16, W8, RegLoc>),
        (2, 1, true, true) => threaded(mov::movzx::<W16, W8, MemLoc>),
        (2, 2, false, true) => threaded(mov::movzx::<W16, W16, RegLoc>),
        (2, 2, true, true) => threaded(mov::movzx::<W16, W16, MemLoc>),
        (4, 1, false, false) => threaded(mov::movsx::<W32, W8, RegLoc>),
        (4, 1, true, false) => threaded(mov::movsx::<W32, W8, MemLoc>),
        (4, 2, false, false) => threaded(mov::movsx::<W32, W16, RegLoc>),
        (4, 2, true, false) => threaded(mov::movsx::<W32, W16, MemLoc>),
        (2, 1, false, false) => threaded(mov::movsx::<W16, W8, RegLoc>),
        (2, 1, true, false) => threaded(mov::movsx::<W16, W8, MemLoc>),
        (2, 2, false, false) => threaded(mov::movsx::<W16, W16, RegLoc>),
        (2, 2, true, false) => threaded(mov::movsx::<W16, W16, MemLoc>),
        _ => return Err(INVALID),
    })
}

#[derive(Clone, Copy)]
enum Mul1 {
    Mul,
    Imul,
    Div,
    Idiv,
}

fn one_operand(instr: &Instruction, op: &mut Op, which: Mul1) -> Result<Handler, FaultKind> {
    let (w, is_mem) = match arg(instr, 0, op)? {
        Arg::Reg(r, w) => {
            op.r2 = r;
            (w, false)
        }
        Arg::Mem(w) => (w, true),
        Arg::Imm(_) => return Err(INVALID),
    };
    Ok(match which {
        Mul1::Mul => wl!(muldiv::mul, w, is_mem),
        Mul1::Imul => wl!(muldiv::imul1, w, is_mem),
        Mul1::Div => wl!(muldiv::div, w, is_mem),
        Mul1::Idiv => wl!(muldiv::idiv, w, is_mem),
    })
}

/// Stores a shift count operand: an immediate in `op.imm`, or CL as `op.aux = 1`.
fn shift_count(instr: &Instruction, i: u32, op: &mut Op) -> Result<(), FaultKind> {
    match instr.op_kind(i) {
        OpKind::Register if instr.op_register(i) == Register::CL => op.aux = 1,
        OpKind::Immediate8 => op.imm = instr.immediate8() as u32,
        _ => return Err(INVALID),
    }
    Ok(())
}

fn shifter<S: shift::Shift>(instr: &Instruction, op: &mut Op) -> Result<Handler, FaultKind> {
    let dst = arg(instr, 0, op)?;
    shift_count(instr, 1, op)?;
    Ok(match dst {
        Arg::Reg(r, w) => {
            op.r2 = r;
            wl!(shift::shift, w, false, S)
        }
        Arg::Mem(w) => wl!(shift::shift, w, true, S),
        Arg::Imm(_) => return Err(INVALID),
    })
}

fn shxd_pick<const LEFT: bool>(w: u8, is_mem: bool) -> Result<Handler, FaultKind> {
    Ok(match (w, is_mem) {
        (2, false) => threaded(shift::shxd::<W16, RegLoc, LEFT>),
        (2, true) => threaded(shift::shxd::<W16, MemLoc, LEFT>),
        (4, false) => threaded(shift::shxd::<W32, RegLoc, LEFT>),
        (4, true) => threaded(shift::shxd::<W32, MemLoc, LEFT>),
        _ => return Err(INVALID),
    })
}

fn bit_test<B: bit::BitOp>(instr: &Instruction, op: &mut Op) -> Result<Handler, FaultKind> {
    let dst = arg(instr, 0, op)?;
    let imm = match arg(instr, 1, op)? {
        Arg::Reg(s, _) => {
            op.r1 = s;
            false
        }
        Arg::Imm(v) => {
            op.imm = v;
            true
        }
        Arg::Mem(_) => return Err(INVALID),
    };
    Ok(match (dst, imm) {
        (Arg::Reg(d, w), false) => {
            op.r2 = d;
            w1632!(bit::bt_reg, w, B, false)
        }
        (Arg::Reg(d, w), true) => {
            op.r2 = d;
            w1632!(bit::bt_reg, w, B, true)
        }
        (Arg::Mem(w), false) => w1632!(bit::bt_mem, w, B, false),
        (Arg::Mem(w), true) => w1632!(bit::bt_mem, w, B, true),
        _ => return Err(INVALID),
    })
}

fn string_op(instr: &Instruction) -> Result<Handler, FaultKind> {
    let rep = if instr.has_repne_prefix() {
        2
    } else if instr.has_rep_prefix() {
        1
    } else {
        0
    };
    macro_rules! reps {
        ($f:ident, $w:ty) => {
            match rep {
                0 => threaded(string::$f::<$w, 0>),
                1 => threaded(string::$f::<$w, 1>),
                _ => threaded(string::$f::<$w, 2>),
            }
        };
    }
    Ok(match instr.code() {
        Code::Movsb_m8_m8 => reps!(movs, W8),
        Code::Movsw_m16_m16 => reps!(movs, W16),
        Code::Movsd_m32_m32 => reps!(movs, W32),
        Code::Stosb_m8_AL => reps!(stos, W8),
        Code::Stosw_m16_AX => reps!(stos, W16),
        Code::Stosd_m32_EAX => reps!(stos, W32),
        Code::Lodsb_AL_m8 => reps!(lods, W8),
        Code::Lodsw_AX_m16 => reps!(lods, W16),
        Code::Lodsd_EAX_m32 => reps!(lods, W32),
        Code::Cmpsb_m8_m8 => reps!(cmps, W8),
        Code::Cmpsw_m16_m16 => reps!(cmps, W16),
        Code::Cmpsd_m32_m32 => reps!(cmps, W32),
        Code::Scasb_AL_m8 => reps!(scas, W8),
        Code::Scasw_AX_m16 => reps!(scas, W16),
        Code::Scasd_EAX_m32 => reps!(scas, W32),
        _ => return Err(INVALID),
    })
}
