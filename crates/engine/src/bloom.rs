//! Bloom filters over a 64-bit key hash, one per SSTable.
//!
//! The engine hashes a key once per `get` (`key_hash`) and probes every table's filter with that
//! hash, so the filter never sees the key itself. Probe positions come from double hashing: the low
//! and high 32-bit halves of the xxh3 hash act as two independent hashes `h1`, `h2` and probe `i`
//! sits at `h1 + i * h2`, mapped onto the bit array by a multiply-shift instead of a modulo (the
//! array length is not a power of two, and a division per probe costs more than the probe).
//!
//! Encoding: `bits[ceil(n * bits_per_key / 8)]` (at least 8 bytes), then one byte `k`, the number of
//! probes. Bit `p` is bit `p % 8` of byte `p / 8`. A filter that cannot be read (empty, or `k`
//! outside 1..=30) answers "maybe" for everything, so a damaged or absent filter costs reads but
//! never loses a key. At 10 bits per key, k = 7 and the false-positive rate is about 0.8%.

use xxhash_rust::xxh3::xxh3_64;

/// More probes than this never pay off (it is optimal only above 43 bits per key) and a larger `k`
/// byte is taken as a sign of a damaged filter.
const MAX_PROBES: u8 = 30;

/// The hash every filter is built from and probed with.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// The number of probes that minimises the false-positive rate for `bits_per_key`: ln 2 * bits.
fn probes_for(bits_per_key: usize) -> u8 {
    // 0.69 rather than ln 2 exactly keeps the integer arithmetic, and rounds 10 bits to 7 probes.
    let k = (bits_per_key.saturating_mul(69) + 50) / 100;
    k.clamp(1, MAX_PROBES as usize) as u8
}

/// Where probe `h` lands in a bit array of `nbits` bits: `h * nbits / 2^32`.
#[inline]
fn bit_position(h: u32, nbits: u64) -> u64 {
    ((u128::from(h) * u128::from(nbits)) >> 32) as u64
}

/// Builds a filter holding every hash in `hashes` (duplicates are harmless). `bits_per_key == 0`
/// gives an empty filter, which answers "maybe" for every key.
pub fn build_filter(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    if bits_per_key == 0 {
        return Vec::new();
    }
    let k = probes_for(bits_per_key);
    // A floor of 64 bits keeps tiny tables from having a filter that is always full.
    let nbits = hashes.len().saturating_mul(bits_per_key).max(64);
    let nbytes = nbits.div_ceil(8);
    let nbits = nbytes as u64 * 8;
    let mut filter = vec![0u8; nbytes + 1];
    for &hash in hashes {
        let mut h = hash as u32;
        let delta = (hash >> 32) as u32;
        for _ in 0..k {
            let pos = bit_position(h, nbits);
            if let Some(byte) = filter.get_mut((pos / 8) as usize) {
                *byte |= 1 << (pos % 8);
            }
            h = h.wrapping_add(delta);
        }
    }
    if let Some(last) = filter.last_mut() {
        *last = k;
    }
    filter
}

/// Whether a key with this hash may be in the filter. `false` is certain; `true` may be a false
/// positive. A malformed or empty filter answers `true`.
#[inline]
pub fn may_contain(filter: &[u8], hash: u64) -> bool {
    let Some((&k, bits)) = filter.split_last() else {
        return true;
    };
    if bits.is_empty() || k == 0 || k > MAX_PROBES {
        return true;
    }
    let nbits = bits.len() as u64 * 8;
    let mut h = hash as u32;
    let delta = (hash >> 32) as u32;
    for _ in 0..k {
        let pos = bit_position(h, nbits);
        match bits.get((pos / 8) as usize) {
            Some(byte) if byte & (1 << (pos % 8)) == 0 => return false,
            _ => {}
        }
        h = h.wrapping_add(delta);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_follow_bits_per_key() {
        assert_eq!(probes_for(1), 1);
        assert_eq!(probes_for(10), 7);
        assert_eq!(probes_for(20), 14);
        assert_eq!(probes_for(1000), MAX_PROBES);
    }

    #[test]
    fn holds_every_key_it_was_built_from() {
        let hashes: Vec<u64> = (0u32..5000).map(|i| key_hash(&i.to_be_bytes())).collect();
        let filter = build_filter(&hashes, 10);
        assert_eq!(filter.last().copied(), Some(7));
        assert!(hashes.iter().all(|&h| may_contain(&filter, h)));
    }

    #[test]
    fn empty_and_malformed_filters_answer_maybe() {
        let h = key_hash(b"anything");
        assert!(may_contain(&[], h));
        assert!(may_contain(&[7], h));
        assert!(may_contain(&[0, 0, 0, 0, 0, 0, 0, 0, 0], h));
        assert!(may_contain(&[0, 0, 0, 0, 0, 0, 0, 0, 31], h));
        assert!(may_contain(&build_filter(&[1, 2, 3], 0), h));
    }

    #[test]
    fn a_filter_of_no_keys_rejects_everything() {
        let filter = build_filter(&[], 10);
        assert!((0u32..1000).all(|i| !may_contain(&filter, key_hash(&i.to_le_bytes()))));
    }
}
