//! One engine behaviour per test: locking, limits, TTL, snapshots, Merkle digests, stats, recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::Bound;
use std::sync::Arc;

use ringkv_engine::db::{Db, ScanOptions};
use ringkv_engine::options::{Durability, Options};
use ringkv_engine::types::now_ms;
use ringkv_engine::Error;

fn small() -> Options {
    Options {
        memtable_bytes: 64 * 1024,
        target_file_bytes: 64 * 1024,
        block_size: 1024,
        ..Options::default()
    }
}

fn all(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut c = db.cursor(ScanOptions::default()).unwrap();
    let mut out = Vec::new();
    while c
        .next_batch(100, usize::MAX, |k, v, _| {
            out.push((k.to_vec(), v.to_vec()))
        })
        .unwrap()
    {}
    out
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), small()).unwrap();
    let err = Db::open(dir.path(), small())
        .err()
        .expect("second open must fail");
    assert_eq!(err.code(), "ERR_LOCKED");
    assert!(err.to_string().contains("locked"), "{err}");
}

#[test]
fn the_lock_is_released_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    db.put(b"a", b"1", 0).unwrap();
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn oversized_keys_and_values_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_value_bytes: 1000,
            ..small()
        },
    )
    .unwrap();
    let e = db.put(&vec![0u8; 64 * 1024 + 1], b"v", 0).unwrap_err();
    assert!(
        matches!(
            e,
            Error::KeyTooLarge {
                len: 65537,
                max: 65536
            }
        ),
        "{e}"
    );
    let e = db.put(b"k", &[0u8; 1001], 0).unwrap_err();
    assert_eq!(e.code(), "ERR_VALUE_TOO_LARGE");
    assert!(db.get(b"k").unwrap().is_none());
    db.put(&vec![7u8; 64 * 1024], &[1u8; 1000], 0).unwrap();
}

#[test]
fn expired_values_are_never_returned_and_compaction_purges_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let past = now_ms() - 1;
    let soon = now_ms() + 300;
    db.put(b"gone", b"x", past).unwrap();
    db.put(b"soon", b"y", soon).unwrap();
    db.put(b"kept", b"z", 0).unwrap();
    assert_eq!(db.get(b"gone").unwrap(), None);
    assert_eq!(db.get(b"soon").unwrap(), Some(b"y".to_vec()));
    db.flush().unwrap();
    assert_eq!(db.get(b"gone").unwrap(), None);
    std::thread::sleep(std::time::Duration::from_millis(350));
    assert_eq!(db.get(b"soon").unwrap(), None);
    assert_eq!(all(&db), vec![(b"kept".to_vec(), b"z".to_vec())]);
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(all(&db).len(), 1);
    // Only "kept" survives compaction at the bottom level.
    let tables: u64 = stats.levels.iter().map(|l| l.tables).sum();
    assert_eq!(tables, 1);
}

#[test]
fn an_overwrite_in_the_memtable_shadows_an_expired_older_value_and_vice_versa() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    db.put(b"k", b"old", 0).unwrap();
    db.flush().unwrap();
    db.put(b"k", b"new-expired", now_ms() - 1).unwrap();
    assert_eq!(
        db.get(b"k").unwrap(),
        None,
        "an expired newer version must not expose the older one"
    );
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(db.get(b"k").unwrap(), None);
}

#[test]
fn a_cursor_sees_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for i in 0..100u32 {
        db.put(format!("{i:03}").as_bytes(), b"before", 0).unwrap();
    }
    let mut c = db.cursor(ScanOptions::default()).unwrap();
    let mut seen = Vec::new();
    c.next_batch(10, usize::MAX, |k, v, _| {
        seen.push((k.to_vec(), v.to_vec()))
    })
    .unwrap();
    // Writes, deletes, a flush and a compaction after the snapshot must not show through.
    for i in 0..100u32 {
        db.put(format!("{i:03}").as_bytes(), b"after", 0).unwrap();
    }
    db.delete(b"050").unwrap();
    db.put(b"999", b"new", 0).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    while c
        .next_batch(7, usize::MAX, |k, v, _| seen.push((k.to_vec(), v.to_vec())))
        .unwrap()
    {}
    assert_eq!(seen.len(), 100);
    assert!(seen.iter().all(|(_, v)| v == b"before"));
    assert_eq!(db.get(b"050").unwrap(), None);
}

#[test]
fn scan_bounds_prefix_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for k in ["a", "ab", "abc", "abd", "b", "b\u{7f}", "c"] {
        db.put(k.as_bytes(), k.as_bytes(), 0).unwrap();
    }
    let keys = |o: ScanOptions| {
        let mut c = db.cursor(o).unwrap();
        let mut out = Vec::new();
        while c
            .next_batch(2, usize::MAX, |k, _, _| {
                out.push(String::from_utf8(k.to_vec()).unwrap())
            })
            .unwrap()
        {}
        out
    };
    assert_eq!(keys(ScanOptions::prefix(b"ab")), ["ab", "abc", "abd"]);
    assert_eq!(
        keys(ScanOptions {
            start: Some(Bound::Excluded(b"ab".to_vec())),
            end: Some(Bound::Included(b"b".to_vec())),
            limit: None
        }),
        ["abc", "abd", "b"]
    );
    assert_eq!(
        keys(ScanOptions {
            limit: Some(2),
            ..ScanOptions::default()
        }),
        ["a", "ab"]
    );
    assert_eq!(
        keys(ScanOptions {
            limit: Some(0),
            ..ScanOptions::default()
        }),
        Vec::<String>::new()
    );
}

#[test]
fn merkle_digests_depend_on_content_not_layout() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Db::open(d1.path(), small()).unwrap();
    let b = Db::open(d2.path(), small()).unwrap();
    for i in 0..2000u32 {
        a.put(&i.to_be_bytes(), &[i as u8; 100], 0).unwrap();
    }
    a.flush().unwrap();
    // b gets the same final content by another route: reversed order, overwrites, deletes, compaction.
    for i in (0..2000u32).rev() {
        b.put(&i.to_be_bytes(), b"stale", 0).unwrap();
    }
    b.put(&5000u32.to_be_bytes(), b"deleted later", 0).unwrap();
    b.flush().unwrap();
    for i in 0..2000u32 {
        b.put(&i.to_be_bytes(), &[i as u8; 100], 0).unwrap();
    }
    b.delete(&5000u32.to_be_bytes()).unwrap();
    b.compact().unwrap();
    let (ma, mb) = (
        a.merkle(ScanOptions::default(), 64).unwrap(),
        b.merkle(ScanOptions::default(), 64).unwrap(),
    );
    assert_eq!(ma, mb);
    assert_eq!(ma.entries, 2000);
    b.put(&7u32.to_be_bytes(), b"changed", 0).unwrap();
    let mb = b.merkle(ScanOptions::default(), 64).unwrap();
    let differing: Vec<u32> = (0..64)
        .filter(|&i| ma.leaves[i as usize] != mb.leaves[i as usize])
        .collect();
    assert_eq!(differing.len(), 1);
    let entries = b
        .merkle_entries(ScanOptions::default(), 64, &differing)
        .unwrap();
    assert!(entries.iter().any(|(k, _)| k == &7u32.to_be_bytes()));
    assert!(entries.len() < 2000 / 64 * 3);
}

#[test]
fn writes_survive_reopen_without_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(
            dir.path(),
            Options {
                durability: Durability::Sync,
                ..small()
            },
        )
        .unwrap();
        for i in 0..500u32 {
            let lsn = db.put(&i.to_be_bytes(), &i.to_le_bytes(), 0).unwrap();
            db.sync_to(lsn).unwrap();
        }
        db.delete(&7u32.to_be_bytes()).unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(
        db.get(&8u32.to_be_bytes()).unwrap(),
        Some(8u32.to_le_bytes().to_vec())
    );
    assert_eq!(db.get(&7u32.to_be_bytes()).unwrap(), None);
    assert_eq!(all(&db).len(), 499);
    assert!(db.stats().last_seqno >= 501);
}

#[test]
fn concurrent_durable_writers_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Db::open(
            dir.path(),
            Options {
                durability: Durability::Sync,
                ..small()
            },
        )
        .unwrap(),
    );
    let before = db.stats().wal_fsyncs;
    let threads: Vec<_> = (0..64u32)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..20u32 {
                    let lsn = db
                        .put(&[t.to_be_bytes(), i.to_be_bytes()].concat(), b"v", 0)
                        .unwrap();
                    db.sync_to(lsn).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let fsyncs = db.stats().wal_fsyncs - before;
    assert!(
        fsyncs < 64 * 20 / 2,
        "64 writers x 20 durable writes took {fsyncs} fsyncs"
    );
    assert_eq!(all(&db).len(), 64 * 20);
}

/// Polls until the engine has fsynced its log more than `before` times; returns how long it took.
fn wait_for_fsync(db: &Db, before: u64) -> std::time::Duration {
    let started = std::time::Instant::now();
    while db.stats().wal_fsyncs <= before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the log was never fsynced"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    started.elapsed()
}

#[test]
fn interval_mode_fsyncs_a_write_that_follows_an_idle_spell() {
    // With nothing to sync the sync thread sleeps until a write wakes it (it no longer polls);
    // a write after such a spell must be fsynced after the interval, not after the idle sleep's
    // safety re-check (5 s).
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            durability: Durability::Interval,
            sync_interval_ms: 5,
            ..small()
        },
    )
    .unwrap();
    for round in 0..3u8 {
        let before = db.stats().wal_fsyncs;
        db.put(&[round], b"v", 0).unwrap();
        db.write_out().unwrap();
        let woken = db.stats().wal_sync_wakeups;
        let took = wait_for_fsync(&db, before);
        assert!(
            took < std::time::Duration::from_millis(2500),
            "round {round}: a write after an idle spell was fsynced only after {took:?}"
        );
        assert!(
            round == 0 || woken >= round.into(),
            "round {round}: the write after an idle spell woke the sync thread {woken} times in all"
        );
        // Idle long enough for the thread to go to sleep with nothing to sync.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            db.stats().wal_fsyncs,
            before + 1,
            "round {round}: an idle engine fsynced again with nothing new"
        );
    }
}

#[test]
fn sync_mode_writes_never_wake_the_sync_thread() {
    // Writers fsync for themselves in `sync` mode; waking the idle thread would cost each write a
    // context switch (the suite's writes-sync scenario lost a quarter of its throughput to it).
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            durability: Durability::Sync,
            ..small()
        },
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    for i in 0..100u32 {
        let lsn = db.put(&i.to_be_bytes(), b"v", 0).unwrap();
        db.sync_to(lsn).unwrap();
    }
    assert_eq!(db.stats().wal_sync_wakeups, 0);
}

#[test]
fn a_damaged_table_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), small()).unwrap();
        for i in 0..1000u32 {
            db.put(&i.to_be_bytes(), &[1u8; 200], 0).unwrap();
        }
        db.flush().unwrap();
        db.close().unwrap();
    }
    let sst = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .unwrap();
    let mut bytes = std::fs::read(&sst).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x55;
    std::fs::write(&sst, &bytes).unwrap();
    let err = Db::open(dir.path(), small())
        .err()
        .expect("corrupt footer must fail the open");
    assert_eq!(err.code(), "ERR_CORRUPTION");
    assert!(
        err.to_string()
            .contains(&sst.file_name().unwrap().to_string_lossy().to_string()),
        "{err}"
    );
}

#[test]
fn a_truncated_table_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), small()).unwrap();
        db.put(b"k", b"v", 0).unwrap();
        db.flush().unwrap();
        db.close().unwrap();
    }
    let sst = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .unwrap();
    let len = std::fs::metadata(&sst).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&sst)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    assert_eq!(
        Db::open(dir.path(), small()).err().unwrap().code(),
        "ERR_CORRUPTION"
    );
}

#[test]
fn bad_options_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        (
            Options {
                memtable_bytes: 10,
                ..Options::default()
            },
            "memtableBytes",
        ),
        (
            Options {
                recycle_log_segments: 17,
                ..Options::default()
            },
            "recycleLogSegments",
        ),
    ];
    for (opts, name) in bad {
        let err = Db::open(dir.path(), opts).err().unwrap();
        assert_eq!(err.code(), "ERR_INVALID_ARGUMENT");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn use_after_close_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    db.close().unwrap();
    assert_eq!(db.put(b"k", b"v", 0).unwrap_err().code(), "ERR_CLOSED");
    assert_eq!(db.get(b"k").unwrap_err().code(), "ERR_CLOSED");
    assert!(
        db.close().is_ok(),
        "closing twice at the engine level is harmless"
    );
}

#[test]
fn space_stays_bounded_under_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        level_base_bytes: 1 << 20,
        l0_compaction_trigger: 2,
        ..small()
    };
    let db = Db::open(dir.path(), opts).unwrap();
    // 1000 keys x 500 bytes = 0.5 MB live, overwritten 20 times.
    for round in 0..20u8 {
        for i in 0..1000u32 {
            db.put(&i.to_be_bytes(), &[round; 500], 0).unwrap();
        }
    }
    db.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let live = 1000 * (4 + 500);
    let on_disk: u64 = db.stats().levels.iter().map(|l| l.bytes).sum();
    assert!(
        on_disk < 2 * live + 256 * 1024,
        "tables hold {on_disk} bytes for {live} live bytes"
    );
    db.compact().unwrap();
    let on_disk: u64 = db.stats().levels.iter().map(|l| l.bytes).sum();
    assert!(
        (on_disk as f64) < 1.2 * live as f64,
        "after compaction {on_disk} bytes for {live} live bytes"
    );
}

fn log_files(dir: &std::path::Path) -> usize {
    ringkv_engine::wal::list_segments(dir).unwrap().len()
}

#[test]
fn flushed_log_segments_are_written_over_and_everything_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let value = |i: u32| vec![(i % 251) as u8; 1000];
    let recycling = Options {
        recycle_log_segments: 1,
        ..small()
    };
    {
        let db = Db::open(dir.path(), recycling.clone()).unwrap();
        // 64 KiB memtables: a rotation every ~60 puts, so ~50 segments come and go.
        for i in 0..3000u32 {
            db.put(&i.to_be_bytes(), &value(i), 0).unwrap();
        }
        db.flush().unwrap();
        let s = db.stats();
        assert!(s.flushes >= 40, "{} flushes", s.flushes);
        assert!(
            s.wal_recycled_segments >= s.flushes / 2,
            "{} of {} segments recycled",
            s.wal_recycled_segments,
            s.flushes
        );
        // The active segment, at most two frozen ones waiting for flush, and the one kept.
        assert!(
            log_files(dir.path()) <= 4,
            "{} log files",
            log_files(dir.path())
        );
        for i in 3000..3100u32 {
            db.put(&i.to_be_bytes(), &value(i), 0).unwrap();
        }
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), recycling).unwrap();
    for i in 0..3100u32 {
        assert_eq!(db.get(&i.to_be_bytes()).unwrap(), Some(value(i)), "key {i}");
    }
    db.close().unwrap();

    // Off (the default): every flushed segment is deleted, none written over.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for i in 0..1000u32 {
        db.put(&i.to_be_bytes(), &value(i), 0).unwrap();
    }
    db.flush().unwrap();
    assert!(db.stats().flushes >= 10);
    assert_eq!(db.stats().wal_recycled_segments, 0);
    assert!(
        log_files(dir.path()) <= 3,
        "{} log files",
        log_files(dir.path())
    );
}
