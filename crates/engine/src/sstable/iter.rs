//! Walks a table's versions in order, block by block.

use std::ops::Range;
use std::sync::Arc;

use crate::error::Result;
use crate::iter::EntryIter;
use crate::types::{SeqNo, ValueKind};

use super::block::{Block, RawEntry};
use super::format::{BlockHandle, Corrupt};
use super::reader::Table;

/// An iterator over one table. It owns an `Arc<Table>`, so it outlives the version set that handed
/// it out, and its values are slices of the mmap (no copy). After an error it is exhausted.
pub struct TableIter {
    table: Arc<Table>,
    pos: Position,
}

/// The cursor, kept apart from the table so it can be mutated while a block borrows the table.
struct Position {
    block_idx: usize,
    /// The current block; `None` once past the last block or after an error.
    handle: Option<BlockHandle>,
    /// Offset within the block payload of the entry after the current one.
    next_pos: usize,
    key: Vec<u8>,
    seqno: SeqNo,
    kind: ValueKind,
    expires_at: u64,
    /// The value's bytes in the file.
    value: Range<usize>,
    valid: bool,
}

impl Position {
    fn enter_block(&mut self, table: &Table, i: usize) -> Result<(), Corrupt> {
        self.block_idx = i;
        self.next_pos = 0;
        self.key.clear();
        self.handle = None;
        if i < table.data_block_count() {
            self.handle = Some(table.block_handle(i)?);
        }
        Ok(())
    }

    fn land(&mut self, block: &Block<'_>, e: &RawEntry<'_>) {
        self.seqno = e.seqno;
        self.kind = e.kind;
        self.expires_at = e.expires_at;
        let start = block.offset() as usize + e.value_offset;
        self.value = start..start + e.value.len();
        self.next_pos = e.next;
        self.valid = true;
    }

    /// Moves to the entry at `next_pos`, crossing into later blocks as needed.
    fn advance(&mut self, table: &Table) -> Result<(), Corrupt> {
        self.valid = false;
        while let Some(handle) = self.handle {
            let block = table.data_block(self.block_idx, handle)?;
            if let Some(e) = block.next_entry(self.next_pos, &mut self.key)? {
                self.land(&block, &e);
                return Ok(());
            }
            self.enter_block(table, self.block_idx + 1)?;
        }
        Ok(())
    }

    fn seek(&mut self, table: &Table, key: &[u8]) -> Result<(), Corrupt> {
        self.valid = false;
        // The first version of `key` in the engine's order is the one with the highest seqno.
        let Some((i, entry)) = table.index()?.seek(key, SeqNo::MAX)? else {
            return self.enter_block(table, table.data_block_count());
        };
        self.block_idx = i;
        self.handle = Some(entry.handle);
        let block = table.data_block(i, entry.handle)?;
        match block.seek(key, SeqNo::MAX, &mut self.key)? {
            Some(e) => {
                self.land(&block, &e);
                Ok(())
            }
            // Only when the index separator lies between this block and the next.
            None => {
                self.enter_block(table, i + 1)?;
                self.advance(table)
            }
        }
    }

    fn fail(&mut self) {
        self.valid = false;
        self.handle = None;
    }
}

impl TableIter {
    /// Positioned at the first version.
    pub(crate) fn new(table: Arc<Table>) -> Result<TableIter> {
        let mut it = TableIter::unpositioned(table);
        it.seek_to_first()?;
        Ok(it)
    }

    /// Not positioned anywhere (invalid) until a seek.
    pub(crate) fn unpositioned(table: Arc<Table>) -> TableIter {
        TableIter {
            table,
            pos: Position {
                block_idx: 0,
                handle: None,
                next_pos: 0,
                key: Vec::new(),
                seqno: 0,
                kind: ValueKind::Put,
                expires_at: 0,
                value: 0..0,
                valid: false,
            },
        }
    }

    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    pub fn seek_to_first(&mut self) -> Result<()> {
        let (table, pos) = (&self.table, &mut self.pos);
        let result = pos.enter_block(table, 0).and_then(|()| pos.advance(table));
        result.map_err(|c| {
            pos.fail();
            table.corruption(c)
        })
    }

    /// Positions on the first version whose key is >= `key`.
    pub fn seek(&mut self, key: &[u8]) -> Result<()> {
        let (table, pos) = (&self.table, &mut self.pos);
        pos.seek(table, key).map_err(|c| {
            pos.fail();
            table.corruption(c)
        })
    }
}

impl EntryIter for TableIter {
    fn valid(&self) -> bool {
        self.pos.valid
    }

    fn key(&self) -> &[u8] {
        &self.pos.key
    }

    fn seqno(&self) -> SeqNo {
        self.pos.seqno
    }

    fn kind(&self) -> ValueKind {
        self.pos.kind
    }

    fn expires_at(&self) -> u64 {
        self.pos.expires_at
    }

    fn value(&self) -> &[u8] {
        // The range was cut from a decoded entry of this mmap, so it is always in bounds.
        self.table
            .bytes()
            .get(self.pos.value.clone())
            .unwrap_or_default()
    }

    fn next(&mut self) -> Result<()> {
        if !self.pos.valid {
            return Ok(());
        }
        let (table, pos) = (&self.table, &mut self.pos);
        pos.advance(table).map_err(|c| {
            pos.fail();
            table.corruption(c)
        })
    }
}
