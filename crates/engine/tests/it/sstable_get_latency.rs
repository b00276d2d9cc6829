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
const ROUNDS: usize = 5;

/// `SSTABLE_BENCH_ENTRIES`, `SSTABLE_BENCH_VALUE` and `SSTABLE_BENCH_RESTART_INTERVAL` override the
/// defaults (1M entries, 100-byte values, the default restart interval), e.g. to measure the
/// engine's 1 KiB-value target.
fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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
    let opts = TableOptions {
        restart_interval: setting(
            "SSTABLE_BENCH_RESTART_INTERVAL",
            TableOptions::default().restart_interval,
        ),
        ..TableOptions::default()
    };
    let mut b = TableBuilder::create(&path, opts).unwrap();
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
    let hits: Vec<[u8; 16]> = (0..LOOKUPS)
        .map(|_| key(xorshift(&mut rng) % entries))
        .collect();
    // Keys inside the table's range that are not in it (the bloom filter is not consulted by `get`).
    let misses: Vec<[u8; 16]> = hits
        .iter()
        .map(|k| {
            let mut m = *k;
            m[7] |= 1;
            m
        })
        .collect();

    // The machine is shared: report the best and the median of several rounds.
    let mut hit_ns = Vec::new();
    let mut miss_ns = Vec::new();
    let mut bloom_ns = Vec::new();
    let mut maybe = 0usize;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for k in &hits {
            let found = table.get(k, u64::MAX).unwrap().unwrap();
            black_box(found.value);
        }
        hit_ns.push(started.elapsed().as_nanos() as f64 / LOOKUPS as f64);

        let started = Instant::now();
        for k in &misses {
            assert!(table.get(k, u64::MAX).unwrap().is_none());
        }
        miss_ns.push(started.elapsed().as_nanos() as f64 / LOOKUPS as f64);

        let started = Instant::now();
        maybe = misses
            .iter()
            .filter(|k| table.may_contain(key_hash(&k[..])))
            .count();
        bloom_ns.push(started.elapsed().as_nanos() as f64 / LOOKUPS as f64);
    }
    let (hit_best, hit_median) = best_and_median(&mut hit_ns);
    let (miss_best, miss_median) = best_and_median(&mut miss_ns);
    let (bloom_best, bloom_median) = best_and_median(&mut bloom_ns);
    println!(
        "{LOOKUPS} random gets x {ROUNDS} rounds, ns/op best/median: hit {hit_best:.0}/{hit_median:.0} ({:.0}k/s at best), \
         miss {miss_best:.0}/{miss_median:.0}, hash + bloom probe {bloom_best:.0}/{bloom_median:.0} ({:.2}% false positives)",
        1e6 / hit_best,
        maybe as f64 * 100.0 / LOOKUPS as f64
    );
}

fn best_and_median(xs: &mut [f64]) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[0], xs[xs.len() / 2])
}
