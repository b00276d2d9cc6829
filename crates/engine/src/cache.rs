//! Row cache: values of hot keys that were read from SSTables, so a repeated read skips the
//! bloom probes, index searches and block decoding. Memtable hits never enter it (they are fast
//! already) and writes invalidate it.
//!
//! A reader that fills the cache races with a writer of the same key: the reader may have read the
//! old value before the write and insert it after the writer's invalidation. Stripes of write
//! generations close that window: a writer bumps its key's stripe and then invalidates; a reader
//! notes the stripe before reading and, after inserting, removes its entry again if the stripe
//! moved. Whatever the interleaving, a stale entry does not survive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

#[derive(Clone)]
pub struct CachedRow {
    pub value: Arc<[u8]>,
    pub expires_at: u64,
}

#[derive(Clone)]
struct RowWeighter;

impl Weighter<Vec<u8>, CachedRow> for RowWeighter {
    fn weight(&self, key: &Vec<u8>, row: &CachedRow) -> u64 {
        (key.len() + row.value.len() + 64) as u64
    }
}

const STRIPES: usize = 1024;

pub struct RowCache {
    cache: Option<Cache<Vec<u8>, CachedRow, RowWeighter>>,
    generations: Box<[AtomicU64]>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl RowCache {
    pub fn new(capacity_bytes: usize) -> Self {
        let cache = (capacity_bytes > 0).then(|| {
            // Estimated item count only sizes internal tables; the weight bound is what limits memory.
            let items = (capacity_bytes / 1024).max(16);
            Cache::with_weighter(items, capacity_bytes as u64, RowWeighter)
        });
        RowCache {
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

    pub fn get(&self, key: &[u8]) -> Option<CachedRow> {
        let cache = self.cache.as_ref()?;
        let row = cache.get(key);
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

    pub fn insert(&self, key: &[u8], key_hash: u64, generation_before_read: u64, row: CachedRow) {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        cache.insert(key.to_vec(), row);
        if self.generation(key_hash) != generation_before_read {
            cache.remove(key);
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
        cache.remove(key);
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
