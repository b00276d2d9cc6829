//! Row cache: values of hot keys that were read from SSTables, so a repeated read skips the
//! bloom probes, index searches and block decoding. Memtable hits never enter it (they are fast
//! already) and writes invalidate it.
//!
//! Admission: a value read from a table enters the cache only if its key was already read from a
//! table recently, as judged by a *doorkeeper* (TinyLFU's): one bit per key hash in a small bit
//! array (8 bits per cached item, a few tens of KiB), cleared whenever an eighth of its bits have
//! been set. Under uniform random reads over more keys than the cache holds, filling on every
//! read cost more (an allocation, a 1 KiB copy, an insert and an eviction per read) than the few
//! hits it bought; a key read twice within the window, as a hot key is, still gets in.
//!
//! Keys are stored with the engine's 64-bit key hash (`bloom::key_hash`, computed once per read),
//! which is all the cache hashes, so a lookup neither rehashes the key nor allocates.
//!
//! A reader that fills the cache races with a writer of the same key: the reader may have read the
//! old value before the write and insert it after the writer's invalidation. Stripes of write
//! generations close that window: a writer bumps its key's stripe and then invalidates; a reader
//! notes the stripe before reading and, after inserting, removes its entry again if the stripe
//! moved. Whatever the interleaving, a stale entry does not survive.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{Equivalent, Weighter};

#[derive(Clone)]
pub struct CachedRow {
    pub value: Arc<[u8]>,
    pub expires_at: u64,
}

/// A cached key with its hash; hashes (for the cache's tables) as just that hash.
#[derive(PartialEq, Eq)]
struct RowKey {
    hash: u64,
    key: Box<[u8]>,
}

impl Hash for RowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A lookup key, borrowed: hashes exactly like the `RowKey` it matches.
struct Probe<'a> {
    hash: u64,
    key: &'a [u8],
}

impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Equivalent<RowKey> for Probe<'_> {
    fn equivalent(&self, k: &RowKey) -> bool {
        self.hash == k.hash && self.key == &*k.key
    }
}

/// Passes the key hash through: it is already a well-mixed 64-bit hash.
#[derive(Clone, Default)]
struct KeyHashBuilder;

#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (by RowKey and Probe); fold anything else in for safety.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher::default()
    }
}

#[derive(Clone)]
struct RowWeighter;

impl Weighter<RowKey, CachedRow> for RowWeighter {
    fn weight(&self, key: &RowKey, row: &CachedRow) -> u64 {
        (key.key.len() + row.value.len() + 64) as u64
    }
}

const STRIPES: usize = 1024;

/// One bit per key hash; a set bit means "read from a table recently".
struct Doorkeeper {
    words: Box<[AtomicU64]>,
    /// log2 of the number of bits.
    bits_log2: u32,
    /// Bits set since the last clear, and the count at which to clear again.
    set: AtomicUsize,
    clear_at: usize,
}

impl Doorkeeper {
    fn new(items: usize) -> Doorkeeper {
        let bits = (items.saturating_mul(8))
            .clamp(1 << 12, 1 << 26)
            .next_power_of_two();
        Doorkeeper {
            words: (0..bits / 64).map(|_| AtomicU64::new(0)).collect(),
            bits_log2: bits.trailing_zeros(),
            set: AtomicUsize::new(0),
            clear_at: bits / 8,
        }
    }

    /// Records a read of the key with this hash; true if it was (probably) read recently.
    fn seen_before(&self, key_hash: u64) -> bool {
        // The top bits: the low ones pick cache stripes and memtable slots.
        let bit = (key_hash >> (64 - self.bits_log2)) as usize;
        let Some(word) = self.words.get(bit / 64) else {
            return false;
        };
        let mask = 1u64 << (bit % 64);
        if word.load(Ordering::Relaxed) & mask != 0 {
            return true;
        }
        word.fetch_or(mask, Ordering::Relaxed);
        if self.set.fetch_add(1, Ordering::Relaxed) + 1 >= self.clear_at {
            // Races with concurrent setters only lose or keep a few bits: admission is a guess.
            self.set.store(0, Ordering::Relaxed);
            for w in self.words.iter() {
                w.store(0, Ordering::Relaxed);
            }
        }
        false
    }
}

pub struct RowCache {
    cache: Option<Cache<RowKey, CachedRow, RowWeighter, KeyHashBuilder>>,
    doorkeeper: Doorkeeper,
    generations: Box<[AtomicU64]>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl RowCache {
    pub fn new(capacity_bytes: usize) -> Self {
        // Estimated item count only sizes internal tables; the weight bound is what limits memory.
        let items = (capacity_bytes / 1024).max(16);
        let cache = (capacity_bytes > 0).then(|| {
            Cache::with(
                items,
                capacity_bytes as u64,
                RowWeighter,
                KeyHashBuilder,
                DefaultLifecycle::default(),
            )
        });
        RowCache {
            doorkeeper: Doorkeeper::new(if cache.is_some() { items } else { 0 }),
            cache,
            generations: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.cache.is_some()
    }

    fn stripe(key_hash: u64) -> usize {
        (key_hash as usize) % STRIPES
    }

    /// `key_hash` is `bloom::key_hash(key)`.
    pub fn get(&self, key: &[u8], key_hash: u64) -> Option<CachedRow> {
        let cache = self.cache.as_ref()?;
        let row = cache.get(&Probe {
            hash: key_hash,
            key,
        });
        if row.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        row
    }

    /// The stripe generation to pass to `insert` after the read.
    pub fn generation(&self, key_hash: u64) -> u64 {
        self.generations
            .get(Self::stripe(key_hash))
            .map(|g| g.load(Ordering::Acquire))
            .unwrap_or(0)
    }

    /// Whether a value just read from a table should be inserted: the doorkeeper's verdict (and
    /// a record of this read for the next one). False when the cache is disabled.
    pub fn admit(&self, key_hash: u64) -> bool {
        self.cache.is_some() && self.doorkeeper.seen_before(key_hash)
    }

    pub fn insert(&self, key: &[u8], key_hash: u64, generation_before_read: u64, row: CachedRow) {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        cache.insert(
            RowKey {
                hash: key_hash,
                key: key.into(),
            },
            row,
        );
        if self.generation(key_hash) != generation_before_read {
            cache.remove(&Probe {
                hash: key_hash,
                key,
            });
        }
    }

    /// Called by writers after the write is visible in the memtable.
    pub fn invalidate(&self, key: &[u8], key_hash: u64) {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        if let Some(g) = self.generations.get(Self::stripe(key_hash)) {
            g.fetch_add(1, Ordering::AcqRel);
        }
        cache.remove(&Probe {
            hash: key_hash,
            key,
        });
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
    pub fn weight(&self) -> u64 {
        self.cache.as_ref().map(|c| c.weight()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::bloom::key_hash;

    fn row(v: &[u8]) -> CachedRow {
        CachedRow {
            value: Arc::from(v),
            expires_at: 0,
        }
    }

    #[test]
    fn a_key_is_admitted_on_its_second_read() {
        let c = RowCache::new(1 << 20);
        let h = key_hash(b"k");
        assert!(!c.admit(h));
        assert!(c.admit(h));
        c.insert(b"k", h, c.generation(h), row(b"v"));
        assert_eq!(&*c.get(b"k", h).unwrap().value, b"v");
        // Same hash, other key: no false hit.
        assert!(c.get(b"other", h).is_none());
        assert!(!RowCache::new(0).admit(h));
    }

    #[test]
    fn the_doorkeeper_forgets_after_its_window() {
        let c = RowCache::new(16 << 10);
        let h = key_hash(b"k");
        assert!(!c.admit(h));
        // Far more distinct keys than the window: the bit for "k" gets cleared.
        for i in 0u32..100_000 {
            c.admit(key_hash(&i.to_le_bytes()));
        }
        assert!(!c.admit(h));
    }

    #[test]
    fn a_write_during_a_read_leaves_no_stale_entry() {
        let c = RowCache::new(1 << 20);
        let h = key_hash(b"k");
        let before = c.generation(h);
        // The writer's invalidation lands between the reader's table read and its insert.
        c.invalidate(b"k", h);
        c.insert(b"k", h, before, row(b"old"));
        assert!(c.get(b"k", h).is_none());
        c.insert(b"k", h, c.generation(h), row(b"new"));
        assert_eq!(&*c.get(b"k", h).unwrap().value, b"new");
        c.invalidate(b"k", h);
        assert!(c.get(b"k", h).is_none());
    }
}
