//! MOV MOVZX MOVSX LEA XCHG CMOVcc SETcc BSWAP XLAT.

use super::Loc;
use crate::cpu::op::{Flow, Op};
use crate::cpu::reg::{EAX, EBX};
use crate::cpu::width::{Width, W32, W8};
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// `mov r/m, r`.
pub fn store<W: Width, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    let v = W::get(&cpu.regs, op.r1);
    D::write::<W>(cpu, mem, at, v)?;
    D::done(mem)
}

/// `mov r, r/m`.
pub fn load<W: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let v = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    W::set(&mut cpu.regs, op.r1, v);
    Ok(())
}

/// `mov r/m, imm`.
pub fn store_imm<W: Width, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    D::write::<W>(cpu, mem, at, op.imm)?;
    D::done(mem)
}

/// `movzx r, r/m` (destination width `D`, source width `S`).
pub fn movzx<Wd: Width, Ws: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let v = S::read::<Ws>(cpu, mem, S::at(cpu, op))?;
    Wd::set(&mut cpu.regs, op.r1, v);
    Ok(())
}

/// `movsx r, r/m`.
pub fn movsx<Wd: Width, Ws: Width, S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let v = S::read::<Ws>(cpu, mem, S::at(cpu, op))?;
    Wd::set(&mut cpu.regs, op.r1, Ws::sext(v));
    Ok(())
}

/// `lea r, [m]`.
pub fn lea<W: Width>(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    let a = op.ea(cpu);
    W::set(&mut cpu.regs, op.r1, a);
    Ok(())
}

/// `xchg r/m, r` (the memory form is locked on hardware; one thread here, so plain).
pub fn xchg<W: Width, D: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    let a = D::read::<W>(cpu, mem, at)?;
    let b = W::get(&cpu.regs, op.r1);
    D::write::<W>(cpu, mem, at, b)?;
    W::set(&mut cpu.regs, op.r1, a);
    D::done(mem)
}

/// `cmovcc r, r/m`: the source is read (and may fault) whatever the condition.
pub fn cmov<W: Width, S: Loc, const CC: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let v = S::read::<W>(cpu, mem, S::at(cpu, op))?;
    if cpu.flags.cond(CC) {
        W::set(&mut cpu.regs, op.r1, v);
    }
    Ok(())
}

/// `setcc r/m8`.
pub fn setcc<D: Loc, const CC: u8>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let at = D::at(cpu, op);
    let v = cpu.flags.cond(CC) as u32;
    D::write::<W8>(cpu, mem, at, v)?;
    D::done(mem)
}

/// `bswap r32`.
pub fn bswap(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    let v = W32::get(&cpu.regs, op.r1);
    W32::set(&mut cpu.regs, op.r1, v.swap_bytes());
    Ok(())
}

/// `xlat`: AL = [EBX + AL].
pub fn xlat(cpu: &mut Cpu, mem: &mut GuestMemory, _op: &Op) -> Flow {
    let a = cpu.regs[EBX].wrapping_add(cpu.regs[EAX] & 0xff);
    let v = mem.read_u8(a)?;
    W8::set(&mut cpu.regs, 0, v as u32);
    Ok(())
}
