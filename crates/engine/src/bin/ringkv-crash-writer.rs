//! Test helper for `tests/crash.rs`: writes forever in `sync` mode with tiny memtables (so flushes
//! and compactions run constantly). Before each write it prints `try <put|del> <i> <key>`, and
//! `ack <i>` once that write is durable, so the checker knows the acknowledged writes and the one
//! write that may or may not have landed when it kills the process with SIGKILL.
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
        // Killed while rotating onto a recycled segment, too.
        recycle_log_segments: 1,
        ..Options::default()
    }
}

/// The value write i carries, derived from i so the checker can verify it.
pub fn value_of(i: u64) -> Vec<u8> {
    let len = 50 + (i * 7919 % 900) as usize;
    (0..len)
        .map(|j| (i as usize).wrapping_mul(31).wrapping_add(j) as u8)
        .collect()
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
        // Keys are write numbers; one write in ten deletes an earlier key instead.
        let delete = x.is_multiple_of(10) && i > start + 1;
        let target = if delete { i - 1 - x % (i - start) } else { i };
        let op = if delete { "del" } else { "put" };
        if writeln!(out, "try {op} {i} {target}")
            .and_then(|_| out.flush())
            .is_err()
        {
            std::process::exit(0);
        }
        let key = format!("key{target:08}");
        let result = if delete {
            db.delete(key.as_bytes())
        } else {
            db.put(key.as_bytes(), &value_of(i), 0)
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
        if writeln!(out, "ack {i}").and_then(|_| out.flush()).is_err() {
            std::process::exit(0);
        }
        i += 1;
    }
}
