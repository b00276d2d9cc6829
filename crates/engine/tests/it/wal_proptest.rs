//! Replay never panics, whatever the bytes: it returns a prefix of what was written, or
//! `Error::Corruption`.
#![allow(clippy::unwrap_used)]

use crate::common::{replay, write_log};
use proptest::prelude::*;
use proptest::sample::Index;
use ringkv_engine::wal::{self, SegmentHeader, SEGMENT_HEADER_LEN};
use ringkv_engine::Error;

#[derive(Clone, Debug)]
enum Damage {
    Truncate(Index),
    Flip(Index, u8),
    Zero(Index, usize),
    Overwrite(Index, Vec<u8>),
    AppendGarbage(Vec<u8>),
    AppendZeros(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Damage::Flip(i, x)),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Damage::Zero(i, n)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Damage::Overwrite(i, b)),
        prop::collection::vec(any::<u8>(), 1..64).prop_map(Damage::AppendGarbage),
        (1..5000usize).prop_map(Damage::AppendZeros),
    ]
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    if bytes.is_empty() {
        return;
    }
    match d {
        Damage::Truncate(i) => bytes.truncate(i.index(bytes.len() + 1)),
        Damage::Flip(i, x) => {
            let at = i.index(bytes.len());
            bytes[at] ^= x;
        }
        Damage::Zero(i, n) => {
            let at = i.index(bytes.len());
            let end = (at + n).min(bytes.len());
            bytes[at..end].fill(0);
        }
        Damage::Overwrite(i, b) => {
            let at = i.index(bytes.len());
            let end = (at + b.len()).min(bytes.len());
            bytes[at..end].copy_from_slice(&b[..end - at]);
        }
        Damage::AppendGarbage(b) => bytes.extend_from_slice(b),
        Damage::AppendZeros(n) => bytes.resize(bytes.len() + n, 0),
    }
}

fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 0..40),
            1 => prop::collection::vec(any::<u8>(), 40..600),
        ],
        0..16,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_truncated_log_replays_exactly_its_whole_records(payloads in payloads(), cut in any::<Index>()) {
        let dir = tempfile::tempdir().unwrap();
        let log = write_log(dir.path(), payloads);
        let cut = cut.index(log.bytes.len() + 1);
        std::fs::write(&log.path, &log.bytes[..cut]).unwrap();
        let (seen, r) = replay(&log.path);
        let o = r.unwrap();
        let whole = log.ends.iter().filter(|&&e| e <= cut as u64).count();
        prop_assert_eq!(&seen[..], &log.payloads[..whole]);
        prop_assert_eq!(o.records, whole as u64);
        prop_assert_eq!(o.torn_tail.is_some(), cut != SEGMENT_HEADER_LEN && !log.ends.contains(&(cut as u64)));
    }

    #[test]
    fn a_damaged_log_replays_a_prefix_or_reports_corruption(
        payloads in payloads(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log = write_log(dir.path(), payloads);
        let mut bytes = log.bytes.clone();
        for d in &damages {
            apply(&mut bytes, d);
        }
        std::fs::write(&log.path, &bytes).unwrap();
        let (seen, r) = replay(&log.path);
        // Whatever the outcome, the callback only ever saw a prefix of the written records.
        prop_assert!(seen.len() <= log.payloads.len());
        prop_assert_eq!(&seen[..], &log.payloads[..seen.len()]);
        match r {
            Ok(o) => {
                prop_assert_eq!(o.records, seen.len() as u64);
                prop_assert!(o.valid_bytes <= bytes.len() as u64);
                // An outcome without a torn tail accounts for every byte of the file.
                if o.torn_tail.is_none() {
                    prop_assert_eq!(o.valid_bytes, bytes.len() as u64);
                }
            }
            Err(Error::Corruption { file, offset, .. }) => {
                prop_assert_eq!(file, log.path);
                prop_assert!(offset < bytes.len() as u64);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_replay(
        with_header in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = wal::segment_path(dir.path(), 1);
        let mut bytes = Vec::new();
        if with_header {
            bytes.extend_from_slice(&header_bytes(dir.path()));
        }
        bytes.extend_from_slice(&body);
        std::fs::write(&path, &bytes).unwrap();
        let (seen, r) = replay(&path);
        match r {
            Ok(o) => prop_assert_eq!(o.records, seen.len() as u64),
            Err(Error::Corruption { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

/// A genuine segment header for segment 1, taken from a freshly created log.
fn header_bytes(dir: &std::path::Path) -> Vec<u8> {
    let sub = dir.join("h");
    std::fs::create_dir(&sub).unwrap();
    let log = write_log(&sub, Vec::new());
    let h = log.bytes[..SEGMENT_HEADER_LEN].to_vec();
    let _: SegmentHeader = wal::replay_segment(&log.path, |_| Ok(()))
        .unwrap()
        .header
        .unwrap();
    h
}
