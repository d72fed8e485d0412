//! The exactness contract every engine keeps (the kernel's limits, fork, faults and the
//! cross-check rely on it): instruction counts are exact at any budget, so a run cut
//! anywhere and resumed ends exactly as one run; a faulting instruction commits nothing
//! (registers, flags, memory) and leaves eip at itself; a fork copies the whole state and
//! the two go on independently. That stores into code are seen is in `cpu_smc.rs`.

mod cpu_common;
use cpu_common::*;

/// A loop with stores, loads, a call, fused idioms and flag-setting arithmetic.
fn mixed(a: &mut CodeAssembler) -> Result<(), IcedError> {
    let mut top = a.create_label();
    let mut f = a.create_label();
    a.mov(ecx, 6u32)?;
    a.xor(eax, eax)?;
    a.mov(ebp, DATA + 0x100)?;
    a.jmp(top)?;
    a.set_label(&mut f)?;
    a.add(dword_ptr(ebp - 4), eax)?;
    a.ret()?;
    a.set_label(&mut top)?;
    a.push(eax)?;
    a.lea(eax, dword_ptr(ebp - 4))?;
    a.mov(eax, dword_ptr(eax))?;
    a.pop(ebx)?;
    a.add(eax, ebx)?;
    a.add(eax, ecx)?;
    a.call(f)?;
    a.mov(dword_ptr(ebp + ecx * 4), eax)?;
    a.cmp(eax, 20u32)?;
    a.setl(dl)?;
    a.movzx(edx, dl)?;
    a.dec(ecx)?;
    a.jne(top)?;
    a.int(0x80)
}

/// A `rep movsb` and a `rep stosd` between ordinary instructions.
fn with_rep(a: &mut CodeAssembler) -> Result<(), IcedError> {
    a.mov(esi, DATA)?;
    a.mov(edi, DATA + 0x200)?;
    a.mov(ecx, 9u32)?;
    a.rep().movsb()?;
    a.mov(eax, 0x5a5a_5a5au32)?;
    a.mov(ecx, 4u32)?;
    a.rep().stosd()?;
    a.add(eax, edi)?;
    a.int(0x80)
}

/// Everything a run can change that the tests can see: registers, eip, EFLAGS, the
/// retired count, and the data area.
fn snapshot(g: &Guest) -> (([u32; 8], u32, u32, u64), Vec<u8>) {
    (g.state(), g.bytes(DATA, 0x400))
}

/// For every budget N: N instructions, then one, then the rest end exactly as one run.
fn split_anywhere(e: EngineUnderTest, program: fn(&mut CodeAssembler) -> Result<(), IcedError>) {
    let seed = |g: &mut Guest| {
        let bytes: Vec<u8> = (0..64u8).collect();
        g.mem.write_bytes(DATA, &bytes).unwrap();
    };
    let mut whole = Guest::with(e, program);
    seed(&mut whole);
    whole.run_to_syscall();
    let total = whole.retired();
    let expected = snapshot(&whole);
    for n in 1..total {
        let mut g = Guest::with(e, program);
        seed(&mut g);
        assert_eq!(g.step(n), Stop::InsnLimit, "budget {n}: {}", g.describe());
        assert_eq!(g.retired(), n, "budget {n} retires exactly {n}");
        let stop = g.step(1);
        assert_eq!(g.retired(), n + 1, "then one more");
        if stop == Stop::InsnLimit {
            assert_eq!(g.run(), Stop::Syscall, "budget {n}");
        } else {
            assert_eq!(stop, Stop::Syscall, "budget {n}");
        }
        assert_eq!(snapshot(&g), expected, "split at {n} and {}", n + 1);
    }
}

fn budget_split_anywhere_equals_one_run(e: EngineUnderTest) {
    split_anywhere(e, mixed);
}

fn budget_split_inside_rep_equals_one_run(e: EngineUnderTest) {
    split_anywhere(e, with_rep);
}

/// Runs `setup` (which leaves known registers, flags and memory), then `faulting`, and
/// checks that the fault left everything as `setup` did, with eip at the faulting
/// instruction and the retired count at `setup`'s length.
fn commits_nothing(
    e: EngineUnderTest,
    kind: FaultKind,
    faulting: impl Fn(&mut CodeAssembler) -> Result<(), IcedError>,
) {
    let setup = |a: &mut CodeAssembler| -> Result<(), IcedError> {
        a.mov(eax, 0x8000_0001u32)?;
        a.mov(ebx, UNMAPPED)?;
        a.mov(ecx, 0u32)?;
        a.mov(edx, 0x1234u32)?;
        a.mov(esi, DATA)?;
        a.mov(edi, DATA + 0x40)?;
        a.mov(dword_ptr(DATA + 0x40), 0x1111_1111u32)?;
        a.add(eax, eax)?; // CF, OF and PF set: a fault must not touch them
        a.std()?;
        Ok(())
    };
    let before = {
        let mut g = Guest::with(e, |a| {
            setup(a)?;
            a.int(0x80)
        });
        g.run_to_syscall();
        (g.regs(), g.eflags(), g.retired() - 1, g.bytes(DATA, 0x100))
    };
    let setup_len = asm(|a| setup(a)).len() as u32;
    let mut g = Guest::with(e, |a| {
        setup(a)?;
        faulting(a)?;
        a.int(0x80)
    });
    assert_eq!(
        g.run(),
        Stop::Fault(Fault {
            kind,
            eip: CODE + setup_len
        }),
        "{}",
        g.describe()
    );
    assert_eq!(g.eip(), CODE + setup_len, "eip at the faulting instruction");
    assert_eq!(
        (g.regs(), g.eflags(), g.retired(), g.bytes(DATA, 0x100)),
        before,
        "registers, EFLAGS, retired count, memory"
    );
}

fn faulting_instruction_commits_nothing(e: EngineUnderTest) {
    let read = |addr| FaultKind::Page(MemFault { addr, write: false });
    let write = |addr| FaultKind::Page(MemFault { addr, write: true });
    commits_nothing(e, read(UNMAPPED + 8), |a| a.add(eax, dword_ptr(ebx + 8)));
    commits_nothing(e, read(UNMAPPED), |a| a.add(dword_ptr(ebx), 1));
    commits_nothing(e, write(UNMAPPED), |a| a.mov(dword_ptr(ebx), eax));
    commits_nothing(e, read(UNMAPPED), |a| a.xchg(dword_ptr(ebx), eax));
    commits_nothing(e, read(UNMAPPED), |a| a.call(dword_ptr(ebx)));
    commits_nothing(e, FaultKind::Divide, |a| a.div(ecx));
    commits_nothing(e, FaultKind::Divide, |a| a.idiv(ecx));
}

/// A fork at a syscall: the child and the parent get different results, as from
/// `fork`, and each goes on with its own copy of registers, flags and memory.
fn fork_copies_state(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        let mut top = a.create_label();
        a.mov(ecx, 10u32)?;
        a.xor(ebx, ebx)?;
        a.set_label(&mut top)?;
        a.add(ebx, ecx)?;
        a.dec(ecx)?;
        a.jne(top)?;
        a.mov(dword_ptr(DATA + 8), 0x77u32)?;
        a.stc()?;
        a.mov(eax, 2u32)?;
        a.int(0x80)?; // fork
        a.mov(dword_ptr(DATA), eax)?;
        a.adc(ebx, eax)?;
        a.mov(dword_ptr(DATA + 4), ebx)?;
        a.int(0x80)
    });
    g.run_to_syscall();
    let at_fork = g.retired();
    let mut child = g.fork();
    assert_eq!(
        child.state(),
        g.state(),
        "the child starts where the parent is"
    );
    assert_eq!(child.bytes(DATA, 16), g.bytes(DATA, 16));
    child.set_reg(EAX, 0);
    g.set_reg(EAX, 1000);
    // The child runs to its end first, as the kernel runs it.
    child.run_to_syscall();
    g.run_to_syscall();
    assert_eq!((child.read32(DATA), child.reg(EBX)), (0, 55 + 1));
    assert_eq!((g.read32(DATA), g.reg(EBX)), (1000, 1055 + 1));
    assert_eq!(child.read32(DATA + 4), 56, "the child's store");
    assert_eq!(
        g.read32(DATA + 4),
        1056,
        "the parent's store, not the child's"
    );
    assert_eq!((child.read32(DATA + 8), g.read32(DATA + 8)), (0x77, 0x77));
    assert_eq!(child.retired(), at_fork + 4);
    assert_eq!(g.retired(), at_fork + 4);
}

conformance! {
    budget_split_anywhere_equals_one_run,
    budget_split_inside_rep_equals_one_run,
    faulting_instruction_commits_nothing,
    fork_copies_state,
}
