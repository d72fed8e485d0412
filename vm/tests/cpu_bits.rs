//! BT BTS BTR BTC BSF BSR BSWAP.

mod cpu_common;
use cpu_common::*;

fn bit_test_register_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 8)?;
        a.bt(eax, 3)?;
        a.setb(byte_ptr(DATA))?;
        a.bts(eax, 4)?;
        a.setb(byte_ptr(DATA + 1))?;
        a.btr(eax, 3)?;
        a.setb(byte_ptr(DATA + 2))?;
        a.btc(eax, 0)?;
        a.setb(byte_ptr(DATA + 3))?;
        a.mov(ecx, 36)?; // offset taken mod 32 -> bit 4
        a.bt(eax, ecx)?;
        a.setb(byte_ptr(DATA + 4))?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x11);
    let mut got = [0u8; 5];
    g.mem.read_bytes(DATA, &mut got).unwrap();
    assert_eq!(got, [1, 0, 1, 0, 1]);
}

fn bit_test_keeps_zf(e: EngineUnderTest) {
    let r = eax_masked(e, ZF | CF, |a| {
        a.xor(eax, eax)?; // ZF
        a.mov(ecx, 1)?;
        a.bt(ecx, 0)
    });
    assert_eq!(r, (0, ZF | CF));
}

fn bit_string_in_memory(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(ecx, -1)?;
        a.bts(dword_ptr(DATA + 4), ecx)?; // bit 31 of the dword at DATA
        a.mov(ecx, 33)?;
        a.bts(dword_ptr(DATA + 4), ecx)?; // bit 1 of the dword at DATA + 8
        a.bts(dword_ptr(DATA + 4), 35)?; // immediate: bit 3 of DATA + 4
        a.mov(ecx, 1000)?;
        a.bt(dword_ptr(DATA), ecx)?; // bit 1000 = byte 125 bit 0: clear
        a.int(0x80)
    });
    assert_eq!(g.read32(DATA), 0x8000_0000);
    assert_eq!(g.read32(DATA + 4), 8);
    assert_eq!(g.read32(DATA + 8), 2);
    assert_eq!(g.arith_flags() & CF, 0);
    let g = run(e, |a| {
        a.mov(word_ptr(DATA + 2), 0x8000)?;
        a.mov(eax, 0xffff_ffffu32)?; // ax = -1: the word below DATA + 4
        a.btr(word_ptr(DATA + 4), ax)?;
        a.int(0x80)
    });
    assert_eq!(g.read32(DATA), 0);
    assert_eq!(g.arith_flags() & CF, CF);
}

fn bit_scans(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(ecx, 0xf0)?;
        a.bsf(eax, ecx)?;
        a.bsr(ebx, ecx)?;
        a.mov(edx, 0x1234)?;
        a.xor(esi, esi)?;
        a.mov(edi, 0x55)?;
        a.bsf(edx, esi)?; // zero source: ZF, destination unchanged
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(EBX), g.reg(EDX)), (4, 7, 0x1234));
    assert_eq!(g.arith_flags() & ZF, ZF);
    let r = eax_masked(e, ZF, |a| {
        a.mov(dword_ptr(DATA), 0x8000_0000u32)?;
        a.bsr(eax, dword_ptr(DATA))
    });
    assert_eq!(r, (31, 0));
}

fn byte_swap(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.bswap(eax)
    });
    assert_eq!(r.0, 0x7856_3412);
}

conformance! {
    bit_test_register_forms,
    bit_test_keeps_zf,
    bit_string_in_memory,
    bit_scans,
    byte_swap,
}
