//! Test helper for `tests/crash.rs`: writes forever in `sync` mode with tiny memtables (so flushes
//! and compactions run constantly) and prints `ack <i>` once write i is durable. The test kills it
//! with SIGKILL at a random moment and checks every acknowledged write after reopening.
//!
//! Usage: ringkv-crash-writer DIR START SEED

use std::io::Write;

use ringkv_engine::db::Db;
use ringkv_engine::options::{Durability, Options};

pub fn crash_options() -> Options {
    Options {
        durability: Durability::Sync,
        memtable_bytes: 64 * 1024,
        target_file_bytes: 64 * 1024,
        level_base_bytes: 1 << 20,
        l0_compaction_trigger: 2,
        block_size: 1024,
        ..Options::default()
    }
}

/// The value write i carries, derived from i so the checker can verify it.
pub fn value_of(i: u64) -> Vec<u8> {
    let len = 50 + (i * 7919 % 900) as usize;
    (0..len).map(|j| (i as usize).wrapping_mul(31).wrapping_add(j) as u8).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(start), Some(seed)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: ringkv-crash-writer DIR START SEED");
        std::process::exit(2);
    };
    let start: u64 = start.parse().unwrap_or(0);
    let mut x: u64 = seed.parse().unwrap_or(1) | 1;
    let db = match Db::open(dir, crash_options()) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("open failed: {e}");
            std::process::exit(3);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut i = start;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Keys are write numbers; some writes overwrite or delete earlier keys.
        let result = match x % 10 {
            0 if i > start + 1 => db.delete(format!("key{:08}", i - 1 - x % (i - start)).as_bytes()),
            _ => db.put(format!("key{i:08}").as_bytes(), &value_of(i), 0),
        };
        let lsn = match result {
            Ok(lsn) => lsn,
            Err(e) => {
                eprintln!("write failed: {e}");
                std::process::exit(4);
            }
        };
        if let Err(e) = db.sync_to(lsn) {
            eprintln!("sync failed: {e}");
            std::process::exit(5);
        }
        let op = if x % 10 == 0 && i > start + 1 { "del" } else { "put" };
        let target = if op == "del" { i - 1 - x % (i - start) } else { i };
        if writeln!(out, "{op} {i} {target}").and_then(|_| out.flush()).is_err() {
            std::process::exit(0);
        }
        i += 1;
    }
}
