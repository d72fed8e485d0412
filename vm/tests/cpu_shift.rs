//! SHL SHR SAR ROL ROR RCL RCR SHLD SHRD: results and the defined flags.

mod cpu_common;
use cpu_common::*;

/// The flags every shift defines for a count of 1 (AF is undefined).
const DEFINED: u32 = CF | OF | ZF | SF | PF;

fn shl_by_one(e: EngineUnderTest) {
    let r = eax_masked(e, DEFINED, |a| {
        a.mov(eax, 0x8000_0001u32)?;
        a.shl(eax, 1)
    });
    assert_eq!(r, (2, CF | OF));
}

fn shr_by_one_sets_of_from_msb(e: EngineUnderTest) {
    let r = eax_masked(e, DEFINED, |a| {
        a.mov(eax, 0x8000_0001u32)?;
        a.shr(eax, 1)
    });
    assert_eq!(r, (0x4000_0000, CF | OF | PF));
}

fn sar_keeps_sign(e: EngineUnderTest) {
    let r = eax_masked(e, DEFINED, |a| {
        a.mov(eax, 0x8000_0001u32)?;
        a.sar(eax, 1)
    });
    assert_eq!(r, (0xc000_0000, CF | SF | PF));
    let r = eax_masked(e, CF | ZF | SF | PF, |a| {
        a.mov(eax, 0x8000_0010u32)?;
        a.mov(cl, 4)?;
        a.sar(eax, cl)
    });
    assert_eq!(r, (0xf800_0001, SF));
}

fn count_zero_and_count_32_change_nothing(e: EngineUnderTest) {
    for count in [0u32, 32] {
        let r = eax_flags(e, |a| {
            a.mov(eax, 5)?;
            a.stc()?;
            a.mov(ecx, count)?;
            a.shl(eax, cl)
        });
        assert_eq!(r, (5, CF), "count {count}");
    }
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.cmp(eax, eax)?; // ZF PF
        a.shr(eax, 0)
    });
    assert_eq!(r, (0x8000_0000, ZF | PF));
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x1234)?;
        a.stc()?;
        a.mov(cl, 32)?;
        a.rol(eax, cl)
    });
    assert_eq!(r, (0x1234, CF));
}

fn shift_counts_are_masked_to_five_bits(e: EngineUnderTest) {
    let r = eax_masked(e, DEFINED & !OF, |a| {
        a.mov(eax, 1)?;
        a.mov(cl, 33)?; // 33 & 31 = 1
        a.shl(eax, cl)
    });
    assert_eq!(r, (2, 0));
}

fn eight_and_sixteen_bit_shifts_keep_upper_bits(e: EngineUnderTest) {
    let r = eax_masked(e, DEFINED, |a| {
        a.mov(eax, 0x1234_5681)?;
        a.shl(al, 1)
    });
    assert_eq!(r, (0x1234_5602, CF | OF));
    // An 8-bit shift by 9..31 shifts everything out.
    let r = eax_masked(e, ZF | SF | PF, |a| {
        a.mov(eax, 0x1234_56ff)?;
        a.mov(cl, 9)?;
        a.shl(al, cl)
    });
    assert_eq!(r, (0x1234_5600, ZF | PF));
    let r = eax_masked(e, CF | ZF | SF, |a| {
        a.mov(eax, 0xabcd_8001u32)?;
        a.shr(ax, 1)
    });
    assert_eq!(r, (0xabcd_4000, CF));
    let r = eax_masked(e, CF | SF, |a| {
        a.mov(eax, 0x0000_8000)?;
        a.sar(ax, 15)
    });
    assert_eq!(r, (0x0000_ffff, SF));
}

fn rotates_touch_only_cf_and_of(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.xor(ebx, ebx)?; // ZF PF, no CF
        a.mov(eax, 0x8000_0001u32)?;
        a.rol(eax, 1)
    });
    assert_eq!(r, (3, CF | OF | ZF | PF));
    let r = eax_masked(e, CF | OF, |a| {
        a.mov(eax, 1)?;
        a.ror(eax, 1)
    });
    assert_eq!(r, (0x8000_0000, CF | OF));
    let r = eax_masked(e, CF, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.rol(eax, 8)
    });
    assert_eq!(r, (0x3456_7812, 0));
    let r = eax_masked(e, CF, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.ror(ax, 4)
    });
    assert_eq!(r, (0x1234_8567, CF));
    // 8-bit rotate by 8: value unchanged, CF = bit 0.
    let r = eax_masked(e, CF, |a| {
        a.mov(eax, 0x81)?;
        a.rol(al, 8)
    });
    assert_eq!(r, (0x81, CF));
}

fn rotates_through_carry(e: EngineUnderTest) {
    let r = eax_masked(e, CF | OF, |a| {
        a.stc()?;
        a.mov(eax, 0x8000_0000u32)?;
        a.rcl(eax, 1)
    });
    assert_eq!(r, (1, CF | OF));
    let r = eax_masked(e, CF | OF, |a| {
        a.clc()?;
        a.mov(eax, 1)?;
        a.rcr(eax, 1)
    });
    assert_eq!(r, (0, CF));
    let r = eax_masked(e, CF, |a| {
        a.stc()?;
        a.mov(eax, 0xffff_0001u32)?;
        a.rcr(ax, 1)
    });
    assert_eq!(r, (0xffff_8000, CF));
    // 8-bit rcl by 9 is a full turn through CF: nothing changes.
    let r = eax_flags(e, |a| {
        a.stc()?;
        a.mov(eax, 0x55)?;
        a.mov(cl, 9)?;
        a.rcl(al, cl)
    });
    assert_eq!(r, (0x55, CF));
    // rcl by 3 on 8 bits: 1_0101_0101 (CF:al) rotated left 3 in 9 bits.
    let r = eax_masked(e, CF, |a| {
        a.stc()?;
        a.mov(eax, 0x55)?;
        a.rcl(al, 3)
    });
    // x = 0b1_0101_0101; rotl9(x, 3) = 0b0_1010_1101 -> al 0xad, CF 0
    assert_eq!(r, (0xad, 0));
}

fn double_precision_shifts(e: EngineUnderTest) {
    let r = eax_masked(e, CF | ZF | SF | PF, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.mov(ebx, 0x9abc_def0u32)?;
        a.shld(eax, ebx, 8)
    });
    assert_eq!(r, (0x3456_789a, PF));
    let r = eax_masked(e, CF | ZF | SF | PF, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.mov(ebx, 0x9abc_def0u32)?;
        a.mov(cl, 8)?;
        a.shrd(eax, ebx, cl)
    });
    assert_eq!(r, (0xf012_3456, SF | PF));
    let r = eax_masked(e, CF, |a| {
        a.mov(eax, 0xffff_1234u32)?;
        a.mov(ebx, 0x5678)?;
        a.shld(ax, bx, 4)
    });
    assert_eq!(r, (0xffff_2345, CF));
    let r = eax_flags(e, |a| {
        a.mov(eax, 7)?;
        a.stc()?;
        a.shrd(eax, ebx, 0)
    });
    assert_eq!(r, (7, CF));
    // Memory destination.
    let g = run(e, |a| {
        a.mov(dword_ptr(DATA), 0x0000_0001)?;
        a.mov(ebx, 0x8000_0000u32)?;
        a.shrd(dword_ptr(DATA), ebx, 1)?;
        a.int(0x80)
    });
    assert_eq!(g.read32(DATA), 0);
    assert_eq!(g.arith_flags() & (CF | ZF), CF | ZF);
}

fn shift_memory_operand(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(dword_ptr(DATA), 3)?;
        a.shl(dword_ptr(DATA), 4)?;
        a.mov(byte_ptr(DATA + 4), 0x80)?;
        a.sar(byte_ptr(DATA + 4), 7)?;
        a.int(0x80)
    });
    assert_eq!(g.read32(DATA), 48);
    assert_eq!(g.mem.read_u8(DATA + 4).unwrap(), 0xff);
}

conformance! {
    shl_by_one,
    shr_by_one_sets_of_from_msb,
    sar_keeps_sign,
    count_zero_and_count_32_change_nothing,
    shift_counts_are_masked_to_five_bits,
    eight_and_sixteen_bit_shifts_keep_upper_bits,
    rotates_touch_only_cf_and_of,
    rotates_through_carry,
    double_precision_shifts,
    shift_memory_operand,
}
