//! A valid table with random bytes changed (or cut short) never makes open, get, iteration or
//! verify panic, and never yields a wrong value: every byte of a table is under some checksum.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use crate::common::{build, collect, model_get, sample_versions, V};
use proptest::prelude::*;
use ringkv_engine::sstable::{Table, TableOptions};

struct Original {
    versions: Vec<V>,
    bytes: Vec<u8>,
}

fn original() -> &'static Original {
    static ORIGINAL: OnceLock<Original> = OnceLock::new();
    ORIGINAL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let versions = sample_versions(150);
        let opts = TableOptions {
            block_size: 200,
            restart_interval: 3,
            bloom_bits_per_key: 8,
        };
        let (path, _) = build(dir.path(), "t.sst", opts, &versions);
        let bytes = std::fs::read(&path).unwrap();
        Original { versions, bytes }
    })
}

fn exercise(path: &std::path::Path, versions: &[V]) {
    let Ok(table) = Table::open(path, 1) else {
        return;
    };
    for v in versions {
        for max in [u64::MAX, v.seqno, v.seqno.saturating_sub(1)] {
            if let Ok(Some(got)) = table.get(&v.key, max) {
                let want =
                    model_get(versions, &v.key, max).expect("a version appeared from nowhere");
                assert_eq!(
                    (got.seqno, got.kind, got.expires_at, got.value),
                    (want.seqno, want.kind, want.expires_at, &want.value[..])
                );
            }
        }
    }
    if let Ok(all) = table.iter().and_then(|mut it| collect(&mut it)) {
        assert_eq!(
            all, versions,
            "a damaged table iterated without error but not to the original"
        );
    }
    for v in versions.iter().step_by(7) {
        let _ = table.iter_from(&v.key).and_then(|mut it| collect(&mut it));
    }
    let _ = table.verify();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tables_never_panic_or_lie(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
        cut in prop::option::weighted(0.2, any::<prop::sample::Index>()),
    ) {
        let orig = original();
        let mut bytes = orig.bytes.clone();
        for (at, mask) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutated.sst");
        std::fs::write(&path, &bytes).unwrap();
        exercise(&path, &orig.versions);
    }
}
