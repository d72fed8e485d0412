//! Go's `compress/gzip` + `compress/flate` encoder (Go 1.19 to 1.25, levels 2-9), ported
//! so layer blobs match what BuildKit writes byte for byte. BuildKit compresses layers
//! with Go's standard library at `gzip.DefaultCompression` (level 6); every other
//! deflate encoder picks different matches or blocks and so changes the layer digests
//! and the manifest digest. (Go 1.26 replaced this encoder; images built by a BuildKit
//! compiled with it will have different blob digests.)
//!
//! Structure follows Go's files: the LZ77 pass (`deflate.go`), the block writer
//! (`huffman_bit_writer.go`) and the length-limited Huffman builder (`huffman_code.go`).
//!
//! Its own crate because a Go-compatible deflate is useful beyond StageX: anything that must
//! reproduce a Go tool's gzip output (OCI layers, Go module zips) needs exactly these bytes.

mod block_writer;
mod deflate;
mod huffman;
mod tables;

pub use deflate::DeflateWriter;

/// CRC-32 (IEEE) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// `gzip.NewWriterLevel(w, gzip.DefaultCompression)` over `data`, written in 32 KiB
/// pieces as BuildKit's `io.Copy` does: header `1f 8b 08 00`, mtime 0, xfl 0, OS 255.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut d = DeflateWriter::new(6).expect("level 6 is supported");
    for chunk in data.chunks(32 * 1024) {
        d.write(chunk);
    }
    out.extend_from_slice(&d.finish());
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_small_vectors() {
        // Rows of Go's TestDeflate table for the levels this port covers.
        let e = [0x11u8; 8];
        let rows: [(&[u8], u32, &[u8]); 10] = [
            (&[], 6, &[1, 0, 0, 255, 255]),
            (&[0x11], 6, &[18, 4, 4, 0, 0, 255, 255]),
            (&[0x11], 4, &[18, 4, 4, 0, 0, 255, 255]),
            (&[], 2, &[1, 0, 0, 255, 255]),
            (&[0x11], 2, &[18, 4, 4, 0, 0, 255, 255]),
            (&[0x11, 0x12], 2, &[18, 20, 2, 4, 0, 0, 255, 255]),
            (&e, 2, &[18, 132, 2, 64, 0, 0, 0, 255, 255]),
            (&[0x11], 9, &[18, 4, 4, 0, 0, 255, 255]),
            (&[0x11, 0x12], 9, &[18, 20, 2, 4, 0, 0, 255, 255]),
            (&e, 9, &[18, 132, 2, 64, 0, 0, 0, 255, 255]),
        ];
        for (input, level, want) in rows {
            let mut d = DeflateWriter::new(level).unwrap();
            d.write(input);
            assert_eq!(d.finish(), want, "level {level} input {input:?}");
        }
    }

    #[test]
    fn crc_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn unsupported_levels_refused() {
        assert!(DeflateWriter::new(1).is_none() && DeflateWriter::new(10).is_none());
    }
}
