//! ADD ADC SUB SBB CMP INC DEC NEG and the logic ops: results and flags, hand-computed.

mod cpu_common;
use cpu_common::*;

fn add_signed_overflow(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x7fff_ffff)?;
        a.add(eax, 1)
    });
    assert_eq!(r, (0x8000_0000, OF | SF | AF | PF));
}

fn add_carry_to_zero(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.mov(eax, 0xffff_ffffu32)?;
        a.mov(ebx, 1)?;
        a.add(eax, ebx)
    });
    assert_eq!(r, (0, CF | ZF | AF | PF));
}

fn sub_borrow(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.xor(eax, eax)?;
        a.sub(eax, 1)
    });
    assert_eq!(r, (0xffff_ffff, CF | SF | AF | PF));
}

fn cmp_equal_keeps_operand(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.mov(eax, 5)?;
        a.mov(ecx, 5)?;
        a.cmp(eax, ecx)
    });
    assert_eq!(r, (5, ZF | PF));
}

fn inc_dec_preserve_carry(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.stc()?;
        a.mov(eax, 0xffff_ffffu32)?;
        a.inc(eax)
    });
    assert_eq!(r, (0, CF | ZF | AF | PF));
    let r = eax_flags(e, |a| {
        a.clc()?;
        a.mov(eax, 0x8000_0000u32)?;
        a.dec(eax)
    });
    assert_eq!(r, (0x7fff_ffff, OF | AF | PF));
}

fn neg_cases(e: EngineUnderTest) {
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0)?;
            a.neg(eax)
        }),
        (0, ZF | PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 5)?;
            a.neg(eax)
        }),
        (0xffff_fffb, CF | SF | AF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0x8000_0000u32)?;
            a.neg(eax)
        }),
        (0x8000_0000, CF | OF | SF | PF)
    );
}

fn eight_bit_add_keeps_upper_bits(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.add(al, 0x90)
    });
    assert_eq!(r, (0x1234_5608, CF));
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x1234_5678)?;
        a.add(ah, 0x10)
    });
    assert_eq!(r.0, 0x1234_6678);
}

fn sixteen_bit_add_keeps_upper_bits(e: EngineUnderTest) {
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x1234_ffff)?;
        a.add(ax, 1)
    });
    assert_eq!(r, (0x1234_0000, CF | ZF | AF | PF));
    let r = eax_flags(e, |a| {
        a.mov(eax, 0x1234_7fff)?;
        a.mov(ecx, 0xffff_0001u32)?;
        a.add(ax, cx)
    });
    assert_eq!(r, (0x1234_8000, OF | SF | AF | PF));
}

fn adc_and_sbb_use_carry(e: EngineUnderTest) {
    assert_eq!(
        eax_flags(e, |a| {
            a.stc()?;
            a.mov(eax, 1)?;
            a.adc(eax, 1)
        }),
        (3, PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.stc()?;
            a.mov(eax, 0xffff_ffffu32)?;
            a.adc(eax, 0)
        }),
        (0, CF | ZF | AF | PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.stc()?;
            a.mov(eax, 0x7fff_ffff)?;
            a.adc(eax, 0)
        }),
        (0x8000_0000, OF | SF | AF | PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.stc()?;
            a.mov(eax, 0)?;
            a.sbb(eax, 0)
        }),
        (0xffff_ffff, CF | SF | AF | PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.stc()?;
            a.mov(eax, 0x8000_0000u32)?;
            a.sbb(eax, 0)
        }),
        (0x7fff_ffff, OF | AF | PF)
    );
    // Without a carry in they are plain add/sub.
    assert_eq!(
        eax_flags(e, |a| {
            a.clc()?;
            a.mov(eax, 10)?;
            a.sbb(eax, 3)
        }),
        (7, 0)
    );
}

fn adc_chain_adds_64_bit_numbers(e: EngineUnderTest) {
    // 0x00000001_ffffffff + 0x00000002_00000001 = 0x00000004_00000000
    let g = run(e, |a| {
        a.mov(eax, 0xffff_ffffu32)?;
        a.mov(edx, 1)?;
        a.add(eax, 1)?;
        a.adc(edx, 2)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EDX), g.reg(EAX)), (4, 0));
}

fn logic_ops_clear_cf_of(e: EngineUnderTest) {
    assert_eq!(
        eax_flags(e, |a| {
            a.stc()?;
            a.mov(eax, 0xf0)?;
            a.and(eax, 0x0f)
        }),
        (0, ZF | PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 1)?;
            a.or(eax, 0x8000_0000u32 as i32)
        }),
        (0x8000_0001, SF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0x1234)?;
            a.xor(eax, eax)
        }),
        (0, ZF | PF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0x80)?;
            a.test(al, al)
        }),
        (0x80, SF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0x0000_ff00)?;
            a.xor(ah, 0x0f)
        }),
        (0x0000_f000, SF | PF)
    );
}

fn not_changes_no_flags(e: EngineUnderTest) {
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0)?;
            a.stc()?;
            a.not(eax)
        }),
        (0xffff_ffff, CF)
    );
    assert_eq!(
        eax_flags(e, |a| {
            a.mov(eax, 0x1234_5678)?;
            a.not(ax)
        })
        .0,
        0x1234_a987
    );
}

fn memory_operand_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(ebx, DATA)?;
        a.mov(dword_ptr(ebx + 8), 100)?;
        a.add(dword_ptr(ebx + 8), 23)?; // m, imm
        a.mov(ecx, 7)?;
        a.sub(dword_ptr(ebx + 8), ecx)?; // m, r
        a.mov(eax, 1000)?;
        a.add(eax, dword_ptr(ebx + 8))?; // r, m
        a.mov(byte_ptr(ebx + 3), 0x7f)?;
        a.inc(byte_ptr(ebx + 3))?; // 8-bit RMW in memory, OF
        a.int(0x80)
    });
    assert_eq!(g.read32(DATA + 8), 116);
    assert_eq!(g.reg(EAX), 1116);
    assert_eq!(g.mem.read_u8(DATA + 3).unwrap(), 0x80);
    assert_eq!(g.arith_flags(), OF | SF | AF);
}

/// Every condition code after CMP of each width, against the definitions in the SDM.
fn conditions_after_cmp_all_widths(e: EngineUnderTest) {
    let values: [u32; 8] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff_ffff, 0x8000_0000];
    for bits in [8u32, 16, 32] {
        let mask = if bits == 32 {
            u32::MAX
        } else {
            (1 << bits) - 1
        };
        let sign = 1u32 << (bits - 1);
        for &x in &values {
            for &y in &values {
                let (x, y) = (x & mask, y & mask);
                let r = x.wrapping_sub(y) & mask;
                let sx = ((x << (32 - bits)) as i32) >> (32 - bits);
                let sy = ((y << (32 - bits)) as i32) >> (32 - bits);
                let of = ((x ^ y) & (x ^ r) & sign) != 0;
                let sf = r & sign != 0;
                let zf = r == 0;
                let cf = x < y;
                let pf = (r as u8).count_ones() & 1 == 0;
                let expected = [
                    of,
                    !of,
                    cf,
                    !cf,
                    zf,
                    !zf,
                    cf || zf,
                    !cf && !zf,
                    sf,
                    !sf,
                    pf,
                    !pf,
                    sx < sy,
                    sx >= sy,
                    sx <= sy,
                    sx > sy,
                ];
                // setcc into 16 bytes of DATA, one per condition.
                let g = run(e, |a| {
                    a.mov(edi, DATA)?;
                    a.mov(eax, x)?;
                    a.mov(ebx, y)?;
                    match bits {
                        8 => a.cmp(al, bl)?,
                        16 => a.cmp(ax, bx)?,
                        _ => a.cmp(eax, ebx)?,
                    }
                    a.seto(byte_ptr(edi))?;
                    a.setno(byte_ptr(edi + 1))?;
                    a.setb(byte_ptr(edi + 2))?;
                    a.setae(byte_ptr(edi + 3))?;
                    a.sete(byte_ptr(edi + 4))?;
                    a.setne(byte_ptr(edi + 5))?;
                    a.setbe(byte_ptr(edi + 6))?;
                    a.seta(byte_ptr(edi + 7))?;
                    a.sets(byte_ptr(edi + 8))?;
                    a.setns(byte_ptr(edi + 9))?;
                    a.setp(byte_ptr(edi + 10))?;
                    a.setnp(byte_ptr(edi + 11))?;
                    a.setl(byte_ptr(edi + 12))?;
                    a.setge(byte_ptr(edi + 13))?;
                    a.setle(byte_ptr(edi + 14))?;
                    a.setg(byte_ptr(edi + 15))?;
                    a.int(0x80)
                });
                for (cc, &e) in expected.iter().enumerate() {
                    let got = g.mem.read_u8(DATA + cc as u32).unwrap();
                    assert_eq!(got, e as u8, "cmp{bits} {x:#x},{y:#x} cc {cc}");
                }
                let fl = g.arith_flags();
                assert_eq!(fl & CF != 0, cf);
                assert_eq!(fl & ZF != 0, zf);
                assert_eq!(fl & SF != 0, sf);
                assert_eq!(fl & OF != 0, of);
                assert_eq!(fl & PF != 0, pf);
            }
        }
    }
}

/// Conditions computed the slow way (after ADD, after logic ops, after INC).
fn conditions_after_other_ops(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(edi, DATA)?;
        a.mov(eax, 0x7fff_ffff)?;
        a.add(eax, 1)?; // OF SF
        a.seto(byte_ptr(edi))?;
        a.setl(byte_ptr(edi + 1))?; // SF != OF -> 0
        a.setle(byte_ptr(edi + 2))?; // 0
        a.mov(eax, 0)?;
        a.test(eax, eax)?;
        a.setle(byte_ptr(edi + 3))?; // ZF -> 1
        a.setbe(byte_ptr(edi + 4))?; // 1
        a.mov(eax, 0xffff_ffffu32)?;
        a.stc()?;
        a.inc(eax)?;
        a.setb(byte_ptr(edi + 5))?; // CF preserved -> 1
        a.sete(byte_ptr(edi + 6))?; // 1
        a.int(0x80)
    });
    let mut got = [0u8; 7];
    g.mem.read_bytes(DATA, &mut got).unwrap();
    assert_eq!(got, [1, 0, 0, 1, 1, 1, 1]);
}

conformance! {
    add_signed_overflow,
    add_carry_to_zero,
    sub_borrow,
    cmp_equal_keeps_operand,
    inc_dec_preserve_carry,
    neg_cases,
    eight_bit_add_keeps_upper_bits,
    sixteen_bit_add_keeps_upper_bits,
    adc_and_sbb_use_carry,
    adc_chain_adds_64_bit_numbers,
    logic_ops_clear_cf_of,
    not_changes_no_flags,
    memory_operand_forms,
    conditions_after_cmp_all_widths,
    conditions_after_other_ops,
}
