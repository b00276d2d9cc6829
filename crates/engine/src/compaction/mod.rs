//! Compaction: leveled, as in LevelDB/RocksDB. The policy (`policy`) is a pure function that only
//! chooses what to compact from a summary of the levels; the worker (`worker`) executes a choice.
//!
//! Why leveled rather than tiered: ringkv's replicas overwrite the same keys again and again
//! (every read repair, hint and anti-entropy sync rewrites a key's envelope), and the design holds
//! space amplification under 2x for such loads. Leveled keeps it near 1.1x (each level is 10x the
//! one above, so at most ~10% of the data is stale) and bounds a point read to one table per level
//! plus L0; tiered would write less but hold several copies of hot keys. Writes pay ~10x write
//! amplification per level, which the benchmark measures.
//!
//! Old versions are dropped as soon as a compaction sees a newer one: readers that need them hold
//! the old tables through their `Version`. Tombstones and expired values are dropped only when no
//! deeper level may hold an older version of the key (otherwise it would reappear); above that they
//! are kept (an expired value becomes a tombstone, losing its bytes).

pub mod policy;
pub mod worker;
