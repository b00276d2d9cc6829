//! A damaged data block is reported as corruption, naming the file and an offset inside the block,
//! by every read that touches it; reads of other blocks still return the right values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::common::{assert_corruption_in, build, collect, model_get, sample_versions, V};
use ringkv_engine::iter::EntryIter;
use ringkv_engine::sstable::{BlockHandle, Table, TableOptions};

fn opts() -> TableOptions {
    TableOptions {
        block_size: 512,
        restart_interval: 4,
        bloom_bits_per_key: 10,
    }
}

fn flipped_copy(src: &Path, dst: &Path, at: u64) {
    let mut bytes = std::fs::read(src).unwrap();
    bytes[at as usize] ^= 0x40;
    std::fs::write(dst, bytes).unwrap();
}

/// Every get of every key either returns the model's answer or corruption inside `block`; at least
/// one of them hits the block.
fn check_gets(table: &Table, versions: &[V], block: BlockHandle) {
    let range = block.offset..block.end_with_trailer().unwrap();
    let mut hits = 0;
    for v in versions {
        for max in [u64::MAX, v.seqno] {
            match table.get(&v.key, max) {
                Ok(got) => {
                    let want = model_get(versions, &v.key, max).unwrap();
                    let got = got.expect("a present key went missing");
                    assert_eq!(
                        (got.seqno, got.value),
                        (want.seqno, &want.value[..]),
                        "wrong value for {:?}",
                        v.key
                    );
                }
                Err(e) => {
                    assert_corruption_in(&e, table.path(), range.clone());
                    hits += 1;
                }
            }
        }
    }
    assert!(hits > 0, "no get touched the damaged block at {range:?}");
}

/// Iterating from the start yields correct versions up to the damaged block, then corruption.
fn check_iteration(table: &std::sync::Arc<Table>, versions: &[V], block: BlockHandle) {
    let range = block.offset..block.end_with_trailer().unwrap();
    let mut seen = Vec::new();
    let err = match table.iter() {
        Err(e) => e,
        Ok(mut it) => loop {
            if !it.valid() {
                panic!("iteration finished without meeting the damaged block");
            }
            seen.push(V {
                key: it.key().to_vec(),
                seqno: it.seqno(),
                kind: it.kind(),
                expires_at: it.expires_at(),
                value: it.value().to_vec(),
            });
            if let Err(e) = it.next() {
                assert!(!it.valid(), "an iterator stays invalid after an error");
                break e;
            }
        },
    };
    assert_corruption_in(&err, table.path(), range.clone());
    assert_eq!(
        &seen[..],
        &versions[..seen.len()],
        "iteration yielded a wrong version before the damage"
    );
}

/// Scanning from each key either yields exactly the model's versions or reports the damaged
/// block, never anything else.
fn check_iter_from(table: &std::sync::Arc<Table>, versions: &[V], block: BlockHandle) {
    let range = block.offset..block.end_with_trailer().unwrap();
    let mut hits = 0;
    for (start, v) in versions
        .iter()
        .enumerate()
        .filter(|(i, v)| *i == 0 || versions[i - 1].key != v.key)
    {
        match table.iter_from(&v.key).and_then(|mut it| collect(&mut it)) {
            Ok(rest) => assert_eq!(&rest[..], &versions[start..]),
            Err(e) => {
                assert_corruption_in(&e, table.path(), range.clone());
                hits += 1;
            }
        }
    }
    assert!(hits > 0, "no scan touched the damaged block at {range:?}");
}

#[test]
fn flipped_bytes_in_data_blocks_are_caught_where_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let versions = sample_versions(600);
    let (path, _) = build(dir.path(), "good.sst", opts(), &versions);
    let handles = Table::open(&path, 1).unwrap().data_block_handles().unwrap();
    assert!(
        handles.len() > 20,
        "want many blocks, got {}",
        handles.len()
    );

    let picks = [0, 1, handles.len() / 2, handles.len() - 1];
    for (n, &b) in picks.iter().enumerate() {
        let h = handles[b];
        // First, middle and last payload bytes, the trailer's type byte and checksum.
        let spots = [
            h.offset,
            h.offset + h.size / 2,
            h.offset + h.size - 1,
            h.offset + h.size,
            h.offset + h.size + 3,
        ];
        for (m, &at) in spots.iter().enumerate() {
            let bad = dir.path().join(format!("bad-{n}-{m}.sst"));
            flipped_copy(&path, &bad, at);
            // Data blocks are checked on first use, not at open.
            let table = Table::open(&bad, 2).unwrap();
            check_gets(&table, &versions, h);
            check_iteration(&table, &versions, h);
            let err = table.verify().unwrap_err();
            assert_corruption_in(&err, &bad, h.offset..h.end_with_trailer().unwrap());
            check_iter_from(&table, &versions, h);
        }
    }
}
