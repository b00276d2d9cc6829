//! Versions that break the engine's order are a caller bug: `add` refuses them with
//! `InvalidArgument` and leaves the builder as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ringkv_engine::sstable::{Table, TableBuilder, TableOptions};
use ringkv_engine::{Error, ValueKind};

fn assert_invalid(r: ringkv_engine::Result<()>) {
    match r {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("out of order"), "{msg}"),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn out_of_order_adds_are_refused_without_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let mut b = TableBuilder::create(&path, TableOptions::default()).unwrap();
    b.add(b"b", 10, ValueKind::Put, 0, b"b10").unwrap();
    b.add(b"b", 5, ValueKind::Put, 0, b"b5").unwrap();

    assert_invalid(b.add(b"a", 20, ValueKind::Put, 0, b"smaller key"));
    assert_invalid(b.add(b"b", 7, ValueKind::Put, 0, b"higher seqno for the same key"));
    assert_invalid(b.add(b"b", 5, ValueKind::Delete, 0, b"the same version again"));
    assert_invalid(b.add(b"", 1, ValueKind::Put, 0, b"empty key after others"));
    assert_eq!(b.entries(), 2);

    b.add(b"b", 4, ValueKind::Delete, 0, b"").unwrap();
    b.add(b"c", 99, ValueKind::Put, 0, b"c").unwrap();
    let meta = b.finish().unwrap();
    assert_eq!(meta.entries, 4);

    let table = Table::open(&path, 1).unwrap();
    assert_eq!(table.get(b"b", 6).unwrap().unwrap().value, b"b5");
    assert!(table.get(b"a", u64::MAX).unwrap().is_none());
    table.verify().unwrap();
}

#[test]
fn out_of_order_across_a_block_boundary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    // One-byte blocks: every add closes a block, so the check must not rely on the open block.
    let opts = TableOptions {
        block_size: 1,
        ..TableOptions::default()
    };
    let mut b = TableBuilder::create(&path, opts).unwrap();
    b.add(b"k1", 1, ValueKind::Put, 0, b"v").unwrap();
    b.add(b"k2", 1, ValueKind::Put, 0, b"v").unwrap();
    assert_invalid(b.add(b"k1", 0, ValueKind::Put, 0, b"v"));
    b.abandon().unwrap();
    assert!(!path.exists());
}
