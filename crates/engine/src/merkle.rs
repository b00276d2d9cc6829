//! Merkle range hashing for anti-entropy. Replicas holding the same live data in a key range must
//! produce the same digests whatever their file layout, so hashes cover content only (key, value,
//! expiry), never sequence numbers or tables.
//!
//! A range is cut into `segments` leaves by a hash of the key (not by key order, which would need
//! the key distribution), so a differing key changes exactly one leaf. A leaf is the SHA-256 of the
//! concatenated entry hashes of its keys in key order; the root is the SHA-256 of the leaves. The
//! caller builds inner tree levels over the leaves as it likes (they are cheap).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const MAX_SEGMENTS: u32 = 1 << 20;

/// Which leaf a key belongs to, for `segments` leaves.
pub fn segment_of(key: &[u8], segments: u32) -> u32 {
    let h = xxhash_rust::xxh3::xxh3_64(key);
    ((u128::from(h) * u128::from(segments)) >> 64) as u32
}

/// Content hash of one live entry.
pub fn entry_hash(key: &[u8], value: &[u8], expires_at: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((key.len() as u32).to_le_bytes());
    h.update(key);
    h.update(expires_at.to_le_bytes());
    h.update(value);
    h.finalize().into()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleSummary {
    pub root: [u8; 32],
    pub leaves: Vec<[u8; 32]>,
    pub entries: u64,
    pub bytes: u64,
}

pub struct MerkleBuilder {
    leaves: Vec<Sha256>,
    entries: u64,
    bytes: u64,
}

impl MerkleBuilder {
    pub fn new(segments: u32) -> Result<Self> {
        if segments == 0 || segments > MAX_SEGMENTS {
            return Err(Error::InvalidArgument(format!(
                "segments must be between 1 and {MAX_SEGMENTS}, got {segments}"
            )));
        }
        Ok(MerkleBuilder {
            leaves: vec![Sha256::new(); segments as usize],
            entries: 0,
            bytes: 0,
        })
    }

    pub fn add(&mut self, key: &[u8], value: &[u8], expires_at: u64) {
        let seg = segment_of(key, self.leaves.len() as u32) as usize;
        if let Some(leaf) = self.leaves.get_mut(seg) {
            leaf.update(entry_hash(key, value, expires_at));
        }
        self.entries += 1;
        self.bytes += (key.len() + value.len()) as u64;
    }

    pub fn finish(self) -> MerkleSummary {
        let leaves: Vec<[u8; 32]> = self
            .leaves
            .into_iter()
            .map(|l| l.finalize().into())
            .collect();
        let mut root = Sha256::new();
        for l in &leaves {
            root.update(l);
        }
        MerkleSummary {
            root: root.finalize().into(),
            leaves,
            entries: self.entries,
            bytes: self.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_key_changes_one_leaf() {
        let build = |v: &[u8]| {
            let mut b = MerkleBuilder::new(64).ok().map(Some).unwrap_or(None);
            if let Some(b) = b.as_mut() {
                for i in 0u32..1000 {
                    let k = i.to_be_bytes();
                    b.add(&k, if i == 500 { v } else { b"same" }, 0);
                }
            }
            b.map(|b| b.finish())
        };
        let (a, b) = (build(b"x"), build(b"y"));
        let (Some(a), Some(b)) = (a, b) else {
            panic!("builder refused 64 segments")
        };
        assert_ne!(a.root, b.root);
        let differing = a
            .leaves
            .iter()
            .zip(&b.leaves)
            .filter(|(x, y)| x != y)
            .count();
        assert_eq!(differing, 1);
        assert!(MerkleBuilder::new(0).is_err());
    }
}
