//! JMP Jcc CALL RET LOOP(cc) JECXZ INT INTO: every op here ends its block.
//!
//! Branch ops carry absolute targets: `op.imm` = the target, `op.disp` = the fall-through
//! address (for CALL: the return address).

use super::stack::push_value;
use super::Loc;
use crate::cpu::op::{Exit, Flow, Op};
use crate::cpu::reg::{ECX, ESP};
use crate::cpu::width::W32;
use crate::cpu::{Cpu, FaultKind};
use crate::memory::GuestMemory;

/// `jmp rel`.
pub fn jmp(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    cpu.eip = op.imm;
    Err(Exit::Branch)
}

/// `jmp r/m32`.
pub fn jmp_rm<S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    cpu.eip = S::read::<W32>(cpu, mem, S::at(cpu, op))?;
    Err(Exit::Branch)
}

/// `jcc rel`.
pub fn jcc<const CC: u8>(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    cpu.eip = if cpu.flags.cond(CC) { op.imm } else { op.disp };
    Err(Exit::Branch)
}

/// `call rel32`.
pub fn call(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    push_value::<W32>(cpu, mem, op.disp)?;
    cpu.eip = op.imm;
    Err(Exit::Branch)
}

/// `call r/m32`: `op.imm` = the return address.
pub fn call_rm<S: Loc>(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let target = S::read::<W32>(cpu, mem, S::at(cpu, op))?;
    push_value::<W32>(cpu, mem, op.imm)?;
    cpu.eip = target;
    Err(Exit::Branch)
}

/// `ret` and `ret imm16` (`op.imm` = bytes to release after popping).
pub fn ret(cpu: &mut Cpu, mem: &mut GuestMemory, op: &Op) -> Flow {
    let sp = cpu.regs[ESP];
    cpu.eip = mem.read_u32(sp)?;
    cpu.regs[ESP] = sp.wrapping_add(4).wrapping_add(op.imm);
    Err(Exit::Branch)
}

/// `loop` (KIND 0), `loope` (1), `loopne` (2): ECX is decremented, flags untouched.
pub fn loop_<const KIND: u8>(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    let c = cpu.regs[ECX].wrapping_sub(1);
    cpu.regs[ECX] = c;
    let go = c != 0
        && match KIND {
            1 => cpu.flags.zf(),
            2 => !cpu.flags.zf(),
            _ => true,
        };
    cpu.eip = if go { op.imm } else { op.disp };
    Err(Exit::Branch)
}

/// `jecxz`.
pub fn jecxz(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    cpu.eip = if cpu.regs[ECX] == 0 { op.imm } else { op.disp };
    Err(Exit::Branch)
}

/// `int 0x80`: hands over to the OS layer with EIP past the instruction.
pub fn int80(cpu: &mut Cpu, _mem: &mut GuestMemory, op: &Op) -> Flow {
    cpu.eip = op.disp;
    Err(Exit::Syscall)
}

/// `into`: traps (SIGSEGV on Linux) when OF is set.
pub fn into(cpu: &mut Cpu, _mem: &mut GuestMemory, _op: &Op) -> Flow {
    if cpu.flags.of() {
        Err(Exit::Fault(FaultKind::GeneralProtection))
    } else {
        Ok(())
    }
}
