//! CRC-32, the checksum a token ends with (its last field): lets a scanner or a parser
//! tell a mistyped token from a forged one without any key.
#[allow(unused_imports)]
use crate::prelude::*;

/// The CRC-32 tables for slicing-by-8: `TABLES[0]` is the classic byte table, `TABLES[k]`
/// advances a byte by `k` more zero bytes. Evaluated at compile time.
#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            k += 1;
        }
        i += 1;
    }
    t
};

/// One table entry (`k` < 8; `b` is masked to a byte).
fn crc_entry(k: usize, b: u32) -> u32 {
    // INVARIANT: `k` < 8 at every call site and `b & 0xFF` < 256.
    CRC_TABLES
        .get(k)
        .and_then(|t| t.get((b & 0xFF) as usize))
        .copied()
        .unwrap_or(0)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and GitHub's token checksum use), eight bytes
/// at a time (slicing-by-8).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let Ok(&[b0, b1, b2, b3, b4, b5, b6, b7]) = <&[u8; 8]>::try_from(c) else {
            continue; // INVARIANT: chunks_exact(8) yields 8-byte slices only
        };
        let lo = u32::from_le_bytes([b0, b1, b2, b3]) ^ crc;
        let hi = u32::from_le_bytes([b4, b5, b6, b7]);
        crc = crc_entry(7, lo)
            ^ crc_entry(6, lo >> 8)
            ^ crc_entry(5, lo >> 16)
            ^ crc_entry(4, lo >> 24)
            ^ crc_entry(3, hi)
            ^ crc_entry(2, hi >> 8)
            ^ crc_entry(1, hi >> 16)
            ^ crc_entry(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        crc = crc_entry(0, crc ^ u32::from(b)) ^ (crc >> 8);
    }
    !crc
}
