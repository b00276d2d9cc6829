//! Reads a table through a read-only mmap. Point reads allocate nothing: a binary search over the
//! index's key prefixes, a binary search over the block's restart points, then a scan of at most
//! one restart interval.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use memmap2::Mmap;

use crate::bloom;
use crate::error::{Error, Result};
use crate::types::{SeqNo, ValueKind};

use super::block::Block;
use super::format::{
    block_payload, checked_block, BlockHandle, BlockType, Corrupt, Footer, Properties, FOOTER_SIZE,
};
use super::index::Index;
use super::iter::TableIter;
use super::TableMeta;

/// The newest visible version of a key, borrowing its value from the mmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: &'a [u8],
}

/// Where a table's metadata blocks lie, for tools and tests that inspect files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLayout {
    pub index: BlockHandle,
    pub filter: BlockHandle,
    pub properties: BlockHandle,
    pub footer_offset: u64,
}

/// An open table. Immutable, so shared freely across threads behind an `Arc`.
pub struct Table {
    path: PathBuf,
    file_number: u64,
    mmap: Mmap,
    meta: TableMeta,
    footer: Footer,
    data_blocks: usize,
    /// Bit `i` set: data block `i` passed its checksum since this open.
    verified: Box<[AtomicU64]>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("file_number", &self.file_number)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Maps the file and checks footer, index, filter and properties. Data blocks are checked on
    /// first read.
    pub fn open(path: &Path, file_number: u64) -> Result<Arc<Table>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < FOOTER_SIZE as u64 {
            return Err(Error::corruption(
                path,
                0,
                format!("file of {len} bytes is too short to be a table"),
            ));
        }
        // SAFETY: a table file is never modified once `TableBuilder::finish` has returned: the
        // engine only creates (create_new), reads and deletes tables, and deleting an open file
        // leaves the mapping valid. Another process truncating the file behind our back would make
        // reads fault, as with any mmap; the data directory lock keeps other engines out.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let (footer, props) =
            check_layout(&mmap).map_err(|c| Error::corruption(path, c.offset, c.reason))?;
        let data_blocks = usize::try_from(props.data_blocks).map_err(|_| {
            Error::corruption(path, footer.properties.offset, "data block count overflows")
        })?;
        let verified = (0..data_blocks.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Ok(Arc::new(Table {
            path: path.to_path_buf(),
            file_number,
            mmap,
            meta: props.meta,
            footer,
            data_blocks,
            verified,
        }))
    }

    pub fn meta(&self) -> &TableMeta {
        &self.meta
    }

    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn layout(&self) -> TableLayout {
        TableLayout {
            index: self.footer.index,
            filter: self.footer.filter,
            properties: self.footer.properties,
            footer_offset: self.mmap.len() as u64 - FOOTER_SIZE as u64,
        }
    }

    /// The bloom probe: `false` means no version of the key is in this table.
    #[inline]
    pub fn may_contain(&self, key_hash: u64) -> bool {
        bloom::may_contain(self.filter(), key_hash)
    }

    /// The newest version of `key` with seqno <= `max_seqno`, or `None`. Does not consult the bloom
    /// filter: the caller probes it first with a hash computed once for all tables.
    #[inline]
    pub fn get(&self, key: &[u8], max_seqno: SeqNo) -> Result<Option<Found<'_>>> {
        if key < self.meta.smallest_key.as_slice() || key > self.meta.largest_key.as_slice() {
            return Ok(None);
        }
        self.get_in_blocks(key, max_seqno)
            .map_err(|c| self.corruption(c))
    }

    fn get_in_blocks(&self, key: &[u8], max_seqno: SeqNo) -> Result<Option<Found<'_>>, Corrupt> {
        let Some((i, index_entry)) = self.index()?.seek(key, max_seqno)? else {
            return Ok(None);
        };
        let block = self.data_block(i, index_entry.handle)?;
        Ok(block.get(key, max_seqno)?.map(|e| Found {
            seqno: e.seqno,
            kind: e.kind,
            expires_at: e.expires_at,
            value: e.value,
        }))
    }

    /// An iterator at the first version in the table.
    pub fn iter(self: &Arc<Self>) -> Result<TableIter> {
        TableIter::new(Arc::clone(self))
    }

    /// An iterator at the first version whose key is >= `key`.
    pub fn iter_from(self: &Arc<Self>, key: &[u8]) -> Result<TableIter> {
        let mut it = TableIter::unpositioned(Arc::clone(self));
        it.seek(key)?;
        Ok(it)
    }

    /// Scrubs the whole file: rechecks footer, index, filter and properties, then checksums and
    /// decodes every data block (checking entry order across the table and the entry count).
    pub fn verify(&self) -> Result<()> {
        check_layout(&self.mmap).map_err(|c| self.corruption(c))?;
        let index = self.index().map_err(|c| self.corruption(c))?;
        index
            .check_entries(self.footer.index.offset)
            .map_err(|c| self.corruption(c))?;
        let mut prev = None;
        let mut entries = 0u64;
        for i in 0..self.data_blocks {
            let handle = self.block_handle(i).map_err(|c| self.corruption(c))?;
            let payload = checked_block(
                &self.mmap,
                handle,
                self.footer.index.offset,
                BlockType::Data,
            )
            .map_err(|c| self.corruption(c))?;
            self.mark_verified(i);
            let block = Block::parse(payload, handle.offset).map_err(|c| self.corruption(c))?;
            entries += block
                .check_entries(&mut prev)
                .map_err(|c| self.corruption(c))? as u64;
        }
        if entries != self.meta.entries {
            return Err(Error::corruption(
                &self.path,
                self.footer.properties.offset,
                format!(
                    "properties count {} entries but the data blocks hold {entries}",
                    self.meta.entries
                ),
            ));
        }
        Ok(())
    }

    /// Handles of every data block, in order.
    pub fn data_block_handles(&self) -> Result<Vec<BlockHandle>> {
        (0..self.data_blocks)
            .map(|i| self.block_handle(i).map_err(|c| self.corruption(c)))
            .collect()
    }

    pub(crate) fn data_block_count(&self) -> usize {
        self.data_blocks
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.mmap
    }

    pub(crate) fn corruption(&self, c: Corrupt) -> Error {
        Error::corruption(&self.path, c.offset, c.reason)
    }

    fn filter(&self) -> &[u8] {
        // Checked at open; an unreadable filter would only mean "maybe" for every key.
        block_payload(
            &self.mmap,
            self.footer.filter,
            self.footer.properties.offset,
        )
        .unwrap_or_default()
    }

    #[inline]
    pub(crate) fn index(&self) -> Result<Index<'_>, Corrupt> {
        let payload = block_payload(&self.mmap, self.footer.index, self.footer.filter.offset)?;
        Index::parse(payload, self.footer.index.offset)
    }

    pub(crate) fn block_handle(&self, i: usize) -> Result<BlockHandle, Corrupt> {
        Ok(self.index()?.entry(i)?.handle)
    }

    /// Data block `i`, checksummed if this is its first use since open.
    #[inline]
    pub(crate) fn data_block(&self, i: usize, handle: BlockHandle) -> Result<Block<'_>, Corrupt> {
        let limit = self.footer.index.offset;
        let payload = if self.is_verified(i) {
            block_payload(&self.mmap, handle, limit)?
        } else {
            let payload = checked_block(&self.mmap, handle, limit, BlockType::Data)?;
            self.mark_verified(i);
            payload
        };
        Block::parse(payload, handle.offset)
    }

    #[inline]
    fn is_verified(&self, i: usize) -> bool {
        // Relaxed suffices: the bit caches a pure function of immutable bytes, so a thread that
        // misses another's store merely checksums the block once more.
        self.verified
            .get(i / 64)
            .is_some_and(|w| w.load(AtomicOrdering::Relaxed) & (1 << (i % 64)) != 0)
    }

    fn mark_verified(&self, i: usize) {
        if let Some(w) = self.verified.get(i / 64) {
            w.fetch_or(1 << (i % 64), AtomicOrdering::Relaxed);
        }
    }
}

/// Checks everything `open` promises about a mapped file: footer, tiling, metadata checksums, and
/// agreement between properties, index and file.
fn check_layout(file: &[u8]) -> Result<(Footer, Properties), Corrupt> {
    let len = file.len() as u64;
    let footer_offset = len
        .checked_sub(FOOTER_SIZE as u64)
        .ok_or(Corrupt::at(0, "file too short to be a table"))?;
    let footer = Footer::decode(
        file.get(footer_offset as usize..).unwrap_or_default(),
        footer_offset,
    )?;

    let tiles = footer.index.offset > 0
        && footer.index.end_with_trailer() == Some(footer.filter.offset)
        && footer.filter.end_with_trailer() == Some(footer.properties.offset)
        && footer.properties.end_with_trailer() == Some(footer_offset);
    if !tiles {
        return Err(Corrupt::at(
            footer_offset,
            "footer block handles do not tile the file",
        ));
    }

    let index_payload = checked_block(file, footer.index, footer.filter.offset, BlockType::Index)?;
    checked_block(
        file,
        footer.filter,
        footer.properties.offset,
        BlockType::Filter,
    )?;
    let props_payload = checked_block(
        file,
        footer.properties,
        footer_offset,
        BlockType::Properties,
    )?;
    let props = Properties::decode(props_payload, footer.properties.offset)?;
    if props.meta.file_size != len {
        return Err(Corrupt::at(
            footer.properties.offset,
            "properties record a different file size",
        ));
    }

    let index = Index::parse(index_payload, footer.index.offset)?;
    if index.len() as u64 != props.data_blocks {
        return Err(Corrupt::at(
            footer.index.offset,
            "index entry count differs from the properties' block count",
        ));
    }
    // The first block starts the file and the last one ends where the index begins (the scrub
    // checks the blocks in between).
    let first = index.entry(0)?;
    let last = index.entry(index.len() - 1)?;
    if first.handle.offset != 0 || last.handle.end_with_trailer() != Some(footer.index.offset) {
        return Err(Corrupt::at(
            footer.index.offset,
            "index does not cover the data region",
        ));
    }
    // The reader's range check before a lookup trusts the properties' largest key, so it must be
    // the index's last key.
    let largest = &props.meta.largest_key;
    if largest.get(..index.common().len()) != Some(index.common())
        || largest.get(index.common().len()..) != Some(last.suffix)
    {
        return Err(Corrupt::at(
            footer.index.offset,
            "index's last key differs from the properties' largest key",
        ));
    }
    Ok((footer, props))
}
