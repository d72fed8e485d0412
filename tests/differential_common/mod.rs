//! Differential testing of i386 engines: random straight-line programs run from identical
//! states on two engines, compared on everything the SDM defines.
//!
//! - [`layout`]: where code, data and stack live; the initial state.
//! - [`tables`]: the instruction encodings and registers drawn from.
//! - [`program`]: generated choices to assembled code (iced-x86's CodeAssembler).
//! - [`flags`]: which flags are undefined after the instructions that ran.
//! - [`gen`]: proptest strategies.
//! - [`engines`]: running a case on the interpreter and on unicorn.
//! - [`compare`]: comparing outcomes and reporting a divergence.
#![allow(dead_code)]

pub mod compare;
pub mod engines;
pub mod flags;
pub mod gen;
pub mod layout;
pub mod program;
pub mod tables;

use std::fmt;

impl fmt::Debug for engines::Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\nprogram:\n{}initial state:\n  {}",
            self.program, self.init
        )
    }
}
