//! The memtable: recent writes in a lock-free skiplist (crossbeam), readable from any thread while
//! the single writer inserts. Every version of a key is kept (key ascending, newest first), so a
//! scan's snapshot sequence number sees a stable view while writes continue.
//!
//! A memtable is tied to the WAL segment that holds its writes; once it is flushed to an SSTable
//! that segment can be deleted.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use crossbeam_skiplist::SkipMap;

use crate::error::Result;
use crate::iter::EntryIter;
use crate::types::{compare_versions, SeqNo, ValueKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemKey {
    pub key: Vec<u8>,
    pub seqno: SeqNo,
}

impl Ord for MemKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_versions(&self.key, self.seqno, &other.key, other.seqno)
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug)]
pub struct MemValue {
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: Vec<u8>,
}

/// Per-entry bookkeeping beyond key and value bytes (skiplist node, vectors), for size accounting.
const ENTRY_OVERHEAD: usize = 96;

pub struct Memtable {
    map: SkipMap<MemKey, MemValue>,
    approximate_bytes: AtomicUsize,
    max_seqno: AtomicU64,
    wal_segment: u64,
}

pub struct MemFound<'a> {
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: &'a [u8],
}

impl Memtable {
    pub fn new(wal_segment: u64) -> Self {
        Memtable {
            map: SkipMap::new(),
            approximate_bytes: AtomicUsize::new(0),
            max_seqno: AtomicU64::new(0),
            wal_segment,
        }
    }

    pub fn wal_segment(&self) -> u64 {
        self.wal_segment
    }

    pub fn insert(&self, key: &[u8], seqno: SeqNo, kind: ValueKind, expires_at: u64, value: &[u8]) {
        self.approximate_bytes.fetch_add(
            key.len() + value.len() + ENTRY_OVERHEAD,
            AtomicOrdering::Relaxed,
        );
        self.max_seqno.fetch_max(seqno, AtomicOrdering::Relaxed);
        self.map.insert(
            MemKey {
                key: key.to_vec(),
                seqno,
            },
            MemValue {
                kind,
                expires_at,
                value: value.to_vec(),
            },
        );
    }

    pub fn approximate_bytes(&self) -> usize {
        self.approximate_bytes.load(AtomicOrdering::Relaxed)
    }

    pub fn max_seqno(&self) -> SeqNo {
        self.max_seqno.load(AtomicOrdering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Calls `f` with the newest version of `key` whose seqno is at most `max_seqno`.
    pub fn get_with<R>(
        &self,
        key: &[u8],
        max_seqno: SeqNo,
        f: impl FnOnce(MemFound<'_>) -> R,
    ) -> Option<R> {
        let probe = MemKey {
            key: key.to_vec(),
            seqno: max_seqno,
        };
        let entry = self.map.lower_bound(Bound::Included(&probe))?;
        if entry.key().key != key {
            return None;
        }
        let v = entry.value();
        Some(f(MemFound {
            seqno: entry.key().seqno,
            kind: v.kind,
            expires_at: v.expires_at,
            value: &v.value,
        }))
    }

    /// An iterator over all versions with seqno <= `max_seqno`, from the first key >= `start`.
    pub fn iter_from(self: &Arc<Self>, start: Bound<&[u8]>, max_seqno: SeqNo) -> MemtableIter {
        let mut it = MemtableIter {
            table: Arc::clone(self),
            max_seqno,
            current: None,
        };
        let first = match start {
            Bound::Unbounded => self
                .map
                .front()
                .map(|e| (e.key().clone(), e.value().clone())),
            Bound::Included(k) => self
                .map
                .lower_bound(Bound::Included(&MemKey {
                    key: k.to_vec(),
                    seqno: SeqNo::MAX,
                }))
                .map(|e| (e.key().clone(), e.value().clone())),
            Bound::Excluded(k) => self
                .map
                .lower_bound(Bound::Excluded(&MemKey {
                    key: k.to_vec(),
                    seqno: 0,
                }))
                .map(|e| (e.key().clone(), e.value().clone())),
        };
        it.current = first;
        it.skip_invisible();
        it
    }
}

/// Owns its memtable through an `Arc` and re-seeks from the current key on each step, so it
/// borrows nothing and can live inside a cursor handed to JavaScript.
pub struct MemtableIter {
    table: Arc<Memtable>,
    max_seqno: SeqNo,
    current: Option<(MemKey, MemValue)>,
}

impl MemtableIter {
    fn advance_raw(&mut self) {
        let next = match &self.current {
            Some((k, _)) => self
                .table
                .map
                .lower_bound(Bound::Excluded(k))
                .map(|e| (e.key().clone(), e.value().clone())),
            None => None,
        };
        self.current = next;
    }

    fn skip_invisible(&mut self) {
        while let Some((k, _)) = &self.current {
            if k.seqno <= self.max_seqno {
                break;
            }
            self.advance_raw();
        }
    }
}

impl EntryIter for MemtableIter {
    fn valid(&self) -> bool {
        self.current.is_some()
    }
    fn key(&self) -> &[u8] {
        self.current
            .as_ref()
            .map(|(k, _)| k.key.as_slice())
            .unwrap_or(&[])
    }
    fn seqno(&self) -> SeqNo {
        self.current.as_ref().map(|(k, _)| k.seqno).unwrap_or(0)
    }
    fn kind(&self) -> ValueKind {
        self.current
            .as_ref()
            .map(|(_, v)| v.kind)
            .unwrap_or(ValueKind::Delete)
    }
    fn expires_at(&self) -> u64 {
        self.current
            .as_ref()
            .map(|(_, v)| v.expires_at)
            .unwrap_or(0)
    }
    fn value(&self) -> &[u8] {
        self.current
            .as_ref()
            .map(|(_, v)| v.value.as_slice())
            .unwrap_or(&[])
    }
    fn next(&mut self) -> Result<()> {
        self.advance_raw();
        self.skip_invisible();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn newest_visible_version_wins() {
        let m = Memtable::new(1);
        m.insert(b"k", 1, ValueKind::Put, 0, b"v1");
        m.insert(b"k", 3, ValueKind::Put, 0, b"v3");
        m.insert(b"k", 5, ValueKind::Delete, 0, b"");
        m.insert(b"ka", 2, ValueKind::Put, 0, b"x");
        let get = |s| m.get_with(b"k", s, |f| (f.seqno, f.value.to_vec()));
        assert_eq!(get(2), Some((1, b"v1".to_vec())));
        assert_eq!(get(4), Some((3, b"v3".to_vec())));
        assert_eq!(get(9).map(|x| x.0), Some(5));
        assert_eq!(get(0), None);
        assert!(m.get_with(b"j", 9, |_| ()).is_none());
    }

    #[test]
    fn iterates_in_engine_order_under_snapshot() {
        let m = Arc::new(Memtable::new(1));
        m.insert(b"b", 4, ValueKind::Put, 0, b"b4");
        m.insert(b"a", 1, ValueKind::Put, 0, b"a1");
        m.insert(b"b", 2, ValueKind::Put, 0, b"b2");
        m.insert(b"c", 9, ValueKind::Put, 0, b"c9");
        let mut it = m.iter_from(Bound::Unbounded, 5);
        let mut seen = Vec::new();
        while it.valid() {
            seen.push((it.key().to_vec(), it.seqno()));
            it.next().unwrap();
        }
        assert_eq!(
            seen,
            vec![(b"a".to_vec(), 1), (b"b".to_vec(), 4), (b"b".to_vec(), 2)]
        );
        let it = m.iter_from(Bound::Excluded(b"a"), 100);
        assert_eq!(it.key(), b"b");
        let it = m.iter_from(Bound::Included(b"b"), 100);
        assert_eq!((it.key(), it.seqno()), (&b"b"[..], 4));
    }
}
