//! Model test: random operations against the engine and a BTreeMap, including flushes,
//! compactions and reopen (clean close), with options small enough that memtables rotate and
//! levels fill during a case. Any divergence fails with proptest's minimised sequence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;
use ringkv_engine::db::{Db, ScanOptions};
use ringkv_engine::options::{Durability, Options};

#[derive(Clone, Debug)]
enum Op {
    Put(u16, u8, u16),
    Delete(u16),
    Get(u16),
    Scan(u16, u16, u8),
    ScanPrefix(u8),
    Flush,
    Compact,
    Reopen,
}

fn key(k: u16) -> Vec<u8> {
    // Keys share prefixes and vary in length, exercising prefix compression and ordering.
    let mut v = format!("k{:02}", k % 97).into_bytes();
    v.extend(std::iter::repeat_n(b'x', (k / 97) as usize % 5));
    v
}

fn value(seed: u8, len: u16) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (any::<u16>(), any::<u8>(), 0u16..3000).prop_map(|(k, s, l)| Op::Put(k, s, l)),
        8 => any::<u16>().prop_map(Op::Delete),
        20 => any::<u16>().prop_map(Op::Get),
        6 => (any::<u16>(), any::<u16>(), 0u8..20).prop_map(|(a, b, l)| Op::Scan(a, b, l)),
        3 => any::<u8>().prop_map(Op::ScanPrefix),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn options() -> Options {
    Options {
        durability: Durability::None,
        memtable_bytes: 64 * 1024,
        level_base_bytes: 1 << 20,
        target_file_bytes: 64 * 1024,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 8,
        l0_stop_trigger: 12,
        cache_bytes: 16 * 1024,
        block_size: 512,
        ..Options::default()
    }
}

fn scan(db: &Db, opts: ScanOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut cursor = db.cursor(opts).unwrap();
    let mut out = Vec::new();
    // Small batches, so resuming a cursor between batches is exercised too.
    while cursor
        .next_batch(3, usize::MAX, |k, v, _| out.push((k.to_vec(), v.to_vec())))
        .unwrap()
    {}
    out
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(Db::open(dir.path(), options()).unwrap());
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for op in ops {
        let d = db.as_ref().unwrap();
        match op {
            Op::Put(k, s, l) => {
                d.put(&key(k), &value(s, l), 0).unwrap();
                model.insert(key(k), value(s, l));
            }
            Op::Delete(k) => {
                d.delete(&key(k)).unwrap();
                model.remove(&key(k));
            }
            Op::Get(k) => assert_eq!(
                d.get(&key(k)).unwrap(),
                model.get(&key(k)).cloned(),
                "get {:?}",
                key(k)
            ),
            Op::Scan(a, b, limit) => {
                let (lo, hi) = {
                    let (x, y) = (key(a), key(b));
                    if x <= y {
                        (x, y)
                    } else {
                        (y, x)
                    }
                };
                let got = scan(
                    d,
                    ScanOptions {
                        start: Some(Bound::Included(lo.clone())),
                        end: Some(Bound::Excluded(hi.clone())),
                        limit: Some(u64::from(limit)),
                    },
                );
                let want: Vec<_> = model
                    .range::<Vec<u8>, _>((Bound::Included(lo), Bound::Excluded(hi)))
                    .take(limit as usize)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::ScanPrefix(p) => {
                let prefix = format!("k{}", p % 10).into_bytes();
                let got = scan(d, ScanOptions::prefix(&prefix));
                let want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Flush => d.flush().unwrap(),
            Op::Compact => d.compact().unwrap(),
            Op::Reopen => {
                db.take().unwrap().close().unwrap();
                db = Some(Db::open(dir.path(), options()).unwrap());
            }
        }
    }
    let d = db.as_ref().unwrap();
    let all = scan(d, ScanOptions::default());
    assert_eq!(
        all,
        model
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 2000, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_btreemap(ops in prop::collection::vec(op(), 1..400)) {
        run(ops);
    }
}

/// A long deterministic run with enough data to push tables through several levels.
#[test]
fn long_run_through_levels() {
    let mut ops = Vec::new();
    let mut x: u32 = 12345;
    for i in 0..6000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let k = (x >> 8) as u16;
        ops.push(match i % 50 {
            0..=39 => Op::Put(k, (x >> 3) as u8, (x % 2000) as u16),
            40..=44 => Op::Delete(k),
            45..=47 => Op::Get(k),
            48 => Op::Scan(k, k.wrapping_add(500), 15),
            _ => {
                if i % 1000 == 49 {
                    Op::Reopen
                } else {
                    Op::Get(k)
                }
            }
        });
    }
    run(ops);
}
