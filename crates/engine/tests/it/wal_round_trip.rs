//! Everything appended comes back from replay, in order, across segment rotations.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use crate::common::{replay, Rng};
use proptest::prelude::*;
use ringkv_engine::wal::{self, WalWriter, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};

/// Replays every segment in `dir` in order; checks each is clean and that LSNs chain across
/// segments. Returns all payloads and the LSN after the last record.
fn replay_dir(dir: &Path) -> (Vec<Vec<u8>>, u64) {
    let mut all = Vec::new();
    let mut next_start = None;
    let mut end = 0;
    for n in wal::list_segments(dir).unwrap() {
        let (seen, r) = replay(&wal::segment_path(dir, n));
        let o = r.unwrap();
        assert_eq!(o.torn_tail, None, "segment {n}");
        let header = o.header.unwrap();
        assert_eq!(header.number, n);
        if let Some(expected) = next_start {
            assert_eq!(
                header.start_lsn, expected,
                "segment {n} does not continue the previous one"
            );
        }
        assert_eq!(o.records, seen.len() as u64);
        end = o.end_lsn().unwrap();
        next_start = Some(end);
        all.extend(seen);
    }
    (all, end)
}

#[test]
fn records_of_random_sizes_round_trip_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5eed_0001);
    let start_lsn = 1_000_000_007;
    let w = WalWriter::create(dir.path(), 3, start_lsn).unwrap();
    let mut written = Vec::new();
    let mut lsn = w.appended_lsn();
    for i in 0..240 {
        let len = match rng.range(0, 9) {
            0 => rng.range(64 * 1024, 1 << 20),
            1..=3 => rng.range(256, 64 * 1024),
            _ => rng.range(0, 255),
        };
        let payload = if i % 17 == 0 {
            Vec::new()
        } else {
            rng.bytes(len)
        };
        let end = w.append(&payload).unwrap();
        assert_eq!(end, lsn + (RECORD_HEADER_LEN + payload.len()) as u64);
        lsn = end;
        written.push(payload);
        if let Some(next) = [(80, 4), (160, 9)]
            .iter()
            .find(|(at, _)| *at == i)
            .map(|(_, n)| *n)
        {
            w.rotate(next).unwrap();
            assert!(w.synced_lsn() >= lsn);
            lsn += SEGMENT_HEADER_LEN as u64;
        } else if i % 25 == 0 {
            w.sync().unwrap();
        } else if i % 7 == 0 {
            w.write_out().unwrap();
        }
    }
    w.sync().unwrap();
    assert_eq!(w.synced_lsn(), lsn);
    assert_eq!(w.current_segment(), 9);
    assert_eq!(w.bytes_written(), lsn - start_lsn);
    drop(w);

    assert_eq!(wal::list_segments(dir.path()).unwrap(), vec![3, 4, 9]);
    let (replayed, end) = replay_dir(dir.path());
    assert_eq!(end, lsn);
    assert_eq!(replayed.len(), written.len());
    for (i, (got, want)) in replayed.iter().zip(&written).enumerate() {
        assert!(
            got == want,
            "record {i} differs ({} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<u8>),
    WriteOut,
    Sync,
    Rotate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..2000).prop_map(Op::Append),
        1 => Just(Op::WriteOut),
        1 => Just(Op::Sync),
        1 => Just(Op::Rotate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_writer_operations_replays_what_was_appended(ops in prop::collection::vec(op(), 0..60)) {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        let mut appended = Vec::new();
        let mut segment = 1;
        for op in ops {
            let before = (w.appended_lsn(), w.written_lsn(), w.synced_lsn());
            match op {
                Op::Append(p) => {
                    let lsn = w.append(&p).unwrap();
                    prop_assert_eq!(lsn, before.0 + (RECORD_HEADER_LEN + p.len()) as u64);
                    appended.push(p);
                }
                Op::WriteOut => prop_assert_eq!(w.write_out().unwrap(), before.0),
                Op::Sync => {
                    w.sync().unwrap();
                    prop_assert_eq!(w.synced_lsn(), before.0);
                }
                Op::Rotate => {
                    segment += 1;
                    w.rotate(segment).unwrap();
                    prop_assert!(w.synced_lsn() >= before.0);
                    prop_assert_eq!(w.appended_lsn(), before.0 + SEGMENT_HEADER_LEN as u64);
                }
            }
            prop_assert!(w.appended_lsn() >= w.written_lsn() && w.written_lsn() >= w.synced_lsn());
        }
        let end = w.appended_lsn();
        drop(w); // writes out what is still buffered
        let (replayed, replayed_end) = replay_dir(dir.path());
        prop_assert_eq!(replayed_end, end);
        prop_assert_eq!(replayed, appended);
    }
}
