//! MUL IMUL DIV IDIV and the accumulator sign extensions.

mod cpu_common;
use cpu_common::*;

fn mul_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.mov(ecx, 4)?;
        a.mul(ecx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EDX), g.reg(EAX)), (2, 0));
    assert_eq!(g.arith_flags() & (CF | OF), CF | OF);
    let g = run(e, |a| {
        a.mov(eax, 0x1234_56c8)?;
        a.mov(cl, 2)?;
        a.mul(cl)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x1234_0190);
    assert_eq!(g.arith_flags() & (CF | OF), CF | OF);
    let g = run(e, |a| {
        a.mov(eax, 0x1000)?;
        a.mov(edx, 0xffff_ffffu32)?;
        a.mov(ecx, 0x10)?;
        a.mul(cx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EDX), g.reg(EAX)), (0xffff_0001, 0));
    let g = run(e, |a| {
        a.mov(eax, 3)?;
        a.mov(dword_ptr(DATA), 5)?;
        a.mul(dword_ptr(DATA))?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EDX), g.reg(EAX)), (0, 15));
    assert_eq!(g.arith_flags() & (CF | OF), 0);
}

fn imul_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, -2)?;
        a.mov(ecx, 3)?;
        a.imul(ecx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EDX), g.reg(EAX)), (0xffff_ffff, 0xffff_fffa));
    assert_eq!(g.arith_flags() & (CF | OF), 0);
    let g = run(e, |a| {
        a.mov(eax, 0x4000_0000)?;
        a.mov(ecx, 2)?;
        a.imul_2(eax, ecx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x8000_0000);
    assert_eq!(g.arith_flags() & (CF | OF), CF | OF);
    let g = run(e, |a| {
        a.mov(ecx, 0x10000)?;
        a.imul_3(eax, ecx, 0x10000)?;
        a.mov(edx, 5)?;
        a.imul_3(ebx, edx, -3)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(EBX)), (0, (-15i32) as u32));
    assert_eq!(g.arith_flags() & (CF | OF), 0, "flags of the last imul");
    let g = run(e, |a| {
        a.mov(ecx, 0x10000)?;
        a.imul_3(eax, ecx, 0x10000)?;
        a.int(0x80)
    });
    assert_eq!(g.arith_flags() & (CF | OF), CF | OF);
    let g = run(e, |a| {
        a.mov(eax, 0xabcd_0000u32)?;
        a.mov(ecx, 200)?;
        a.imul_3(ax, cx, 300)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0xabcd_ea60);
    assert_eq!(g.arith_flags() & (CF | OF), CF | OF);
    let g = run(e, |a| {
        a.mov(eax, 0x7f)?;
        a.mov(cl, 0xff)?; // -1
        a.imul(cl)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX) & 0xffff, 0xff81);
    assert_eq!(g.arith_flags() & (CF | OF), 0);
    let g = run(e, |a| {
        a.mov(dword_ptr(DATA), 7)?;
        a.mov(eax, 6)?;
        a.imul_2(eax, dword_ptr(DATA))?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 42);
}

fn div_forms(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(edx, 1)?;
        a.mov(eax, 5)?;
        a.mov(ecx, 0x10)?;
        a.div(ecx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(EDX)), (0x1000_0000, 5));
    let g = run(e, |a| {
        a.mov(edx, 0xaaaa_0001u32)?;
        a.mov(eax, 0xbbbb_0000u32)?;
        a.mov(ecx, 2)?;
        a.div(cx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX), g.reg(EDX)), (0xbbbb_8000, 0xaaaa_0000));
    let g = run(e, |a| {
        a.mov(eax, 0x1234_0107)?;
        a.mov(cl, 2)?;
        a.div(cl)?; // 263 / 2 = 131 r 1
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x1234_0183);
}

fn idiv_truncates_toward_zero(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, -7)?;
        a.cdq()?;
        a.mov(ecx, 2)?;
        a.idiv(ecx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX) as i32, g.reg(EDX) as i32), (-3, -1));
    let g = run(e, |a| {
        a.mov(eax, 7)?;
        a.cdq()?;
        a.mov(ecx, -2)?;
        a.idiv(ecx)?;
        a.int(0x80)
    });
    assert_eq!((g.reg(EAX) as i32, g.reg(EDX) as i32), (-3, 1));
    let g = run(e, |a| {
        a.mov(eax, 0xfff9)?; // ax = -7
        a.mov(cl, 2)?;
        a.idiv(cl)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX) & 0xffff, 0xfffd);
    let g = run(e, |a| {
        a.mov(eax, 0x8000_0000u32)?;
        a.cdq()?;
        a.mov(ecx, 1)?;
        a.idiv(ecx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EAX), 0x8000_0000);
}

fn sign_extensions(e: EngineUnderTest) {
    let g = run(e, |a| {
        a.mov(eax, 0x1234_0080)?;
        a.cbw()?; // ax = 0xff80
        a.mov(ebx, eax)?;
        a.cwde()?; // eax = 0xffffff80
        a.mov(ecx, eax)?;
        a.mov(edx, 0x5555_5555)?;
        a.cwd()?; // dx = 0xffff
        a.mov(esi, edx)?;
        a.mov(eax, 0x7fff_ffff)?;
        a.cdq()?;
        a.int(0x80)
    });
    assert_eq!(g.reg(EBX), 0x1234_ff80);
    assert_eq!(g.reg(ECX), 0xffff_ff80);
    assert_eq!(g.reg(ESI), 0x5555_ffff);
    assert_eq!(g.reg(EDX), 0);
}

conformance! {
    mul_forms,
    imul_forms,
    div_forms,
    idiv_truncates_toward_zero,
    sign_extensions,
}
