//! A decoded guest instruction as data: what it is ([`Kind`]), its operands, and what it
//! touches.
//!
//! The decoder turns iced-x86's output into an [`Insn`] first and chooses the interpreter's
//! handler from it (see [`super::ops`]), so anything that needs to know what an instruction
//! does — the lockstep's store ranges, a translator to host code — reads the same
//! description the interpreter was built from, without its handler pointers.

use super::ops::{Kind, Stores};
use super::reg::{ECX, EDI, ESP};
use super::FaultKind;
use crate::memory::GuestMemory;

/// A memory operand `[base + index << scale + disp]` (flat segments: any segment
/// override adds 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemRef {
    /// Base register number, if any.
    pub base: Option<u8>,
    /// Index register number, if any.
    pub index: Option<u8>,
    /// log2 of the index's scale (0..=3).
    pub scale: u8,
    pub disp: u32,
    /// Bytes accessed (0 for `lea`, which accesses nothing).
    pub size: u8,
}

impl MemRef {
    /// The effective address with registers `regs`.
    pub fn address(&self, regs: &[u32; 8]) -> u32 {
        let mut a = self.disp;
        if let Some(b) = self.base {
            a = a.wrapping_add(regs[(b & 7) as usize]);
        }
        if let Some(i) = self.index {
            a = a.wrapping_add(regs[(i & 7) as usize] << (self.scale & 3));
        }
        a
    }

    /// `[base+disp]`: a base and no index, the form the fast paths take.
    pub fn is_base_disp(&self) -> bool {
        self.base.is_some() && self.index.is_none()
    }
}

/// Which implicit operand of a string instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrMem {
    /// `ds:[esi]` (or another segment: flat, so the same bytes).
    Source,
    /// `es:[edi]`.
    Dest,
}

/// One explicit operand, in Intel order (destination first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// Register number (for width 1: 4..=7 = AH CH DH BH) and width in bytes.
    Reg(u8, u8),
    Mem(MemRef),
    /// An immediate, sign- or zero-extended to 32 bits as the encoding says.
    Imm(u32),
    /// A near branch target (absolute address).
    Rel(u32),
    /// A string instruction's memory operand and its size in bytes.
    Str(StrMem, u8),
    /// An operand outside the supported set (segment, x87, SIMD register, 16-bit branch
    /// or addressing...): an instruction that needs it does not decode.
    Other,
}

/// A `rep`-family prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rep {
    None,
    /// `rep` / `repe`.
    Rep,
    /// `repne`.
    Repne,
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub kind: Kind,
    /// Its address.
    pub addr: u32,
    /// Its length in bytes.
    pub len: u8,
    /// The first three explicit operands (see `count`).
    pub operands: [Option<Operand>; 3],
    /// How many explicit operands the encoding has.
    pub count: u8,
    /// The operand-size attribute in bytes: 2 with a 0x66 prefix, else 4 (what `push imm`,
    /// `pusha`, `leave`, `ret`, `loop`... work on).
    pub osize: u8,
    /// The condition nibble (0 = O ... 15 = G) of a Jcc, SETcc or CMOVcc.
    pub cond: Option<u8>,
    pub rep: Rep,
}

impl Insn {
    /// Operand `i`, or `Other` when there is none.
    pub fn operand(&self, i: usize) -> Operand {
        self.operands
            .get(i)
            .copied()
            .flatten()
            .unwrap_or(Operand::Other)
    }

    /// The address just past it.
    pub fn next(&self) -> u32 {
        self.addr.wrapping_add(self.len as u32)
    }

    /// The memory operand, if it has one.
    pub fn mem(&self) -> Option<MemRef> {
        self.operands.iter().flatten().find_map(|o| match o {
            Operand::Mem(m) => Some(*m),
            _ => None,
        })
    }

    /// Whether it ends a basic block (a branch, `int 0x80`).
    pub fn ends_block(&self) -> bool {
        self.kind.ends_block()
    }

    /// The flags it leaves undefined: its kind's, narrowed by an immediate shift count
    /// (a shift or rotate by 1 defines OF; by 0 it changes no flag). A count in CL is
    /// only known when it runs, so those keep the kind's set.
    pub fn flags_undefined(&self) -> u32 {
        let undefined = self.kind.flags_undefined();
        let count = match self.kind {
            Kind::Shl | Kind::Shr | Kind::Sar | Kind::Rol | Kind::Ror | Kind::Rcl | Kind::Rcr => {
                self.operand(1)
            }
            Kind::Shld | Kind::Shrd => self.operand(2),
            _ => return undefined,
        };
        match count {
            Operand::Imm(n) if n & 31 == 0 => 0,
            Operand::Imm(n) if n & 31 == 1 => undefined & !super::flags::bit::OF,
            _ => undefined,
        }
    }

    /// The guest bytes it stores to when it runs with registers `regs` and direction flag
    /// `df` (the state before it): `(address, length)` ranges, in no particular order.
    /// A `rep` string store covers every iteration (ECX of them).
    pub fn stores(&self, regs: &[u32; 8], df: bool) -> Vec<(u32, u32)> {
        let esp = regs[ESP];
        let os = self.osize as u32;
        let dest_mem = |regs: &[u32; 8]| match self.operand(0) {
            Operand::Mem(m) => vec![(m.address(regs), m.size as u32)],
            _ => vec![],
        };
        match self.kind.stores() {
            Stores::Nothing => vec![],
            Stores::Dest => dest_mem(regs),
            Stores::EitherMem => match self.mem() {
                Some(m) => vec![(m.address(regs), m.size as u32)],
                None => vec![],
            },
            Stores::PopDest => {
                // The address uses ESP after the pop's increment.
                let mut after = *regs;
                after[ESP] = esp.wrapping_add(os);
                dest_mem(&after)
            }
            Stores::Push => vec![(esp.wrapping_sub(os), os)],
            Stores::PushAll => vec![(esp.wrapping_sub(8 * os), 8 * os)],
            Stores::Enter => {
                let level = match self.operand(1) {
                    Operand::Imm(v) => v & 31,
                    _ => 0,
                };
                let pushes = 1 + if level > 0 { level } else { 0 };
                vec![(esp.wrapping_sub(4 * pushes), 4 * pushes)]
            }
            Stores::BitDest => match (self.operand(0), self.operand(1)) {
                (Operand::Mem(m), Operand::Imm(_)) => vec![(m.address(regs), m.size as u32)],
                (Operand::Mem(m), Operand::Reg(r, _)) => {
                    let bits = m.size as u32 * 8;
                    let raw = if m.size == 2 {
                        regs[(r & 7) as usize] as u16 as i16 as i32
                    } else {
                        regs[(r & 7) as usize] as i32
                    };
                    let units = raw >> bits.trailing_zeros();
                    let a = m
                        .address(regs)
                        .wrapping_add((units as u32).wrapping_mul(m.size as u32));
                    vec![(a, m.size as u32)]
                }
                _ => vec![],
            },
            Stores::StringDest => {
                let w = match self.operand(0) {
                    Operand::Str(_, w) => w as u32,
                    _ => return vec![],
                };
                let count = if self.rep == Rep::None { 1 } else { regs[ECX] };
                if count == 0 {
                    return vec![];
                }
                let len = count.saturating_mul(w);
                let edi = regs[EDI];
                let low = if df {
                    edi.wrapping_sub((count - 1).wrapping_mul(w))
                } else {
                    edi
                };
                vec![(low, len)]
            }
        }
    }
}

/// The instruction at `eip` as the interpreter decodes it, or the fault it raises (unmapped
/// bytes, an invalid or unsupported instruction, a privileged one).
pub fn describe(mem: &GuestMemory, eip: u32) -> Result<Insn, FaultKind> {
    super::decode::describe_one(mem, eip)
}

/// The guest bytes the instruction at `eip` stores to when it runs from registers `regs`
/// and EFLAGS `eflags` (see [`Insn::stores`]), or `None` when it does not decode (it then
/// faults before storing anything).
pub fn stores_at(
    mem: &GuestMemory,
    eip: u32,
    regs: &[u32; 8],
    eflags: u32,
) -> Option<Vec<(u32, u32)>> {
    let df = eflags & super::flags::bit::DF != 0;
    describe(mem, eip).ok().map(|i| i.stores(regs, df))
}
