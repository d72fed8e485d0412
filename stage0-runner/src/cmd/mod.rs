//! One module per `stage0-runner` command, named as the command.

pub mod bench;
pub mod ddc;
pub mod exec;
pub mod report;
pub mod run;
pub mod seed;
pub mod step;
