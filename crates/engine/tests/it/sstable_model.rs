//! A table answers `get`, `iter` and `iter_from` exactly as a sorted model of its versions does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{build, collect, model_get, V};
use proptest::prelude::*;
use ringkv_engine::bloom::key_hash;
use ringkv_engine::sstable::{Table, TableOptions};
use ringkv_engine::types::compare_versions;
use ringkv_engine::{SeqNo, ValueKind};

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..6),
        // A small alphabet makes keys share prefixes and be prefixes of each other.
        4 => prop::collection::vec(prop::sample::select(vec![0u8, b'a', b'b', 0xff]), 0..10),
        1 => prop::collection::vec(any::<u8>(), 100..600),
        1 => Just(Vec::new()),
    ]
}

#[derive(Clone, Debug)]
struct Version {
    kind: ValueKind,
    expires_at: u64,
    value: Vec<u8>,
}

fn version() -> impl Strategy<Value = Version> {
    let kind = prop_oneof![4 => Just(ValueKind::Put), 1 => Just(ValueKind::Delete)];
    let expires_at = prop_oneof![3 => Just(0u64), 1 => 1u64..u64::MAX];
    let value = prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(any::<u8>(), 500..3000),
    ];
    (kind, expires_at, value).prop_map(|(kind, expires_at, value)| Version {
        kind,
        expires_at,
        value,
    })
}

/// key -> versions by seqno (distinct seqnos per key).
fn model() -> impl Strategy<Value = BTreeMap<Vec<u8>, BTreeMap<SeqNo, Version>>> {
    let seqno =
        prop_oneof![4 => 1u64..200, 1 => Just(0u64), 1 => Just(u64::MAX), 1 => any::<u64>()];
    let versions = prop::collection::btree_map(seqno, version(), 1..5);
    prop::collection::btree_map(key(), versions, 1..120)
}

fn options() -> impl Strategy<Value = TableOptions> {
    let block_size = prop_oneof![1 => Just(1usize), 3 => 32usize..600, 1 => Just(4096usize)];
    (block_size, 1usize..20, 0usize..14).prop_map(
        |(block_size, restart_interval, bloom_bits_per_key)| TableOptions {
            block_size,
            restart_interval,
            bloom_bits_per_key,
        },
    )
}

/// The model flattened into the engine's order.
fn flatten(model: &BTreeMap<Vec<u8>, BTreeMap<SeqNo, Version>>) -> Vec<V> {
    let mut out = Vec::new();
    for (key, versions) in model {
        for (&seqno, v) in versions.iter().rev() {
            out.push(V {
                key: key.clone(),
                seqno,
                kind: v.kind,
                expires_at: v.expires_at,
                value: v.value.clone(),
            });
        }
    }
    out
}

/// Keys worth probing around `key`: just below, just above, an extension.
fn neighbours(key: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![key.to_vec()];
    let mut ext = key.to_vec();
    ext.push(0);
    out.push(ext);
    if let Some((&last, head)) = key.split_last() {
        out.push(head.to_vec());
        let mut below = head.to_vec();
        below.push(last.wrapping_sub(1));
        out.push(below);
        let mut above = head.to_vec();
        above.push(last.wrapping_add(1));
        out.push(above);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn table_matches_model(model in model(), opts in options(), extra in prop::collection::vec(key(), 0..20)) {
        let dir = tempfile::tempdir().unwrap();
        let versions = flatten(&model);
        let (path, built_meta) = build(dir.path(), "t.sst", opts, &versions);
        let table = Table::open(&path, 7).unwrap();
        prop_assert_eq!(table.file_number(), 7);
        prop_assert_eq!(table.path(), path.as_path());

        // Metadata.
        let meta = table.meta();
        prop_assert_eq!(meta, &built_meta);
        prop_assert_eq!(meta.file_size, std::fs::metadata(&path).unwrap().len());
        prop_assert_eq!(meta.entries, versions.len() as u64);
        prop_assert_eq!(meta.tombstones, versions.iter().filter(|v| v.kind == ValueKind::Delete).count() as u64);
        prop_assert_eq!(&meta.smallest_key, &versions[0].key);
        prop_assert_eq!(&meta.largest_key, &versions[versions.len() - 1].key);
        prop_assert_eq!(meta.min_seqno, versions.iter().map(|v| v.seqno).min().unwrap());
        prop_assert_eq!(meta.max_seqno, versions.iter().map(|v| v.seqno).max().unwrap());
        prop_assert_eq!(meta.min_expiry, versions.iter().map(|v| v.expires_at).filter(|&x| x != 0).min().unwrap_or(0));
        prop_assert_eq!(meta.raw_key_bytes, versions.iter().map(|v| v.key.len() as u64).sum::<u64>());
        prop_assert_eq!(meta.raw_value_bytes, versions.iter().map(|v| v.value.len() as u64).sum::<u64>());

        // Point reads at many snapshots, for present keys, their neighbours and random keys.
        let mut probes: BTreeSet<Vec<u8>> = extra.into_iter().collect();
        for key in model.keys() {
            probes.extend(neighbours(key));
            prop_assert!(table.may_contain(key_hash(key)), "bloom filter lost a key");
        }
        let mut snapshots: BTreeSet<SeqNo> = [0, 1, u64::MAX, u64::MAX - 1].into_iter().collect();
        for v in &versions {
            snapshots.extend([v.seqno, v.seqno.saturating_sub(1), v.seqno.saturating_add(1)]);
        }
        for key in &probes {
            for &max in &snapshots {
                let got = table.get(key, max).unwrap();
                let want = model_get(&versions, key, max);
                prop_assert_eq!(
                    got.map(|f| (f.seqno, f.kind, f.expires_at, f.value.to_vec())),
                    want.map(|v| (v.seqno, v.kind, v.expires_at, v.value.clone())),
                    "get({:?}, {})", key, max
                );
            }
        }

        // Full iteration, and iteration from every probe.
        prop_assert_eq!(collect(&mut table.iter().unwrap()).unwrap(), versions.clone());
        for key in &probes {
            let start = versions
                .iter()
                .position(|v| compare_versions(&v.key, v.seqno, key, SeqNo::MAX) != std::cmp::Ordering::Less)
                .unwrap_or(versions.len());
            let got = collect(&mut table.iter_from(key).unwrap()).unwrap();
            prop_assert_eq!(&got[..], &versions[start..], "iter_from({:?})", key);
        }

        table.verify().unwrap();
    }
}
