//! Composition of iterators: `MergeIter` merges sources into the engine's order (key ascending,
//! newest first); `LevelIter` walks a sorted, disjoint level table by table, opening each lazily;
//! `LiveIter` turns versions into what a reader sees: the newest version of each key within the
//! bounds, skipping tombstones and expired values. Scans, flushes, compactions and Merkle hashing
//! all read through these.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Bound;
use std::sync::Arc;

use crate::error::Result;
use crate::iter::EntryIter;
use crate::sstable::{Table, TableIter};
use crate::types::{compare_versions, is_live, SeqNo, ValueKind};

struct HeapItem {
    /// Position of the source in the original list: an earlier source is newer and wins ties.
    rank: usize,
    iter: Box<dyn EntryIter>,
}

impl PartialEq for HeapItem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapItem {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse so the smallest version comes out first.
        compare_versions(
            self.iter.key(),
            self.iter.seqno(),
            other.iter.key(),
            other.iter.seqno(),
        )
        .then(self.rank.cmp(&other.rank))
        .reverse()
    }
}

pub struct MergeIter {
    heap: BinaryHeap<HeapItem>,
    current: Option<HeapItem>,
}

impl MergeIter {
    /// `sources` newest first.
    pub fn new(sources: Vec<Box<dyn EntryIter>>) -> Self {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (rank, iter) in sources.into_iter().enumerate() {
            if iter.valid() {
                heap.push(HeapItem { rank, iter });
            }
        }
        let current = heap.pop();
        MergeIter { heap, current }
    }

    fn cur(&self) -> Option<&dyn EntryIter> {
        self.current.as_ref().map(|c| c.iter.as_ref())
    }
}

impl EntryIter for MergeIter {
    fn valid(&self) -> bool {
        self.current.is_some()
    }
    fn key(&self) -> &[u8] {
        self.cur().map(|c| c.key()).unwrap_or(&[])
    }
    fn seqno(&self) -> SeqNo {
        self.cur().map(|c| c.seqno()).unwrap_or(0)
    }
    fn kind(&self) -> ValueKind {
        self.cur().map(|c| c.kind()).unwrap_or(ValueKind::Delete)
    }
    fn expires_at(&self) -> u64 {
        self.cur().map(|c| c.expires_at()).unwrap_or(0)
    }
    fn value(&self) -> &[u8] {
        self.cur().map(|c| c.value()).unwrap_or(&[])
    }
    fn next(&mut self) -> Result<()> {
        if let Some(mut item) = self.current.take() {
            item.iter.next()?;
            if item.iter.valid() {
                self.heap.push(item);
            }
        }
        self.current = self.heap.pop();
        Ok(())
    }
}

/// Concatenates the tables of one sorted, disjoint level.
pub struct LevelIter {
    tables: Vec<Arc<Table>>,
    next_table: usize,
    current: Option<TableIter>,
}

impl LevelIter {
    pub fn new(tables: Vec<Arc<Table>>, start: Bound<&[u8]>) -> Result<Self> {
        let first = match start {
            Bound::Unbounded => 0,
            Bound::Included(k) | Bound::Excluded(k) => {
                tables.partition_point(|t| t.meta().largest_key.as_slice() < k)
            }
        };
        let mut it = LevelIter {
            tables,
            next_table: first,
            current: None,
        };
        match start {
            Bound::Unbounded => it.open_next(None)?,
            Bound::Included(k) => it.open_next(Some(k))?,
            Bound::Excluded(k) => {
                it.open_next(Some(k))?;
                while it.valid() && it.key() == k {
                    it.next()?;
                }
            }
        }
        Ok(it)
    }

    fn open_next(&mut self, seek: Option<&[u8]>) -> Result<()> {
        self.current = None;
        while let Some(t) = self.tables.get(self.next_table) {
            self.next_table += 1;
            let it = match seek {
                Some(k) => t.iter_from(k)?,
                None => t.iter()?,
            };
            if it.valid() {
                self.current = Some(it);
                break;
            }
        }
        Ok(())
    }
}

impl EntryIter for LevelIter {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.valid())
    }
    fn key(&self) -> &[u8] {
        self.current.as_ref().map(|c| c.key()).unwrap_or(&[])
    }
    fn seqno(&self) -> SeqNo {
        self.current.as_ref().map(|c| c.seqno()).unwrap_or(0)
    }
    fn kind(&self) -> ValueKind {
        self.current
            .as_ref()
            .map(|c| c.kind())
            .unwrap_or(ValueKind::Delete)
    }
    fn expires_at(&self) -> u64 {
        self.current.as_ref().map(|c| c.expires_at()).unwrap_or(0)
    }
    fn value(&self) -> &[u8] {
        self.current.as_ref().map(|c| c.value()).unwrap_or(&[])
    }
    fn next(&mut self) -> Result<()> {
        if let Some(c) = self.current.as_mut() {
            c.next()?;
            if !c.valid() {
                self.open_next(None)?;
            }
        }
        Ok(())
    }
}

/// The reader's view: newest version per key, live only, within `[start, end)` bounds.
pub struct LiveIter {
    inner: MergeIter,
    end: Bound<Vec<u8>>,
    now_ms: u64,
    done: bool,
}

impl LiveIter {
    pub fn new(inner: MergeIter, end: Bound<Vec<u8>>, now_ms: u64) -> Result<Self> {
        let mut it = LiveIter {
            inner,
            end,
            now_ms,
            done: false,
        };
        it.settle()?;
        Ok(it)
    }

    fn past_end(&self, key: &[u8]) -> bool {
        match &self.end {
            Bound::Unbounded => false,
            Bound::Included(e) => key > e.as_slice(),
            Bound::Excluded(e) => key >= e.as_slice(),
        }
    }

    /// Moves to the next key whose newest version is live. The merge yields the newest version
    /// of each key first; the older ones are skipped when leaving the key.
    fn settle(&mut self) -> Result<()> {
        while self.inner.valid() {
            if self.past_end(self.inner.key()) {
                self.done = true;
                return Ok(());
            }
            if is_live(self.inner.kind(), self.inner.expires_at(), self.now_ms) {
                return Ok(());
            }
            self.skip_key()?;
        }
        self.done = true;
        Ok(())
    }

    fn skip_key(&mut self) -> Result<()> {
        let key = self.inner.key().to_vec();
        while self.inner.valid() && self.inner.key() == key.as_slice() {
            self.inner.next()?;
        }
        Ok(())
    }

    pub fn valid(&self) -> bool {
        !self.done && self.inner.valid()
    }
    pub fn key(&self) -> &[u8] {
        self.inner.key()
    }
    pub fn value(&self) -> &[u8] {
        self.inner.value()
    }
    pub fn expires_at(&self) -> u64 {
        self.inner.expires_at()
    }
    pub fn advance(&mut self) -> Result<()> {
        self.skip_key()?;
        self.settle()
    }
}
