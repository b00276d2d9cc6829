//! Helpers shared by the integration tests (WAL and SSTable). Each test binary uses a subset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ringkv_engine::iter::EntryIter;
use ringkv_engine::sstable::{TableBuilder, TableIter, TableMeta, TableOptions};
use ringkv_engine::wal::{self, ReplayOutcome, WalWriter, SEGMENT_HEADER_LEN};
use ringkv_engine::{Error, Result, SeqNo, ValueKind};

/// SplitMix64: deterministic, seedable, and needs no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(len);
        v
    }
}

/// A synced one-segment log of `payloads` (segment 1, start LSN 0, so LSNs are file offsets),
/// with the file offset where each record starts and the offset just past each record.
pub struct Log {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub payloads: Vec<Vec<u8>>,
    pub starts: Vec<u64>,
    pub ends: Vec<u64>,
}

pub fn write_log(dir: &Path, payloads: Vec<Vec<u8>>) -> Log {
    let w = WalWriter::create(dir, 1, 0).unwrap();
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut at = SEGMENT_HEADER_LEN as u64;
    for p in &payloads {
        starts.push(at);
        at = w.append(p).unwrap();
        ends.push(at);
    }
    w.sync().unwrap();
    drop(w);
    let path = wal::segment_path(dir, 1);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, at);
    Log {
        path,
        bytes,
        payloads,
        starts,
        ends,
    }
}

/// Replays `path`, returning what the callback saw (even when replay then fails) and the result.
pub fn replay(path: &Path) -> (Vec<Vec<u8>>, Result<ReplayOutcome>) {
    let mut seen = Vec::new();
    let r = wal::replay_segment(path, |p| {
        seen.push(p.to_vec());
        Ok(())
    });
    (seen, r)
}

/// One version as the tests see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V {
    pub key: Vec<u8>,
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: Vec<u8>,
}

impl V {
    pub fn put(key: &[u8], seqno: SeqNo, value: &[u8]) -> V {
        V {
            key: key.to_vec(),
            seqno,
            kind: ValueKind::Put,
            expires_at: 0,
            value: value.to_vec(),
        }
    }
}

/// Writes `versions` (already in the engine's order) to `dir/name`.
pub fn build(dir: &Path, name: &str, opts: TableOptions, versions: &[V]) -> (PathBuf, TableMeta) {
    let path = dir.join(name);
    let mut b = TableBuilder::create(&path, opts).unwrap();
    for v in versions {
        b.add(&v.key, v.seqno, v.kind, v.expires_at, &v.value)
            .unwrap();
    }
    let meta = b.finish().unwrap();
    (path, meta)
}

/// A deterministic table's worth of versions: `keys` keys, some with several versions, some
/// tombstones and expiries, values of varying length.
pub fn sample_versions(keys: u32) -> Vec<V> {
    let mut out = Vec::new();
    for i in 0..keys {
        let key = format!("key-{i:06}").into_bytes();
        for s in (0..=(i % 3) as u64).rev() {
            let seqno = 1 + u64::from(i) * 4 + s;
            let kind = if i % 7 == 0 && s == 0 {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            let value = if kind == ValueKind::Delete {
                Vec::new()
            } else {
                vec![(i % 251) as u8; (i % 40) as usize + s as usize]
            };
            let expires_at = if i % 5 == 0 { 1_000 + u64::from(i) } else { 0 };
            out.push(V {
                key: key.clone(),
                seqno,
                kind,
                expires_at,
                value,
            });
        }
    }
    out
}

/// Drains an iterator from its current position.
pub fn collect(it: &mut TableIter) -> Result<Vec<V>> {
    let mut out = Vec::new();
    while it.valid() {
        out.push(V {
            key: it.key().to_vec(),
            seqno: it.seqno(),
            kind: it.kind(),
            expires_at: it.expires_at(),
            value: it.value().to_vec(),
        });
        it.next()?;
    }
    Ok(out)
}

/// The newest version of `key` at or below `max_seqno` in a sorted list.
pub fn model_get<'a>(versions: &'a [V], key: &[u8], max_seqno: SeqNo) -> Option<&'a V> {
    versions
        .iter()
        .find(|v| v.key == key && v.seqno <= max_seqno)
}

/// Asserts `err` is corruption in `file` at an offset within `range`.
pub fn assert_corruption_in(err: &Error, file: &Path, range: std::ops::Range<u64>) {
    match err {
        Error::Corruption {
            file: f,
            offset,
            reason,
        } => {
            assert_eq!(f, file, "corruption names the wrong file ({reason})");
            assert!(
                range.contains(offset),
                "corruption offset {offset} outside {range:?}: {reason}"
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}
