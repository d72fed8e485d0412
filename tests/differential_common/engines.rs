//! Running one case on each engine and collecting what the comparison needs.

use vm::engine::unicorn::{UnicornCpu, UnicornError};
use vm::{Cpu, Stop};

use super::layout::{self, InitialState, CODE, DATA, DATA_LEN, STACK, STACK_LEN};
use super::program::Program;

/// Instruction budget for one case; generated cases retire well under a hundred.
pub const MAX_INSNS: u64 = 10_000;

/// A case: a program and the state it starts from.
#[derive(Clone)]
pub struct Case {
    pub program: Program,
    pub init: InitialState,
}

/// Where an engine stopped and the state it left.
#[derive(Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stop: Stop,
    pub regs: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    /// The whole data page.
    pub data: Vec<u8>,
    /// Both stack pages.
    pub stack: Vec<u8>,
}

/// Runs `case` on the interpreter.
pub fn run_interpreter(case: &Case) -> Outcome {
    let mut mem = case.init.memory(&case.program.bytes);
    let mut cpu = Cpu::new();
    cpu.regs = case.init.regs();
    cpu.eip = CODE;
    cpu.set_eflags(case.init.eflags());
    let stop = cpu.run(&mut mem, MAX_INSNS);
    let mut data = vec![0; DATA_LEN as usize];
    let mut stack = vec![0; STACK_LEN as usize];
    mem.read_bytes(DATA, &mut data)
        .expect("data page stays mapped");
    mem.read_bytes(STACK, &mut stack)
        .expect("stack stays mapped");
    Outcome {
        stop,
        regs: cpu.regs,
        eip: cpu.eip,
        eflags: cpu.eflags(),
        data,
        stack,
    }
}

/// A unicorn instance loaded with `case`'s initial state.
pub fn unicorn_for(case: &Case) -> Result<UnicornCpu, UnicornError> {
    let mem = case.init.memory(&case.program.bytes);
    UnicornCpu::from_state(
        &case.init.regs(),
        CODE,
        case.init.eflags(),
        &mem,
        layout::pages(),
    )
}

fn outcome(uc: &UnicornCpu, stop: Stop) -> Result<Outcome, UnicornError> {
    let mut data = vec![0; DATA_LEN as usize];
    let mut stack = vec![0; STACK_LEN as usize];
    uc.read_mem(DATA, &mut data)?;
    uc.read_mem(STACK, &mut stack)?;
    Ok(Outcome {
        stop,
        regs: uc.regs(),
        eip: uc.eip(),
        eflags: uc.eflags(),
        data,
        stack,
    })
}

/// Runs `case` on unicorn in one `emu_start`.
pub fn run_unicorn(case: &Case) -> Result<Outcome, UnicornError> {
    let mut uc = unicorn_for(case)?;
    let stop = uc.run(MAX_INSNS)?;
    outcome(&uc, stop)
}

/// One instruction (or `rep` iteration) unicorn executed, with ECX just before it.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub eip: u32,
    pub ecx: u32,
}

/// Runs `case` on unicorn one instruction at a time (state read between `emu_start`s
/// only), returning what ran and the final outcome.
pub fn trace_unicorn(case: &Case) -> Result<(Vec<Step>, Outcome), UnicornError> {
    let mut uc = unicorn_for(case)?;
    let mut steps = Vec::new();
    loop {
        let step = Step {
            eip: uc.eip(),
            ecx: uc.regs()[vm::cpu::reg::ECX],
        };
        let stop = uc.run(1)?;
        match stop {
            Stop::InsnLimit if (steps.len() as u64) < MAX_INSNS => steps.push(step),
            Stop::Syscall => {
                steps.push(step);
                return Ok((steps, outcome(&uc, stop)?));
            }
            _ => return Ok((steps, outcome(&uc, stop)?)),
        }
    }
}
