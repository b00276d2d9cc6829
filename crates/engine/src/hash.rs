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

pub fn ring_positions<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Vec<u64> {
    keys.into_iter().map(ring_position).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_is_the_first_eight_digest_bytes() {
        // SHA-256("") = e3b0c442 98fc1c14 ...
        assert_eq!(ring_position(b""), 0xe3b0_c442_98fc_1c14);
    }
}
