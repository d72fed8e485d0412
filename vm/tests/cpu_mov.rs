//! Data movement and stack instructions, partial registers, flag instructions.

mod cpu_common;
use cpu_common::*;

fn partial_register_writes_keep_other_bits(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 0x1122_3344)?;
        a.mov(al, 4)?;
        a.mov(ebx, 0x1122_3344)?;
        a.mov(bh, 0x55)?;
        a.mov(ecx, 0xffff_0000u32)?;
        a.mov(cx, 0x241)?; // hex0's open() flags
        a.mov(edx, 0xaabb_ccdd_u32)?;
        a.mov(dl, bh)?;
        a.mov(dh, al)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x1122_3304);
    assert_eq!(g.reg(EBX), 0x1122_5544);
    assert_eq!(g.reg(ECX), 0xffff_0241);
    assert_eq!(g.reg(EDX), 0xaabb_0455);
}

fn moffs_and_modrm_memory_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 0xdead_beef_u32)?;
        a.mov(dword_ptr(DATA), eax)?; // A3 moffs
        a.mov(byte_ptr(DATA + 8), al)?; // A2
        a.xor(eax, eax)?;
        a.mov(al, byte_ptr(DATA + 8))?; // A0
        a.mov(ebx, dword_ptr(DATA))?; // 8B /r with [disp32]
        a.mov(esi, DATA)?;
        a.mov(ecx, 2)?;
        a.mov(edx, dword_ptr(esi + ecx * 4 - 8))?; // SIB with index and scale
        a.mov(word_ptr(esi + 0x20), 0x1234)?;
        a.mov(byte_ptr(esi + 0x22), 0x56)?;
        a.mov(edi, dword_ptr(esi + 0x20))?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0xef);
    assert_eq!(g.reg(EBX), 0xdead_beef);
    assert_eq!(g.reg(EDX), 0xdead_beef);
    assert_eq!(g.reg(EDI), 0x0056_1234);
}

fn zero_and_sign_extension(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(byte_ptr(DATA), 0x80)?;
        a.mov(word_ptr(DATA + 2), 0x8001)?;
        a.movzx(eax, byte_ptr(DATA))?;
        a.movsx(ebx, byte_ptr(DATA))?;
        a.movzx(ecx, word_ptr(DATA + 2))?;
        a.movsx(edx, word_ptr(DATA + 2))?;
        a.mov(esi, 0xffff_ff85u32)?;
        a.movzx(esi, si)?; // movzx r32, r16 of itself
        a.mov(edi, 0x1234_5678)?;
        a.mov(ebp, 0xf0)?;
        a.movsx(di, byte_ptr(DATA))?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x80);
    assert_eq!(g.reg(EBX), 0xffff_ff80);
    assert_eq!(g.reg(ECX), 0x8001);
    assert_eq!(g.reg(EDX), 0xffff_8001);
    assert_eq!(g.reg(ESI), 0xff85);
    assert_eq!(g.reg(EDI), 0x1234_ff80);
    let g = run(e, |a| {
        a.mov(ecx, 0x1234_56f0)?;
        a.movzx(ecx, cl)?;
        a.mov(eax, 0x1234_8080)?;
        a.movsx(eax, ah)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(ECX), g.reg(EAX)), (0xf0, 0xffff_ff80));
}

fn lea_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(ebx, 0x1000)?;
        a.mov(ecx, 3)?;
        a.lea(eax, dword_ptr(ebx + ecx * 4 + 8))?;
        a.lea(edx, dword_ptr(ecx * 8))?;
        a.lea(esi, dword_ptr(esp + 4))?;
        a.mov(edi, 0xffff_0000u32)?;
        a.lea(di, dword_ptr(ebx + 0x2345))?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x1014);
    assert_eq!(g.reg(EDX), 24);
    assert_eq!(g.reg(ESI), INITIAL_ESP + 4);
    assert_eq!(g.reg(EDI), 0xffff_3345);
}

fn exchanges(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 1)?;
        a.mov(ebx, 2)?;
        a.xchg(eax, ebx)?;
        a.mov(dword_ptr(DATA), 10)?;
        a.mov(ecx, 20)?;
        a.xchg(dword_ptr(DATA), ecx)?;
        a.mov(edx, 0x1234)?;
        a.xchg(dl, dh)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(EBX)), (2, 1));
    assert_eq!((g.reg(ECX), g.read32(DATA)), (10, 20));
    assert_eq!(g.reg(EDX), 0x3412);
}

fn push_pop_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.push(-1)?; // imm8 sign-extended to 32 bits
        a.pop(eax)?;
        a.push(0x1234_5678)?;
        a.pop(ebx)?;
        a.mov(dword_ptr(DATA), 77)?;
        a.push(dword_ptr(DATA))?;
        a.pop(dword_ptr(DATA + 4))?;
        a.push(esp)?; // pushes ESP before the decrement
        a.pop(ecx)?;
        a.push(1)?;
        a.push(2)?;
        a.pop(dword_ptr(esp))?; // address computed after the increment: overwrites the 1
        a.pop(edx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0xffff_ffff);
    assert_eq!(g.reg(EBX), 0x1234_5678);
    assert_eq!(g.read32(DATA + 4), 77);
    assert_eq!(g.reg(ECX), INITIAL_ESP);
    assert_eq!(g.reg(EDX), 2);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

fn pop_esp_loads_the_popped_value(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.push(0x1234)?;
        a.pop(esp)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(ESP), 0x1234);
}

fn sixteen_bit_push_pop(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 0xaaaa_1234u32)?;
        a.push(ax)?;
        a.mov(ebx, esp)?;
        a.mov(ecx, 0xffff_ffffu32)?;
        a.pop(cx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EBX), INITIAL_ESP - 2);
    assert_eq!(g.reg(ECX), 0xffff_1234);
    assert_eq!(g.reg(ESP), INITIAL_ESP);
}

fn pushad_popad(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 1)?;
        a.mov(ecx, 2)?;
        a.mov(edx, 3)?;
        a.mov(ebx, 4)?;
        a.mov(ebp, 6)?;
        a.mov(esi, 7)?;
        a.mov(edi, 8)?;
        a.pushad()?;
        a.mov(eax, dword_ptr(esp + 12))?; // the saved ESP
        a.mov(dword_ptr(DATA), eax)?;
        a.mov(eax, dword_ptr(esp))?; // EDI is lowest
        a.mov(dword_ptr(DATA + 4), eax)?;
        a.xor(eax, eax)?;
        a.xor(ecx, ecx)?;
        a.xor(edi, edi)?;
        a.popad()?;
        a.int(0x80)
    });
    assert_eq!(g.read32(DATA), INITIAL_ESP);
    assert_eq!(g.read32(DATA + 4), 8);
    assert_eq!(
        g.regs(),
        [1, 2, 3, 4, INITIAL_ESP, 6, 7, 8],
        "popad restores all but ESP"
    );
}

fn enter_and_leave(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(ebp, 0x5555)?;
        a.enter(16u32, 0u32)?;
        a.mov(eax, ebp)?;
        a.mov(ebx, esp)?;
        a.leave()?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), INITIAL_ESP - 4);
    assert_eq!(g.reg(EBX), INITIAL_ESP - 4 - 16);
    assert_eq!((g.reg(EBP), g.reg(ESP)), (0x5555, INITIAL_ESP));
    // Nesting level 2: copies one outer frame pointer and pushes the new one.
    let g = run(e, |a| {
        a.mov(ebp, INITIAL_ESP + 0x40)?;
        a.mov(dword_ptr(INITIAL_ESP + 0x40 - 4), 0xabcd)?;
        a.enter(8u32, 2u32)?;
        a.int(0x80)
    });
    let frame = INITIAL_ESP - 4;
    assert_eq!(g.reg(EBP), frame);
    assert_eq!(g.read32(frame), INITIAL_ESP + 0x40);
    assert_eq!(g.read32(frame - 4), 0xabcd);
    assert_eq!(g.read32(frame - 8), frame);
    assert_eq!(g.reg(ESP), frame - 8 - 8);
}

fn xlat_table_lookup(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.mov(ebx, DATA)?;
        a.mov(eax, 0x1234_0003)?;
        a.xlatb()?;
        a.int(0x80)
    });
    g.mem.write_bytes(DATA, &[10, 11, 12, 13, 14]).unwrap();
    g.run_to_syscall();
    assert_eq!(g.reg(EAX), 0x1234_000d);
}

fn flag_instructions(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.stc()?;
        a.cmc()?; // CF 0
        a.setb(byte_ptr(DATA))?;
        a.cmc()?; // CF 1
        a.setb(byte_ptr(DATA + 1))?;
        a.clc()?;
        a.setb(byte_ptr(DATA + 2))?;
        a.mov(eax, 0xd5 << 8)?; // AH: SF ZF AF PF CF
        a.sahf()?;
        a.mov(eax, 0)?;
        a.lahf()?;
        a.int(0x80)
    });
    let mut got = [0u8; 3];
    g.mem.read_bytes(DATA, &mut got).unwrap();
    assert_eq!(got, [0, 1, 0]);
    assert_eq!(g.arith_flags(), SF | ZF | AF | PF | CF);
    assert_eq!(g.reg(EAX), 0xd7 << 8);
}

fn nops_do_nothing(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 3)?;
        a.nop()?;
        a.nops_with_size(9)?; // multi-byte NOPs with memory operands touch no memory
        a.db(&[0x0f, 0x1f, 0x80, 0, 0, 0, 0x10])?; // nop dword [eax+0x10000000]
        a.pause()?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 3);
}

conformance! {
    partial_register_writes_keep_other_bits,
    moffs_and_modrm_memory_forms,
    zero_and_sign_extension,
    lea_forms,
    exchanges,
    push_pop_forms,
    pop_esp_loads_the_popped_value,
    sixteen_bit_push_pop,
    pushad_popad,
    enter_and_leave,
    xlat_table_lookup,
    flag_instructions,
    nops_do_nothing,
}
