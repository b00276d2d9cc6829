//! A 16 MiB value and a 64 KiB key round-trip, each in a block of its own size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{build, collect, V};
use ringkv_engine::sstable::{Table, TableOptions};
use ringkv_engine::ValueKind;

#[test]
fn huge_value_and_huge_key_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let big_value: Vec<u8> = (0..16 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut big_key = b"b".to_vec();
    big_key.extend((1..64 * 1024u32).map(|i| (i % 253) as u8 + 1));
    let mut key_after_big = big_key.clone();
    key_after_big.push(7);
    let versions = vec![
        V::put(b"a", 3, b"small before"),
        V::put(&big_key, 9, b"value of the big key"),
        V {
            key: big_key.clone(),
            seqno: 4,
            kind: ValueKind::Delete,
            expires_at: 0,
            value: Vec::new(),
        },
        V::put(&key_after_big, 5, &big_value),
        V::put(b"m", 6, &big_value[..1000]),
        V::put(b"z", 2, &big_value),
        V::put(b"zz", 1, b"small after"),
    ];
    let (path, meta) = build(dir.path(), "big.sst", TableOptions::default(), &versions);
    assert!(meta.file_size > 32 * 1024 * 1024);
    assert_eq!(
        meta.raw_value_bytes,
        versions.iter().map(|v| v.value.len() as u64).sum::<u64>()
    );

    let table = Table::open(&path, 1).unwrap();
    assert_eq!(table.meta(), &meta);
    assert!(table
        .data_block_handles()
        .unwrap()
        .iter()
        .any(|h| h.size > 16 * 1024 * 1024));

    for v in &versions {
        let got = table.get(&v.key, v.seqno).unwrap().unwrap();
        assert_eq!((got.seqno, got.kind), (v.seqno, v.kind));
        assert!(
            got.value == v.value.as_slice(),
            "value of {} bytes differs",
            v.value.len()
        );
    }
    assert_eq!(
        table.get(&big_key, 8).unwrap().unwrap().kind,
        ValueKind::Delete
    );
    assert!(table.get(&big_key, 3).unwrap().is_none());
    assert!(table
        .get(&big_key[..big_key.len() - 1], u64::MAX)
        .unwrap()
        .is_none());

    assert_eq!(collect(&mut table.iter().unwrap()).unwrap(), versions);
    assert_eq!(
        collect(&mut table.iter_from(&big_key).unwrap()).unwrap(),
        versions[1..]
    );
    assert_eq!(
        collect(&mut table.iter_from(&key_after_big).unwrap()).unwrap(),
        versions[3..]
    );
    table.verify().unwrap();
}
