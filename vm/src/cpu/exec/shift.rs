//! SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD.
//!
//! The count (imm8 in `op.imm`, or CL when `op.aux` is 1) is masked to 5 bits; a masked
//! count of 0 changes nothing, flags included. Undefined-flag choices: see [`crate::cpu::flags`].

use super::Loc;
use crate::cpu::flags::{bit, kind, LazyFlags};
use crate::cpu::op::{Flow, Op};
use crate::cpu::reg::ECX;
use crate::cpu::width::Width;
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// A shift or rotate of `v` by `c` (1..=31).
pub trait Shift: 'static {
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32;
}

pub struct Shl;
pub struct Shr;
pub struct Sar;
pub struct Rol;
pub struct Ror;
pub struct Rcl;
pub struct Rcr;

#[inline(always)]
fn msb<W: Width>(v: u32) -> u32 {
    (v >> (W::BITS - 1)) & 1
}

/// Shifts: ZF SF PF from the result, CF and OF as computed, AF = 0.
#[inline(always)]
fn shifted<W: Width>(f: &mut LazyFlags, r: u32, cf: u32, of: u32) -> u32 {
    let r = r & W::MASK;
    *f = LazyFlags {
        kind: kind::RES | W::IDX,
        a: ((cf & 1) * bit::CF) | ((of & 1) * bit::OF),
        b: 0,
        res: r,
    };
    r
}

/// Rotates: only CF and OF change.
#[inline(always)]
fn rotated(f: &mut LazyFlags, cf: u32, of: u32) {
    let rest = f.bits() & !(bit::CF | bit::OF);
    *f = LazyFlags::fixed(rest | ((cf & 1) * bit::CF) | ((of & 1) * bit::OF));
}

impl Shift for Shl {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let r = v << c;
        let cf = (((v as u64) << (c - 1)) >> (W::BITS - 1)) as u32 & 1;
        shifted::<W>(f, r, cf, cf ^ msb::<W>(r))
    }
}

impl Shift for Shr {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let last = v >> (c - 1);
        let r = v >> c;
        shifted::<W>(f, r, last & 1, msb::<W>(last) ^ msb::<W>(r))
    }
}

impl Shift for Sar {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let s = W::sext(v) as i32;
        let cf = ((s >> (c - 1)) & 1) as u32;
        shifted::<W>(f, (s >> c) as u32, cf, 0)
    }
}

impl Shift for Rol {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let k = c % W::BITS;
        let r = if k == 0 {
            v
        } else {
            ((v << k) | (v >> (W::BITS - k))) & W::MASK
        };
        let cf = r & 1;
        rotated(f, cf, msb::<W>(r) ^ cf);
        r
    }
}

impl Shift for Ror {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let k = c % W::BITS;
        let r = if k == 0 {
            v
        } else {
            ((v >> k) | (v << (W::BITS - k))) & W::MASK
        };
        let cf = msb::<W>(r);
        rotated(f, cf, cf ^ ((r >> (W::BITS - 2)) & 1));
        r
    }
}

impl Shift for Rcl {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let k = c % (W::BITS + 1);
        if k == 0 {
            return v;
        }
        let n = W::BITS + 1;
        let x = ((f.cf() as u64) << W::BITS) | v as u64;
        let x = ((x << k) | (x >> (n - k))) & ((1u64 << n) - 1);
        let r = x as u32 & W::MASK;
        rotated(f, (x >> W::BITS) as u32, msb::<W>(v ^ r));
        r
    }
}

impl Shift for Rcr {
    #[inline(always)]
    fn apply<W: Width>(f: &mut LazyFlags, v: u32, c: u32) -> u32 {
        let k = c % (W::BITS + 1);
        if k == 0 {
            return v;
        }
        let n = W::BITS + 1;
        let x = ((f.cf() as u64) << W::BITS) | v as u64;
        let x = ((x >> k) | (x << (n - k))) & ((1u64 << n) - 1);
        let r = x as u32 & W::MASK;
        rotated(f, (x >> W::BITS) as u32, msb::<W>(v ^ r));
        r
    }
}

#[inline(always)]
fn count(cpu: &Cpu, op: &Op) -> u32 {
    if op.aux == 1 {
        cpu.regs[ECX] & 0x1f
    } else {
        op.imm & 0x1f
    }
}

/// `shift r/m, 1|imm8|cl`.
pub fn shift<W: Width, S: Shift, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let c = count(cpu, op);
    let at = D::at(cpu, op);
    let v = D::read::<W>(cpu, mem, at)?;
    if c == 0 {
        return Ok(());
    }
    let mut f = cpu.flags;
    let r = S::apply::<W>(&mut f, v, c);
    D::write::<W>(cpu, mem, at, r)?;
    cpu.flags = f;
    D::done(mem)
}

/// `shld r/m, r, imm8|cl` (LEFT) and `shrd` (!LEFT), 16 or 32 bits.
///
/// Computed on the 64-bit concatenation (16-bit: dest:src:dest, as Intel and QEMU do for
/// counts above 16).
pub fn shxd<W: Width, D: Loc, const LEFT: bool>(
    cpu: &mut Cpu,
    mem: &mut GuestMemory,
    op: &Op,
) -> Flow {
    let c = count(cpu, op);
    let at = D::at(cpu, op);
    let dst = D::read::<W>(cpu, mem, at)?;
    if c == 0 {
        return Ok(());
    }
    let src = W::get(&cpu.regs, op.r1);
    let (r, cf, of);
    if W::BITS == 16 {
        let x = ((dst as u64) << 32) | ((src as u64) << 16) | dst as u64;
        if LEFT {
            r = ((x << c) >> 32) as u32 & 0xffff;
            cf = ((x << (c - 1)) >> 47) as u32 & 1;
        } else {
            r = (x >> c) as u32 & 0xffff;
            cf = (x >> (c - 1)) as u32 & 1;
        }
    } else if LEFT {
        let x = ((dst as u64) << 32) | src as u64;
        r = ((x << c) >> 32) as u32;
        cf = ((x << (c - 1)) >> 63) as u32;
    } else {
        let x = ((src as u64) << 32) | dst as u64;
        r = (x >> c) as u32;
        cf = (x >> (c - 1)) as u32 & 1;
    }
    if LEFT {
        of = cf ^ msb::<W>(r);
    } else {
        // MSB of the value shifted by count-1, XOR MSB of the result (QEMU).
        let before = if W::BITS == 16 {
            let x = ((dst as u64) << 32) | ((src as u64) << 16) | dst as u64;
            (x >> (c - 1)) as u32
        } else {
            ((((src as u64) << 32) | dst as u64) >> (c - 1)) as u32
        };
        of = msb::<W>(before) ^ msb::<W>(r);
    }
    let mut f = cpu.flags;
    let r = shifted::<W>(&mut f, r, cf, of);
    D::write::<W>(cpu, mem, at, r)?;
    cpu.flags = f;
    D::done(mem)
}
