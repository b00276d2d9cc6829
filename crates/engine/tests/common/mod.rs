//! Helpers shared by the SSTable integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ringkv_engine::iter::EntryIter;
use ringkv_engine::sstable::{TableBuilder, TableIter, TableMeta, TableOptions};
use ringkv_engine::{Error, Result, SeqNo, ValueKind};

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
        V { key: key.to_vec(), seqno, kind: ValueKind::Put, expires_at: 0, value: value.to_vec() }
    }
}

/// Writes `versions` (already in the engine's order) to `dir/name`.
pub fn build(dir: &Path, name: &str, opts: TableOptions, versions: &[V]) -> (PathBuf, TableMeta) {
    let path = dir.join(name);
    let mut b = TableBuilder::create(&path, opts).unwrap();
    for v in versions {
        b.add(&v.key, v.seqno, v.kind, v.expires_at, &v.value).unwrap();
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
            let kind = if i % 7 == 0 && s == 0 { ValueKind::Delete } else { ValueKind::Put };
            let value = if kind == ValueKind::Delete { Vec::new() } else { vec![(i % 251) as u8; (i % 40) as usize + s as usize] };
            let expires_at = if i % 5 == 0 { 1_000 + u64::from(i) } else { 0 };
            out.push(V { key: key.clone(), seqno, kind, expires_at, value });
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
    versions.iter().find(|v| v.key == key && v.seqno <= max_seqno)
}

/// Asserts `err` is corruption in `file` at an offset within `range`.
pub fn assert_corruption_in(err: &Error, file: &Path, range: std::ops::Range<u64>) {
    match err {
        Error::Corruption { file: f, offset, reason } => {
            assert_eq!(f, file, "corruption names the wrong file ({reason})");
            assert!(range.contains(offset), "corruption offset {offset} outside {range:?}: {reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}
