//! Measures `Table::get` on a 1M-entry table (16-byte keys, 100-byte values): prints ns per op for
//! random hits, random misses and bloom probes. Timing is printed, never asserted; run with
//! `--nocapture` (and `--release` for figures that mean anything).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use ringkv_engine::bloom::key_hash;
use ringkv_engine::sstable::{Table, TableBuilder, TableOptions};
use ringkv_engine::ValueKind;

const LOOKUPS: usize = 200_000;

/// `SSTABLE_BENCH_ENTRIES` and `SSTABLE_BENCH_VALUE` override the defaults (1M entries, 100 bytes),
/// e.g. to measure the engine's 1 KiB-value target.
fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// 16 bytes: an 8-byte big-endian index spread over the key space, then 8 bytes of "payload".
fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(i * 16).to_be_bytes());
    k[8..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_get_latency() {
    let entries = setting("SSTABLE_BENCH_ENTRIES", 1_000_000) as u64;
    let value_len = setting("SSTABLE_BENCH_VALUE", 100);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.sst");
    let started = Instant::now();
    let mut b = TableBuilder::create(&path, TableOptions::default()).unwrap();
    let mut value = vec![0u8; value_len.max(8)];
    for i in 0..entries {
        value[..8].copy_from_slice(&i.to_le_bytes());
        b.add(&key(i), i + 1, ValueKind::Put, 0, &value).unwrap();
    }
    let meta = b.finish().unwrap();
    let build = started.elapsed();

    let started = Instant::now();
    let table = Table::open(&path, 1).unwrap();
    let open = started.elapsed();
    let blocks = table.data_block_handles().unwrap().len();
    println!(
        "table: {entries} entries of {value_len}-byte values, {} MiB, {blocks} data blocks, index {} KiB, filter {} KiB; build {:.2?}, open {:.2?}",
        meta.file_size >> 20,
        table.layout().index.size >> 10,
        table.layout().filter.size >> 10,
        build,
        open
    );

    // Warm the page cache and the per-block checksum bits, as a long-running engine would be.
    table.verify().unwrap();

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let hits: Vec<[u8; 16]> = (0..LOOKUPS).map(|_| key(xorshift(&mut rng) % entries)).collect();
    let started = Instant::now();
    for k in &hits {
        let found = table.get(k, u64::MAX).unwrap().unwrap();
        black_box(found.value);
    }
    let hit_ns = started.elapsed().as_nanos() as f64 / LOOKUPS as f64;

    // Keys inside the table's range that are not in it (bloom not consulted, as in `get`).
    let misses: Vec<[u8; 16]> = hits.iter().map(|k| {
        let mut m = *k;
        m[7] |= 1;
        m
    }).collect();
    let started = Instant::now();
    for k in &misses {
        assert!(table.get(k, u64::MAX).unwrap().is_none());
    }
    let miss_ns = started.elapsed().as_nanos() as f64 / LOOKUPS as f64;

    let started = Instant::now();
    let mut maybe = 0usize;
    for k in &misses {
        maybe += usize::from(table.may_contain(key_hash(k)));
    }
    let bloom_ns = started.elapsed().as_nanos() as f64 / LOOKUPS as f64;

    println!(
        "get hit: {hit_ns:.0} ns/op ({:.0}k/s), get miss: {miss_ns:.0} ns/op, hash + bloom probe: {bloom_ns:.0} ns/op ({:.2}% false positives)",
        1e6 / hit_ns,
        maybe as f64 * 100.0 / LOOKUPS as f64
    );
}
