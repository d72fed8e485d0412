//! Operand widths: one generic handler body serves the 8-, 16- and 32-bit forms.
//!
//! Values travel as `u32`, zero-extended from the operand width.

use crate::memory::{GuestMemory, MemFault};

/// An operand width (8, 16 or 32 bits).
pub trait Width: 'static {
    const BITS: u32;
    /// All bits of the width.
    const MASK: u32;
    /// 0, 1, 2 for 8, 16, 32 bits: added to a lazy-flags kind.
    const IDX: u8;
    /// Reads register `r` (8-bit: 0-3 = AL CL DL BL, 4-7 = AH CH DH BH).
    fn get(regs: &[u32; 8], r: u8) -> u32;
    /// Writes register `r`, keeping the bits outside the width.
    fn set(regs: &mut [u32; 8], r: u8, v: u32);
    fn load(mem: &GuestMemory, a: u32) -> Result<u32, MemFault>;
    fn store(mem: &mut GuestMemory, a: u32, v: u32) -> Result<(), MemFault>;
    /// Sign-extends a value of this width to 32 bits.
    #[inline(always)]
    fn sext(v: u32) -> u32 {
        let sh = 32 - Self::BITS;
        (((v << sh) as i32) >> sh) as u32
    }
}

/// 8-bit operands.
pub struct W8;
/// 16-bit operands (0x66 prefix).
pub struct W16;
/// 32-bit operands.
pub struct W32;

impl Width for W8 {
    const BITS: u32 = 8;
    const MASK: u32 = 0xff;
    const IDX: u8 = 0;
    #[inline(always)]
    fn get(regs: &[u32; 8], r: u8) -> u32 {
        if r < 4 {
            regs[(r & 3) as usize] & 0xff
        } else {
            (regs[(r & 3) as usize] >> 8) & 0xff
        }
    }
    #[inline(always)]
    fn set(regs: &mut [u32; 8], r: u8, v: u32) {
        let slot = &mut regs[(r & 3) as usize];
        if r < 4 {
            *slot = (*slot & !0xff) | (v & 0xff);
        } else {
            *slot = (*slot & !0xff00) | ((v & 0xff) << 8);
        }
    }
    #[inline(always)]
    fn load(mem: &GuestMemory, a: u32) -> Result<u32, MemFault> {
        mem.read_u8(a).map(u32::from)
    }
    #[inline(always)]
    fn store(mem: &mut GuestMemory, a: u32, v: u32) -> Result<(), MemFault> {
        mem.write_u8(a, v as u8)
    }
}

impl Width for W16 {
    const BITS: u32 = 16;
    const MASK: u32 = 0xffff;
    const IDX: u8 = 1;
    #[inline(always)]
    fn get(regs: &[u32; 8], r: u8) -> u32 {
        regs[(r & 7) as usize] & 0xffff
    }
    #[inline(always)]
    fn set(regs: &mut [u32; 8], r: u8, v: u32) {
        let slot = &mut regs[(r & 7) as usize];
        *slot = (*slot & !0xffff) | (v & 0xffff);
    }
    #[inline(always)]
    fn load(mem: &GuestMemory, a: u32) -> Result<u32, MemFault> {
        mem.read_u16(a).map(u32::from)
    }
    #[inline(always)]
    fn store(mem: &mut GuestMemory, a: u32, v: u32) -> Result<(), MemFault> {
        mem.write_u16(a, v as u16)
    }
}

impl Width for W32 {
    const BITS: u32 = 32;
    const MASK: u32 = 0xffff_ffff;
    const IDX: u8 = 2;
    #[inline(always)]
    fn get(regs: &[u32; 8], r: u8) -> u32 {
        regs[(r & 7) as usize]
    }
    #[inline(always)]
    fn set(regs: &mut [u32; 8], r: u8, v: u32) {
        regs[(r & 7) as usize] = v;
    }
    #[inline(always)]
    fn load(mem: &GuestMemory, a: u32) -> Result<u32, MemFault> {
        mem.read_u32(a)
    }
    #[inline(always)]
    fn store(mem: &mut GuestMemory, a: u32, v: u32) -> Result<(), MemFault> {
        mem.write_u32(a, v)
    }
}
