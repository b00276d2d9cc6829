//! Damage followed by intact data is corruption, reported with the file and the damaged record's
//! offset; the same damage in the last record is only a torn tail.
#![allow(clippy::unwrap_used)]

use crate::common::{replay, write_log, Log, Rng};
use ringkv_engine::wal::SEGMENT_HEADER_LEN;
use ringkv_engine::Error;

const FLIPS: [u8; 3] = [0x01, 0x80, 0xFF];

fn log_with_mixed_records(dir: &std::path::Path) -> Log {
    let mut rng = Rng::new(0xC0FFEE);
    let mut payloads: Vec<Vec<u8>> = (0..12)
        .map(|_| {
            let n = rng.range(1, 120);
            rng.bytes(n)
        })
        .collect();
    payloads[3] = Vec::new(); // a record that is all header
    payloads[6] = vec![0u8; 64]; // zeros inside a payload are data, not a zero-filled tail
    write_log(dir, payloads)
}

fn expect_corruption_at(log: &Log, bytes: &[u8], record: usize, what: &str) {
    std::fs::write(&log.path, bytes).unwrap();
    let (seen, r) = replay(&log.path);
    match r {
        Err(Error::Corruption {
            file,
            offset,
            reason,
        }) => {
            assert_eq!(file, log.path, "{what}");
            assert_eq!(offset, log.starts[record], "{what}: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("{what}: expected corruption, got {other:?}"),
    }
    // What the callback saw before the error is exactly the records before the damage.
    assert_eq!(seen, log.payloads[..record], "{what}");
}

#[test]
fn any_flipped_byte_in_a_middle_record_is_corruption_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_mixed_records(dir.path());
    for record in [1, 3, 5, 6, 10] {
        for i in log.starts[record]..log.ends[record] {
            for x in FLIPS {
                let mut bytes = log.bytes.clone();
                bytes[i as usize] ^= x;
                expect_corruption_at(
                    &log,
                    &bytes,
                    record,
                    &format!("record {record}, byte {i} ^ {x:#x}"),
                );
            }
        }
    }
}

#[test]
fn a_zeroed_middle_record_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_mixed_records(dir.path());
    let mut bytes = log.bytes.clone();
    bytes[log.starts[4] as usize..log.ends[4] as usize].fill(0);
    expect_corruption_at(&log, &bytes, 4, "zeroed record 4");
}

#[test]
fn any_flipped_byte_in_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_mixed_records(dir.path());
    let last = log.payloads.len() - 1;
    for i in log.starts[last]..log.ends[last] {
        for x in FLIPS {
            let mut bytes = log.bytes.clone();
            bytes[i as usize] ^= x;
            std::fs::write(&log.path, &bytes).unwrap();
            let (seen, r) = replay(&log.path);
            let o = r.unwrap_or_else(|e| panic!("byte {i} ^ {x:#x}: {e}"));
            assert_eq!(seen, log.payloads[..last]);
            assert_eq!(o.valid_bytes, log.starts[last]);
            assert_eq!(
                o.torn_tail.map(|t| t.offset),
                Some(log.starts[last]),
                "byte {i} ^ {x:#x}"
            );
        }
    }
}

#[test]
fn a_flipped_byte_in_the_segment_header_of_a_non_empty_log_is_corruption_at_offset_0() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_mixed_records(dir.path());
    for i in 0..SEGMENT_HEADER_LEN {
        let mut bytes = log.bytes.clone();
        bytes[i] ^= 0x04;
        std::fs::write(&log.path, &bytes).unwrap();
        match replay(&log.path) {
            (
                seen,
                Err(Error::Corruption {
                    file, offset: 0, ..
                }),
            ) => {
                assert_eq!(file, log.path);
                assert!(seen.is_empty());
            }
            (_, other) => panic!("header byte {i}: {other:?}"),
        }
    }
}

#[test]
fn two_damaged_records_report_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_mixed_records(dir.path());
    let mut bytes = log.bytes.clone();
    bytes[log.starts[2] as usize + 5] ^= 0x10;
    bytes[log.starts[8] as usize + 1] ^= 0x10;
    expect_corruption_at(&log, &bytes, 2, "records 2 and 8 damaged");
}

#[test]
fn a_damaged_length_claiming_more_than_the_file_is_corruption_when_records_follow() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_mixed_records(dir.path());
    let mut bytes = log.bytes.clone();
    let at = log.starts[7] as usize;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    expect_corruption_at(&log, &bytes, 7, "length of record 7 set to u32::MAX");
}
