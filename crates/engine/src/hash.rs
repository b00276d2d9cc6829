//! SHA-256 for the cluster: key positions on the ring (the first 8 bytes of SHA-256(key) as a
//! big-endian u64, DESIGN.md section 2) computed in batches so one native call covers many keys.

use sha2::{Digest, Sha256};

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn ring_position(key: &[u8]) -> u64 {
    let d = Sha256::digest(key);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// Length of `value_digest`.
pub const VALUE_DIGEST_BYTES: usize = 16;

/// What replicas compare to tell whether their copies of a key are the same bytes without sending
/// them (digest reads): xxh3-128, big-endian. Not a cryptographic hash -- equal digests of unequal
/// copies only happen for crafted values, and then cost a missed read repair that anti-entropy
/// (SHA-256 Merkle trees) still makes -- and ~20x cheaper than SHA-256 on a 1 KiB value here.
pub fn value_digest(data: &[u8]) -> [u8; VALUE_DIGEST_BYTES] {
    xxhash_rust::xxh3::xxh3_128(data).to_be_bytes()
}

pub fn ring_positions<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Vec<u64> {
    keys.into_iter().map(ring_position).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_digest_is_xxh3_128_big_endian() {
        // XXH3-128 of the empty input, as published by the reference implementation.
        assert_eq!(
            value_digest(b""),
            0x99aa_06d3_0147_98d8_6001_c324_468d_497fu128.to_be_bytes()
        );
        assert_ne!(value_digest(b"a"), value_digest(b"b"));
    }

    #[test]
    fn position_is_the_first_eight_digest_bytes() {
        // SHA-256("") = e3b0c442 98fc1c14 ...
        assert_eq!(ring_position(b""), 0xe3b0_c442_98fc_1c14);
    }
}
