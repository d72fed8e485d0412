//! MOVS STOS LODS CMPS SCAS with REP prefixes and both directions.

mod cpu_common;
use cpu_common::*;

const SRC: u32 = DATA;
const DST: u32 = DATA + 0x100;

fn with_source(
    e: EngineUnderTest,
    bytes: &[u8],
    f: impl FnOnce(&mut CodeAssembler) -> Result<(), IcedError>,
) -> Guest {
    let mut g = Guest::with(e, f);
    g.mem.write_bytes(SRC, bytes).unwrap();
    g.run_to_syscall();
    g
}

fn rep_movsb_forward(e: EngineUnderTest) {
    let g = with_source(e, b"0123456789", |a| {
        a.mov(esi, SRC)?;
        a.mov(edi, DST)?;
        a.mov(ecx, 10)?;
        a.rep().movsb()?;
        a.int(0x80)
    });
    let mut out = [0u8; 10];
    g.mem.read_bytes(DST, &mut out).unwrap();
    assert_eq!(&out, b"0123456789");
    assert_eq!(
        (g.reg(ESI), g.reg(EDI), g.reg(ECX)),
        (SRC + 10, DST + 10, 0)
    );
    assert_eq!(g.retired(), e.retired_with_rep(4, 10, true));
}

fn rep_movsd_backward_with_df(e: EngineUnderTest) {
    let src: Vec<u8> = (0..16).collect();
    let g = with_source(e, &src, |a| {
        a.std()?;
        a.mov(esi, SRC + 12)?;
        a.mov(edi, DST + 12)?;
        a.mov(ecx, 4)?;
        a.rep().movsd()?;
        a.cld()?;
        a.int(0x80)
    });
    let mut out = [0u8; 16];
    g.mem.read_bytes(DST, &mut out).unwrap();
    assert_eq!(out.to_vec(), src);
    assert_eq!((g.reg(ESI), g.reg(EDI)), (SRC - 4, DST - 4));
    assert_eq!(g.eflags() & DF, 0);
}

fn overlapping_backward_copy(e: EngineUnderTest) {
    // memmove-style: shift "abcdef" right by 2 with DF set.
    let g = with_source(e, b"abcdef", |a| {
        a.std()?;
        a.mov(esi, SRC + 5)?;
        a.mov(edi, SRC + 7)?;
        a.mov(ecx, 6)?;
        a.rep().movsb()?;
        a.int(0x80)
    });
    let mut out = [0u8; 8];
    g.mem.read_bytes(SRC, &mut out).unwrap();
    assert_eq!(&out, b"ababcdef");
}

fn stos_and_lods(e: EngineUnderTest) {
    let g = with_source(e, &[], |a| {
        a.mov(edi, DST)?;
        a.mov(eax, 0x1122_3344)?;
        a.mov(ecx, 3)?;
        a.rep().stosd()?;
        a.stosw()?;
        a.stosb()?;
        a.mov(ecx, 0)?;
        a.rep().stosb()?; // ecx = 0: nothing
        a.mov(esi, DST)?;
        a.lodsb()?;
        a.mov(ebx, eax)?;
        a.lodsw()?;
        a.int(0x80)
    });
    assert_eq!(g.read32(DST), 0x1122_3344);
    assert_eq!(g.read32(DST + 8), 0x1122_3344);
    assert_eq!(g.mem.read_u16(DST + 12).unwrap(), 0x3344);
    assert_eq!(g.mem.read_u8(DST + 14).unwrap(), 0x44);
    assert_eq!(g.mem.read_u8(DST + 15).unwrap(), 0);
    assert_eq!(g.reg(EDI), DST + 15);
    assert_eq!(g.reg(EBX), 0x1122_3344);
    assert_eq!(g.reg(EAX), 0x1122_2233); // bytes 33 22 at DST + 1
    assert_eq!(g.reg(ESI), DST + 3);
}

fn repne_scasb_is_strlen(e: EngineUnderTest) {
    let g = with_source(e, b"hello\0world", |a| {
        a.mov(edi, SRC)?;
        a.xor(eax, eax)?;
        a.mov(ecx, -1)?;
        a.repne().scasb()?;
        a.not(ecx)?;
        a.dec(ecx)?;
        a.int(0x80)
    });
    assert_eq!(g.reg(ECX), 5);
    assert_eq!(g.reg(EDI), SRC + 6);
}

fn repe_cmpsb_stops_at_mismatch(e: EngineUnderTest) {
    let mut g = Guest::with(e, |a| {
        a.mov(esi, SRC)?;
        a.mov(edi, DST)?;
        a.mov(ecx, 10)?;
        a.repe().cmpsb()?;
        a.int(0x80)
    });
    g.mem.write_bytes(SRC, b"abcXe").unwrap();
    g.mem.write_bytes(DST, b"abcYe").unwrap();
    g.run_to_syscall();
    assert_eq!(g.reg(ECX), 6);
    assert_eq!(g.reg(ESI), SRC + 4);
    assert_eq!(g.arith_flags() & (CF | ZF | SF), CF | SF); // 'X' - 'Y' = -1
                                                           // All equal: runs out of ECX with ZF set.
    let mut g = Guest::with(e, |a| {
        a.mov(esi, SRC)?;
        a.mov(edi, DST)?;
        a.mov(ecx, 3)?;
        a.repe().cmpsd()?;
        a.int(0x80)
    });
    g.mem.write_bytes(SRC, &[7; 12]).unwrap();
    g.mem.write_bytes(DST, &[7; 12]).unwrap();
    g.run_to_syscall();
    assert_eq!(g.reg(ECX), 0);
    assert_eq!(g.arith_flags() & ZF, ZF);
}

fn fault_mid_rep_keeps_completed_iterations(e: EngineUnderTest) {
    // Copy 8 dwords to 8 bytes before the end of the data area: the third store faults.
    let end = DATA + DATA_LEN;
    let mut g = Guest::with(e, |a| {
        a.mov(esi, SRC)?;
        a.mov(edi, end - 8)?;
        a.mov(ecx, 8)?;
        a.rep().movsd()?;
        a.int(0x80)
    });
    match g.run() {
        Stop::Fault(f) => {
            assert_eq!(f.eip, CODE + 15);
            assert_eq!(
                f.kind,
                FaultKind::Page(MemFault {
                    addr: end,
                    write: true
                })
            );
        }
        s => panic!("{s:?}"),
    }
    assert_eq!((g.reg(ECX), g.reg(ESI), g.reg(EDI)), (6, SRC + 8, end));
    assert_eq!(g.retired(), e.retired_with_rep(3, 2, false));
}

conformance! {
    rep_movsb_forward,
    rep_movsd_backward_with_df,
    overlapping_backward_copy,
    stos_and_lods,
    repne_scasb_is_strlen,
    repe_cmpsb_stops_at_mismatch,
    fault_mid_rep_keeps_completed_iterations,
}
