//! Guest code -> [`Op`]s, one basic block at a time.
//!
//! Each instruction goes through three steps, each in its own file:
//! 1. [`iced`]: iced-x86 decodes the bytes (prefixes, ModRM, SIB, the opcode maps) and
//!    the result becomes an [`Insn`]: the op list's [`Kind`](super::ops::Kind), typed
//!    operands, operand size, condition, `rep` prefix;
//! 2. [`select`]: the op list's selector for that kind checks the operand form and picks
//!    the handler, filling the op's operand slots;
//! 3. [`super::ops::form_of`]: a form with a fast path gets the fast handler, and
//!    [`fuse`] replaces the first op of each listed sequence with a fused handler.
//!
//! A block ends after a control transfer or `int`, after [`MAX_BLOCK_OPS`] instructions,
//! or when the next instruction would start on another page; the last instruction may
//! straddle into the next page. An instruction that cannot run (unmapped bytes, invalid or
//! unsupported, privileged) ends the block before it; if it is the first one, decoding
//! fails with the fault it raises, so it is reported when execution actually reaches it.
//!
//! Not supported (decoded as [`FaultKind::InvalidOpcode`]): the 0x67 address-size prefix,
//! 16-bit near branches (0x66 on jmp/call/ret/jcc), segment-register operands, x87/SIMD,
//! and anything not in the op list. FS/GS segment overrides are accepted with a segment
//! base of 0 (flat, like every other segment).

mod iced;
pub(super) mod select;

use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction};

use super::exec::control;
use super::insn::Insn;
use super::op::{threaded, Handler, Op};
use super::ops::{self, Form};
use super::FaultKind;
use crate::memory::{GuestMemory, MemFault, PAGE_SIZE};

/// Most instructions in one block.
pub const MAX_BLOCK_OPS: usize = 64;

/// Longest x86 instruction.
const MAX_INSN_LEN: u32 = 15;

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

/// The iced-x86 instruction decoded at `ip` from `buf` (which starts at `start`), as an
/// [`Insn`], or the fault it raises.
fn decode_next(
    decoder: &mut Decoder,
    instr: &mut Instruction,
    buf: &[u8],
    start: u32,
    ip: u32,
) -> Result<Insn, FaultKind> {
    decoder.decode_out(instr);
    if instr.is_invalid() {
        return Err(match decoder.last_error() {
            DecoderError::NoMoreBytes => FaultKind::Page(MemFault {
                addr: start.wrapping_add(buf.len() as u32),
                write: false,
            }),
            _ => FaultKind::InvalidOpcode,
        });
    }
    let off = ip.wrapping_sub(start) as usize;
    iced::insn(instr, &buf[off..off + instr.len()])
}

/// The op running `insn` alone (its fast handler where it has one), and its fast form.
pub(super) fn translate(insn: &Insn) -> Result<(Op, Option<Form>), FaultKind> {
    let mut op = Op::new(threaded(super::exec::misc::nop), insn.len);
    op.exec = ops::select(insn, &mut op)?;
    let form = ops::form_of(insn);
    if let Some(h) = form.and_then(ops::single_handler) {
        op.exec = h;
    }
    Ok((op, form))
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
        let result = decode_next(&mut decoder, &mut instr, &buf, start, ip)
            .and_then(|insn| Ok((insn, translate(&insn)?)));
        match result {
            Ok((insn, (op, form))) => {
                forms.push(form);
                ops.push(op);
                ip = insn.next();
                ended = insn.ends_block();
                if ended || ops.len() >= MAX_BLOCK_OPS || ip / PAGE_SIZE != start / PAGE_SIZE {
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

/// The instruction at `eip`, described, if the interpreter runs it (see
/// [`super::insn::describe`]).
pub(super) fn describe_one(mem: &GuestMemory, eip: u32) -> Result<Insn, FaultKind> {
    let buf = fetch(mem, eip)?;
    let mut decoder = Decoder::with_ip(32, &buf, eip as u64, DecoderOptions::NONE);
    let mut instr = Instruction::default();
    let insn = decode_next(&mut decoder, &mut instr, &buf, eip, eip)?;
    translate(&insn)?;
    Ok(insn)
}

/// Replaces the first op of each frequent sequence of fast forms with a fused handler
/// (left to right, sequences not overlapping). The other ops stay as they are: the fused
/// handler hands over to them when their fast path does not apply.
fn fuse(ops: &mut [Op], forms: &[Option<Form>]) -> Vec<Fusion> {
    let mut fused = Vec::new();
    let mut i = 0;
    while i < forms.len() {
        match ops::fused_handler(&forms[i..]) {
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
