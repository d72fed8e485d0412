//! Shared helpers for the CPU tests: assemble i386 code with iced-x86's code assembler,
//! load it into a fresh guest memory, run it until `int 0x80` or a fault.
#![allow(dead_code, unused_imports)]

pub use iced_x86::code_asm::*;
pub use vm::cpu::reg::*;
pub use vm::{Cpu, Fault, FaultKind, GuestMemory, MemFault, Stop};

/// Where test code is loaded.
pub const CODE: u32 = 0x0804_8000;
/// A 64 KiB zeroed data area.
pub const DATA: u32 = 0x0806_0000;
pub const DATA_LEN: u32 = 0x1_0000;
/// The stack: 64 KiB below 0xC0000000.
pub const STACK_BASE: u32 = 0xBFFF_0000;
pub const STACK_TOP: u32 = 0xC000_0000;
/// ESP at start (leaves room above it for tests that read [esp+N]).
pub const INITIAL_ESP: u32 = STACK_TOP - 0x100;
/// An address with no page.
pub const UNMAPPED: u32 = 0x1000_0000;

pub const CF: u32 = 1;
pub const PF: u32 = 1 << 2;
pub const AF: u32 = 1 << 4;
pub const ZF: u32 = 1 << 6;
pub const SF: u32 = 1 << 7;
pub const DF: u32 = 1 << 10;
pub const OF: u32 = 1 << 11;
/// The six arithmetic flags.
pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;

/// Assembles 32-bit code for address [`CODE`].
pub fn asm(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Vec<u8> {
    let mut a = CodeAssembler::new(32).expect("32-bit assembler");
    f(&mut a).expect("assembling test code");
    a.assemble(CODE as u64).expect("assembling test code")
}

/// A guest with code, data and stack mapped.
pub struct Guest {
    pub cpu: Cpu,
    pub mem: GuestMemory,
}

impl Guest {
    /// Loads raw code bytes at [`CODE`]; EIP there, ESP at [`INITIAL_ESP`].
    pub fn new(code: &[u8]) -> Self {
        let mut mem = GuestMemory::new();
        mem.map(CODE, (code.len() as u32).max(1));
        mem.write_bytes(CODE, code).expect("code fits");
        mem.map(DATA, DATA_LEN);
        mem.map(STACK_BASE, STACK_TOP - STACK_BASE);
        let mut cpu = Cpu::new();
        cpu.eip = CODE;
        cpu.regs[ESP] = INITIAL_ESP;
        Guest { cpu, mem }
    }

    /// Assembles `f` and loads it.
    pub fn with(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Self {
        Self::new(&asm(f))
    }

    /// Runs with a large budget.
    pub fn run(&mut self) -> Stop {
        self.cpu.run(&mut self.mem, 10_000_000)
    }

    /// Runs and expects to stop at `int 0x80`.
    pub fn run_to_syscall(&mut self) -> &mut Self {
        let stop = self.run();
        assert_eq!(stop, Stop::Syscall, "cpu: {:?}", self.cpu);
        self
    }

    pub fn reg(&self, r: usize) -> u32 {
        self.cpu.regs[r]
    }

    /// The arithmetic flags.
    pub fn arith_flags(&self) -> u32 {
        self.cpu.eflags() & ARITH
    }

    pub fn read32(&self, a: u32) -> u32 {
        self.mem.read_u32(a).expect("mapped")
    }
}

/// Runs `f` (which must end in `int 0x80`) and returns the guest.
pub fn run(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> Guest {
    let mut g = Guest::with(f);
    g.run_to_syscall();
    g
}

/// Runs `f` followed by `int 0x80`; returns EAX and the arithmetic flags.
pub fn eax_flags(f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>) -> (u32, u32) {
    let g = run(|a| {
        f(a)?;
        a.int(0x80)
    });
    (g.reg(EAX), g.arith_flags())
}

/// Like [`eax_flags`] but keeping only the flags in `mask`.
pub fn eax_masked(
    mask: u32,
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> (u32, u32) {
    let (v, fl) = eax_flags(f);
    (v, fl & mask)
}

/// Expects `f` to fault with `kind` at the instruction at `CODE + offset`.
pub fn expect_fault(g: &mut Guest, kind: FaultKind, eip: u32) {
    match g.run() {
        Stop::Fault(f) => {
            assert_eq!(f.kind, kind, "fault kind; cpu {:?}", g.cpu);
            assert_eq!(f.eip, eip, "fault eip");
            assert_eq!(g.cpu.eip, eip, "cpu eip stays at the faulting instruction");
        }
        other => panic!("expected a {kind:?} fault, got {other:?}; cpu {:?}", g.cpu),
    }
}
