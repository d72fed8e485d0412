//! catm: concatenate files.
//!
//! `catm OUTPUT INPUT...` writes the inputs, in order, to OUTPUT (created with
//! mode 0600 like the hand-written `catm_x86.hex2`). Upstream skips an input it
//! cannot open without a word; this implementation reports it as an error.

use crate::fs::SeedFs;
use crate::SeedError;

/// Mode upstream gives the output file.
pub const OUTPUT_MODE: u32 = 0o600;

/// Concatenates `inputs` into `output`.
pub fn run(output: &str, inputs: &[String], fs: &mut dyn SeedFs) -> Result<(), SeedError> {
    let mut data = Vec::new();
    for input in inputs {
        let bytes = fs.read(input).map_err(|source| SeedError::Read {
            path: input.clone(),
            source,
        })?;
        data.extend_from_slice(&bytes);
    }
    fs.write(output, &data, OUTPUT_MODE)
        .map_err(|source| SeedError::Write {
            path: output.to_string(),
            source,
        })
}
