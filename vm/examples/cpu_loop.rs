//! Speed sanity check for the interpreter: a guest loop with the chain's instruction mix
//! (push/pop, mov to and from memory, lea, movzx, add/cmp/test, setcc, jcc, call/ret),
//! about 100 M guest instructions. Prints guest MIPS.
//!
//! `cargo run --release -p vm --example cpu_loop [iterations]`

use std::time::Instant;

use iced_x86::code_asm::*;
use vm::cpu::reg::ESP;
use vm::{Cpu, GuestMemory, Stop};

const CODE: u32 = 0x0804_8000;
const DATA: u32 = 0x0806_0000;
const STACK_TOP: u32 = 0xc000_0000;

fn program(iterations: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut top = a.create_label();
    let mut func = a.create_label();
    let mut done = a.create_label();
    a.mov(ecx, iterations)?;
    a.xor(esi, esi)?;
    a.set_label(&mut top)?;
    a.push(ecx)?; // 1
    a.lea(eax, dword_ptr(esp + 4))?; // 2
    a.mov(ebx, dword_ptr(esp))?; // 3
    a.movzx(edx, byte_ptr(DATA))?; // 4
    a.add(ebx, edx)?; // 5
    a.mov(dword_ptr(DATA + 4), ebx)?; // 6
    a.push(ebx)?; // 7
    a.call(func)?; // 8 (+5 in func)
    a.add(esp, 4)?; // 14
    a.add(esi, eax)?; // 15
    a.pop(ecx)?; // 16
    a.test(ecx, ecx)?; // 17
    a.setle(al)?; // 18
    a.sub(ecx, 1)?; // 19
    a.cmp(ecx, 0)?; // 20
    a.jne(top)?; // 21
    a.jmp(done)?;
    a.set_label(&mut func)?;
    a.push(ebp)?;
    a.mov(ebp, esp)?;
    a.mov(eax, dword_ptr(ebp + 8))?;
    a.pop(ebp)?;
    a.ret()?;
    a.set_label(&mut done)?;
    a.mov(eax, 1)?;
    a.int(0x80)?;
    a.assemble(CODE as u64)
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4_700_000);
    let code = program(iterations).expect("assemble");
    let mut mem = GuestMemory::new();
    mem.map(CODE, 0x1000);
    mem.write_bytes(CODE, &code).expect("load");
    mem.map(DATA, 0x1000);
    mem.map(STACK_TOP - 0x10000, 0x10000);
    let mut cpu = Cpu::new();
    cpu.eip = CODE;
    cpu.regs[ESP] = STACK_TOP - 0x100;
    let start = Instant::now();
    let stop = cpu.run(&mut mem, u64::MAX);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(stop, Stop::Syscall, "{cpu:?}");
    let n = cpu.insns_retired();
    println!(
        "{n} guest instructions in {secs:.3} s: {:.0} MIPS",
        n as f64 / secs / 1e6
    );
}
