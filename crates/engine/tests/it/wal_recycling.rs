//! Recycled log segments: a rotation that writes over a retired segment's file replays its new
//! records and never those of the file's previous life, and recovery still notices a record lost
//! from the end of a segment that another follows, even though a recycled file's end is never
//! the end of the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::common::replay;
use ringkv_engine::batch::WriteBatch;
use ringkv_engine::db::Db;
use ringkv_engine::options::Options;
use ringkv_engine::wal::{self, WalWriter};
use ringkv_engine::Error;

/// One put as a log record, as the engine writes it.
fn put_record(key: &str, value: &[u8], seqno: u64) -> Vec<u8> {
    let mut b = WriteBatch::new();
    b.put(key.as_bytes().to_vec(), value.to_vec(), 0);
    let mut out = Vec::new();
    b.encode_into(seqno, &mut out);
    out
}

/// A manifest-less directory (so `Db::open` replays every segment) holding segments 2, 3 and 4,
/// where 3 is segment 1's file written over: 1 held `old-*` keys (its memtable "flushed"), 3 holds
/// fewer bytes of `new-*` keys, so 1's records lie in 3's file past its end. Returns the LSN at
/// which segment 4 starts (the end of 3's records).
fn recycled_log(dir: &Path) -> u64 {
    let w = WalWriter::create(dir, 1, 0).unwrap().recycling(1);
    let mut seqno = 1;
    for i in 0..200 {
        w.append(&put_record(&format!("old-{i}"), &[b'o'; 300], seqno))
            .unwrap();
        seqno += 1;
    }
    w.rotate(2).unwrap();
    w.append(&put_record("two", b"2", seqno)).unwrap();
    seqno += 1;
    w.retire(1).unwrap();
    let old_len = std::fs::metadata(wal::segment_path(dir, 1)).unwrap().len();
    w.rotate(3).unwrap();
    assert_eq!(w.recycled_count(), 1);
    assert!(!wal::segment_path(dir, 1).exists());
    for i in 0..20 {
        w.append(&put_record(&format!("new-{i}"), &[b'n'; 100], seqno))
            .unwrap();
        seqno += 1;
    }
    let end_of_3 = w.appended_lsn();
    w.rotate(4).unwrap();
    w.append(&put_record("four", b"4", seqno)).unwrap();
    w.sync().unwrap();
    drop(w);
    // Written over, not replaced: the file kept its length and its previous life.
    assert_eq!(
        std::fs::metadata(wal::segment_path(dir, 3)).unwrap().len(),
        old_len
    );
    end_of_3
}

#[test]
fn a_recycled_segment_replays_its_new_records_only() {
    let dir = tempfile::tempdir().unwrap();
    let end_of_3 = recycled_log(dir.path());
    let (seen, r) = replay(&wal::segment_path(dir.path(), 3));
    let o = r.unwrap();
    assert_eq!(seen.len(), 20);
    assert_eq!(o.records, 20);
    assert_eq!(o.header.unwrap().number, 3);
    // Its previous life reads as a torn tail: nothing past the new records validates.
    assert!(o.torn_tail.is_some());
    assert_eq!(o.end_lsn(), Some(end_of_3));
}

#[test]
fn recovery_replays_recycled_segments_and_never_their_previous_life() {
    let dir = tempfile::tempdir().unwrap();
    recycled_log(dir.path());
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.get(b"two").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.get(b"four").unwrap(), Some(b"4".to_vec()));
    for i in 0..20 {
        assert_eq!(
            db.get(format!("new-{i}").as_bytes()).unwrap(),
            Some(vec![b'n'; 100])
        );
    }
    for i in 0..200 {
        assert_eq!(
            db.get(format!("old-{i}").as_bytes()).unwrap(),
            None,
            "old-{i}"
        );
    }
    db.close().unwrap();
}

#[test]
fn a_record_lost_from_the_end_of_a_recycled_segment_that_another_follows_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let end_of_3 = recycled_log(dir.path());
    // Damage the last record of segment 3 (whose LSNs are file offsets plus its start). Its replay
    // then stops one record short, which in a file with a previous life behind its records looks
    // like any other end: only the next segment's start LSN tells that a record is missing.
    let path = wal::segment_path(dir.path(), 3);
    let start = replay(&path).1.unwrap().header.unwrap().start_lsn;
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(end_of_3 - start - 1) as usize] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Corruption { file, reason, .. }) => {
            assert_eq!(file, path);
            assert!(reason.contains("next segment starts at"), "{reason}");
        }
        other => panic!(
            "expected corruption in segment 3, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn a_renamed_segment_whose_records_are_still_needed_is_corruption_not_an_empty_segment() {
    // A file under a higher number that still carries a lower-numbered header is what a crash
    // between a recycling rename and the new header's write leaves; its records are then flushed
    // data. Here the manifest still needs them (there is none: every segment is live), so opening
    // must refuse rather than drop them.
    let dir = tempfile::tempdir().unwrap();
    let w = WalWriter::create(dir.path(), 1, 0).unwrap();
    w.append(&put_record("kept", b"v", 1)).unwrap();
    w.sync().unwrap();
    drop(w);
    let renamed = wal::segment_path(dir.path(), 5);
    std::fs::rename(wal::segment_path(dir.path(), 1), &renamed).unwrap();
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Corruption { file, reason, .. }) => {
            assert_eq!(file, renamed);
            assert!(reason.contains("log segment 1"), "{reason}");
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}
