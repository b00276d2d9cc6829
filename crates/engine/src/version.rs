//! A `Version` is one consistent picture of the engine: the active memtable, the frozen memtables
//! waiting for flush, and the SSTables of every level. It is immutable; flushes and compactions
//! install a new one (through `ArcSwap`, so readers never take a lock). A reader that holds an
//! `Arc<Version>` keeps its memtables and mmap'd tables alive even after compaction unlinks them,
//! which is what makes scans consistent snapshots without tracking snapshots in compaction.

use std::sync::Arc;

use crate::memtable::Memtable;
use crate::sstable::Table;

#[derive(Clone)]
pub struct Version {
    pub active: Arc<Memtable>,
    /// Frozen memtables, newest first.
    pub immutables: Vec<Arc<Memtable>>,
    /// `levels[0]` newest first (tables may overlap); deeper levels sorted by smallest key, disjoint.
    pub levels: Vec<Vec<Arc<Table>>>,
}

impl Version {
    pub fn new(active: Arc<Memtable>, max_levels: usize) -> Self {
        Version {
            active,
            immutables: Vec::new(),
            levels: vec![Vec::new(); max_levels],
        }
    }

    pub fn memtables(&self) -> impl Iterator<Item = &Arc<Memtable>> {
        std::iter::once(&self.active).chain(self.immutables.iter())
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels
            .get(level)
            .map(|l| l.iter().map(|t| t.meta().file_size).sum())
            .unwrap_or(0)
    }

    pub fn total_table_bytes(&self) -> u64 {
        self.levels
            .iter()
            .flatten()
            .map(|t| t.meta().file_size)
            .sum()
    }

    /// Index of the table in a sorted, disjoint level whose key range may hold `key`.
    pub fn find_in_level(tables: &[Arc<Table>], key: &[u8]) -> Option<usize> {
        let idx = tables.partition_point(|t| t.meta().largest_key.as_slice() < key);
        let t = tables.get(idx)?;
        (t.meta().smallest_key.as_slice() <= key).then_some(idx)
    }

    /// Every table, as (level, table).
    pub fn tables(&self) -> impl Iterator<Item = (usize, &Arc<Table>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, ts)| ts.iter().map(move |t| (l, t)))
    }
}
