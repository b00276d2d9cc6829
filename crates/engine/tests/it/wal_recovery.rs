//! Crash recovery: a torn tail (a log cut anywhere, or extended with zeros) is dropped without an
//! error, and exactly the records wholly before the damage come back.
#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;

use crate::common::{replay, write_log, Log, Rng};
use ringkv_engine::wal::{self, SEGMENT_HEADER_LEN};

/// Replays `log` cut to `cut` bytes and checks the outcome against the record boundaries.
fn check_cut(dir: &std::path::Path, log: &Log, cut: usize) {
    let path = wal::segment_path(dir, 1);
    std::fs::write(&path, &log.bytes[..cut]).unwrap();
    let (seen, r) = replay(&path);
    let o = r.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));

    let whole = log.ends.iter().filter(|&&e| e <= cut as u64).count();
    assert_eq!(seen, log.payloads[..whole], "cut at {cut}");
    assert_eq!(o.records, whole as u64, "cut at {cut}");

    let header_whole = cut >= SEGMENT_HEADER_LEN;
    let valid = match whole {
        0 if header_whole => SEGMENT_HEADER_LEN as u64,
        0 => 0,
        k => log.ends[k - 1],
    };
    assert_eq!(o.valid_bytes, valid, "cut at {cut}");
    assert_eq!(o.header.is_some(), header_whole, "cut at {cut}");
    // Torn iff the cut is not at a boundary: end of the header or of a record.
    let at_boundary = cut == SEGMENT_HEADER_LEN || log.ends.contains(&(cut as u64));
    match (&o.torn_tail, at_boundary) {
        (None, true) => {}
        (Some(t), false) => assert_eq!(t.offset, valid, "cut at {cut}: {t:?}"),
        (t, _) => panic!("cut at {cut}: torn tail {t:?} but at_boundary = {at_boundary}"),
    }
}

#[test]
fn a_log_cut_at_any_byte_within_its_last_three_records_keeps_every_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x7042);
    let payloads: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            let len = if i >= 17 {
                rng.range(40, 400)
            } else {
                rng.range(0, 300)
            };
            rng.bytes(len)
        })
        .collect();
    let log = write_log(dir.path(), payloads);
    let check_dir = tempfile::tempdir().unwrap();
    let from = log.starts[17] as usize;
    for cut in from..=log.bytes.len() {
        check_cut(check_dir.path(), &log, cut);
    }
}

#[test]
fn a_small_log_cut_at_any_byte_keeps_every_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let payloads = vec![
        b"first".to_vec(),
        Vec::new(),
        vec![0u8; 30],
        b"fourth record".to_vec(),
        vec![0xFF; 3],
    ];
    let log = write_log(dir.path(), payloads);
    let check_dir = tempfile::tempdir().unwrap();
    for cut in 0..=log.bytes.len() {
        check_cut(check_dir.path(), &log, cut);
    }
}

#[test]
fn zeros_after_the_last_record_are_dropped_as_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    let log = write_log(dir.path(), (0..10).map(|i| rng.bytes(i * 37)).collect());
    let len = log.bytes.len() as u64;
    for zeros in [1u64, 11, 12, 13, 100, 4096, (1 << 20) + 3] {
        std::fs::write(&log.path, &log.bytes).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&log.path)
            .unwrap()
            .set_len(len + zeros)
            .unwrap();
        let (seen, r) = replay(&log.path);
        let o = r.unwrap_or_else(|e| panic!("{zeros} zeros: {e}"));
        assert_eq!(seen, log.payloads, "{zeros} zeros");
        assert_eq!(o.valid_bytes, len);
        let torn = o.torn_tail.unwrap();
        assert_eq!(torn.offset, len, "{zeros} zeros");
        if zeros >= 12 {
            assert_eq!(torn.reason, "zero-filled bytes");
        }
    }
}

#[test]
fn a_last_record_whose_end_reads_back_as_zeros_is_a_torn_tail() {
    // The file system extended the file but the last page never reached the disk.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(4);
    let log = write_log(dir.path(), (0..6).map(|_| rng.bytes(200)).collect());
    let last = log.starts[5] as usize;
    for from in last..log.bytes.len() {
        let mut bytes = log.bytes.clone();
        bytes[from..].fill(0);
        bytes.resize(bytes.len() + 512, 0);
        std::fs::write(&log.path, &bytes).unwrap();
        let (seen, r) = replay(&log.path);
        let o = r.unwrap_or_else(|e| panic!("zeros from {from}: {e}"));
        assert_eq!(seen, log.payloads[..5], "zeros from {from}");
        assert_eq!(
            o.torn_tail.map(|t| t.offset),
            Some(last as u64),
            "zeros from {from}"
        );
    }
}

#[test]
fn a_segment_that_is_all_zeros_replays_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = wal::segment_path(dir.path(), 1);
    for len in [0usize, 5, SEGMENT_HEADER_LEN, 4096] {
        std::fs::write(&path, vec![0u8; len]).unwrap();
        let (seen, r) = replay(&path);
        let o = r.unwrap();
        assert!(seen.is_empty());
        assert_eq!(
            (o.records, o.valid_bytes, o.header),
            (0, 0, None),
            "{len} zeros"
        );
        assert_eq!(o.torn_tail.map(|t| t.offset), Some(0));
    }
}
