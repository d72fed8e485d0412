//! StageX hand-off: the package graph, source fetching, and the OCI image of
//! `bootstrap-stage0` written from Stage0's files exactly as BuildKit would export it.

pub mod attest;
pub mod build_args;
pub mod build_root;
pub mod buildkit;
pub mod buildx_args;
pub mod buildx_run;
pub mod containerfile;
pub mod digests;
pub mod doctor;
pub mod emulated;
pub mod engine;
pub mod engine_build;
pub mod engine_cli;
pub mod error;
pub mod fetch;
pub mod gojson;
pub mod graph;
pub mod native;
pub mod oci;
pub mod package;
pub mod sources;
pub mod stage_image;
pub mod tar;

pub use error::{Error, Result};
