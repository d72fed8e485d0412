//! proptest strategies for random cases.

use proptest::collection::vec;
use proptest::prelude::*;

use super::engines::Case;
use super::layout::{InitialState, DATA_RANDOM, STACK_RANDOM};
use super::program::{build, OpSeed};

/// Register and immediate values: uniform, plus the edges where flag logic breaks.
pub fn value() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => any::<u32>(),
        2 => 0u32..=40,
        3 => prop::sample::select(vec![
            0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1_0000,
            0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fffe, 0x8000_0001,
        ]),
    ]
}

pub fn op_seed() -> impl Strategy<Value = OpSeed> {
    (
        any::<u8>(),
        any::<u16>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        any::<u16>(),
        value(),
        any::<u32>(),
    )
        .prop_map(|(group, pick, regs, mem, disp, imm, extra)| OpSeed {
            group,
            pick,
            regs,
            mem,
            disp,
            imm,
            extra,
        })
}

pub fn initial_state() -> impl Strategy<Value = InitialState> {
    (
        [
            value(),
            value(),
            value(),
            value(),
            value(),
            value(),
            value(),
            value(),
        ],
        any::<u32>(),
        vec(any::<u8>(), DATA_RANDOM),
        vec(any::<u8>(), STACK_RANDOM),
    )
        .prop_map(|(regs, eflags, data, stack)| InitialState {
            regs,
            eflags,
            data,
            stack,
        })
}

/// A random case of `min..=max` generated instructions (plus set-up and `int 0x80`).
pub fn case(min: usize, max: usize) -> impl Strategy<Value = Case> {
    (vec(op_seed(), min..=max), initial_state()).prop_map(|(seeds, init)| Case {
        program: build(&seeds),
        init,
    })
}
