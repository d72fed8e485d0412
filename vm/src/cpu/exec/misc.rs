//! Flag instructions (CLC STC CMC CLD STD SAHF LAHF), accumulator sign extensions
//! (CBW CWDE CWD CDQ) and NOP.

use crate::cpu::flags::{bit, LazyFlags};
use crate::cpu::op::{Flow, Op};
use crate::cpu::reg::{EAX, EDX};
use crate::cpu::width::{Width, W16, W8};
use crate::cpu::Cpu;
use crate::memory::GuestMemory;

/// `nop` and everything that behaves like it (multi-byte NOP, PAUSE, hint NOPs).
pub fn nop(_cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    Ok(())
}

fn change_cf(cpu: &mut Cpu, f: impl FnOnce(bool) -> bool) {
    let bits = cpu.flags.bits();
    let cf = f(bits & bit::CF != 0) as u32;
    cpu.flags = LazyFlags::fixed((bits & !bit::CF) | cf);
}

/// `clc`.
pub fn clc(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    change_cf(cpu, |_| false);
    Ok(())
}

/// `stc`.
pub fn stc(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    change_cf(cpu, |_| true);
    Ok(())
}

/// `cmc`.
pub fn cmc(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    change_cf(cpu, |c| !c);
    Ok(())
}

/// `cld`.
pub fn cld(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    cpu.df = false;
    Ok(())
}

/// `std`.
pub fn std_(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    cpu.df = true;
    Ok(())
}

/// `sahf`: SF ZF AF PF CF from AH; OF keeps its value.
pub fn sahf(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    let ah = (cpu.regs[EAX] >> 8) & 0xff;
    let low = bit::SF | bit::ZF | bit::AF | bit::PF | bit::CF;
    let bits = (cpu.flags.bits() & !low) | (ah & low);
    cpu.flags = LazyFlags::fixed(bits);
    Ok(())
}

/// `lahf`: AH = SF ZF 0 AF 0 PF 1 CF.
pub fn lahf(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    let v = (cpu.flags.bits() & 0xd5) | 2;
    W8::set(&mut cpu.regs, 4, v);
    Ok(())
}

/// `cbw`: AX = sign-extended AL.
pub fn cbw(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    let v = W8::sext(cpu.regs[EAX] & 0xff);
    W16::set(&mut cpu.regs, EAX as u8, v);
    Ok(())
}

/// `cwde`: EAX = sign-extended AX.
pub fn cwde(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    cpu.regs[EAX] = W16::sext(cpu.regs[EAX] & 0xffff);
    Ok(())
}

/// `cwd`: DX = the sign of AX.
pub fn cwd(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    let v = if cpu.regs[EAX] & 0x8000 != 0 {
        0xffff
    } else {
        0
    };
    W16::set(&mut cpu.regs, EDX as u8, v);
    Ok(())
}

/// `cdq`: EDX = the sign of EAX.
pub fn cdq(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    cpu.regs[EDX] = ((cpu.regs[EAX] as i32) >> 31) as u32;
    Ok(())
}
