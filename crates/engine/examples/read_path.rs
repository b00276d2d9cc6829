//! Times the engine's point-read path without napi: present and missing keys, first with 20k keys
//! still in the memtable, then after loading `keys` keys and a flush.
//! `cargo run --release -p ringkv-engine --example read_path [keys] [cache_bytes] [phases]`
//! `phases` is a comma list of `mem`, `present`, `missing` (default all three); under cachegrind,
//! running one phase and then none (`-`) isolates that phase's counts.
use std::time::Instant;

use ringkv_engine::db::Db;
use ringkv_engine::options::Options;

fn key(i: u64) -> Vec<u8> {
    (i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .to_be_bytes()
        .repeat(2)
}

fn time_gets(db: &Db, n: u64, label: &str, missing: bool) -> ringkv_engine::Result<()> {
    let rounds = 500_000u64;
    let started = Instant::now();
    let mut found = 0u64;
    for r in 0..rounds {
        let i = r.wrapping_mul(2_654_435_761) % n;
        let k = if missing { key(i + n) } else { key(i) };
        if db.get_with(&k, |v| v.len())?.is_some() {
            found += 1;
        }
    }
    let ns = started.elapsed().as_nanos() as f64 / rounds as f64;
    let what = if missing { "missing" } else { "present" };
    println!("{label}{what}: {ns:.0} ns/get ({found} found)");
    Ok(())
}

fn main() -> ringkv_engine::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let n: u64 = arg(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut opts = Options::default();
    if let Some(bytes) = arg(2).and_then(|s| s.parse().ok()) {
        opts.cache_bytes = bytes;
    }
    let phases = arg(3).unwrap_or_else(|| "mem,present,missing".into());
    let phase = |p: &str| phases.split(',').any(|x| x == p);
    let value = vec![7u8; 1024];

    if phase("mem") {
        let dir = std::env::temp_dir().join(format!("ringkv-read-path-mem-{}", std::process::id()));
        let db = Db::open(&dir, opts.clone())?;
        let m = 20_000;
        for i in 0..m {
            db.put(&key(i), &value, 0)?;
        }
        time_gets(&db, m, "memtable (20k keys) ", false)?;
        time_gets(&db, m, "memtable (20k keys) ", true)?;
        db.close()?;
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    let dir = std::env::temp_dir().join(format!("ringkv-read-path-{}", std::process::id()));
    let db = Db::open(&dir, opts)?;
    let started = Instant::now();
    for i in 0..n {
        db.put(&key(i), &value, 0)?;
    }
    let ns = started.elapsed().as_nanos() as f64 / n as f64;
    println!("load: {ns:.0} ns/put");
    db.flush()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    let s = db.stats();
    println!(
        "levels: {:?}",
        s.levels.iter().map(|l| l.tables).collect::<Vec<_>>()
    );
    if phase("present") {
        time_gets(&db, n, "", false)?;
    }
    if phase("missing") {
        time_gets(&db, n, "", true)?;
    }
    let s = db.stats();
    println!(
        "cache hits {} misses {} bloom checks {} skips {}",
        s.cache_hits, s.cache_misses, s.bloom_checks, s.bloom_skips
    );
    db.close()?;
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
