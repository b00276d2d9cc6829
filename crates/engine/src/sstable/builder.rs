//! Writes a table from versions that arrive in the engine's order.
//!
//! Data blocks are written as they fill; the index, the key hashes for the filter and the table's
//! statistics stay in memory until `finish`. An index entry is emitted only when the first version
//! of the next block arrives, so it can be a short separator between the two blocks rather than
//! the (possibly long) last key.

use std::cmp::Ordering;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::bloom;
use crate::error::{Error, Result};
use crate::types::{compare_versions, SeqNo, ValueKind, NO_EXPIRY};

use super::block::BlockBuilder;
use super::format::{
    trailer, BlockHandle, BlockType, Footer, Properties, BLOCK_TRAILER_SIZE, FOOTER_SIZE,
};
use super::index::IndexBuilder;
use super::{TableMeta, TableOptions};

/// Large enough that small blocks reach the kernel in few writes.
const WRITE_BUFFER: usize = 256 * 1024;

/// Builds one table file. Dropping it before `finish` succeeds removes the partial file.
pub struct TableBuilder {
    out: TableFile,
    opts: TableOptions,
    block: BlockBuilder,
    index: IndexBuilder,
    /// The block written last, waiting for the next version to pick its index separator.
    pending_handle: Option<BlockHandle>,
    data_blocks: u64,
    /// One hash per distinct key, for the filter.
    key_hashes: Vec<u64>,
    last_key: Vec<u8>,
    last_seqno: SeqNo,
    first_key: Vec<u8>,
    entries: u64,
    tombstones: u64,
    min_seqno: SeqNo,
    max_seqno: SeqNo,
    min_expiry: u64,
    raw_key_bytes: u64,
    raw_value_bytes: u64,
    /// Reused for index separators.
    sep_key: Vec<u8>,
    finished: bool,
}

/// The file being written and how much has gone into it.
struct TableFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Bytes handed to the writer so far: the offset of the next block.
    offset: u64,
}

impl TableFile {
    /// Writes a block whose payload is `parts` back to back, and its trailer.
    fn write_block(&mut self, block_type: BlockType, parts: &[&[u8]]) -> Result<BlockHandle> {
        let start = self.offset;
        for part in parts {
            self.write_all(part)?;
        }
        let handle = BlockHandle {
            offset: start,
            size: self.offset - start,
        };
        self.write_all(&trailer(parts, block_type))?;
        Ok(handle)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("table builder already finished".into()))?;
        writer
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| Error::InvalidArgument("table builder already finished".into()))?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))
    }
}

impl TableBuilder {
    /// Creates `path`, which must not exist yet.
    pub fn create(path: &Path, opts: TableOptions) -> Result<TableBuilder> {
        opts.validate()?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(TableBuilder {
            out: TableFile {
                path: path.to_path_buf(),
                writer: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
                offset: 0,
            },
            block: BlockBuilder::new(opts.restart_interval),
            index: IndexBuilder::default(),
            opts,
            pending_handle: None,
            data_blocks: 0,
            key_hashes: Vec::new(),
            last_key: Vec::new(),
            last_seqno: 0,
            first_key: Vec::new(),
            entries: 0,
            tombstones: 0,
            min_seqno: SeqNo::MAX,
            max_seqno: 0,
            min_expiry: NO_EXPIRY,
            raw_key_bytes: 0,
            raw_value_bytes: 0,
            sep_key: Vec::new(),
            finished: false,
        })
    }

    /// Adds a version. Versions must come key ascending, then seqno descending, with no version
    /// repeated; anything else is a caller bug and gives `InvalidArgument`, leaving the builder as
    /// it was. After an I/O error the file is in an unknown state: abandon (or drop) the builder.
    pub fn add(
        &mut self,
        key: &[u8],
        seqno: SeqNo,
        kind: ValueKind,
        expires_at: u64,
        value: &[u8],
    ) -> Result<()> {
        if self.entries > 0
            && compare_versions(key, seqno, &self.last_key, self.last_seqno) != Ordering::Greater
        {
            return Err(Error::InvalidArgument(format!(
                "table entries out of order: key {} seqno {seqno} after key {} seqno {}",
                show_key(key),
                show_key(&self.last_key),
                self.last_seqno
            )));
        }
        if !BlockBuilder::fits_alone(key.len(), value.len()) {
            return Err(Error::InvalidArgument(format!(
                "table entry too large: {} key bytes and {} value bytes",
                key.len(),
                value.len()
            )));
        }
        if !self.block.is_empty() && !self.block.has_room_for(key.len(), value.len()) {
            self.flush_block()?;
        }
        if let Some(handle) = self.pending_handle.take() {
            let sep_seqno = separator(&self.last_key, self.last_seqno, key, &mut self.sep_key);
            self.index.add(&self.sep_key, sep_seqno, handle);
        }
        self.block.add(key, seqno, kind, expires_at, value);

        if self.entries == 0 {
            self.first_key = key.to_vec();
        }
        if self.entries == 0 || key != self.last_key.as_slice() {
            self.key_hashes.push(bloom::key_hash(key));
        }
        self.entries += 1;
        self.tombstones += u64::from(kind == ValueKind::Delete);
        self.min_seqno = self.min_seqno.min(seqno);
        self.max_seqno = self.max_seqno.max(seqno);
        if expires_at != NO_EXPIRY && (self.min_expiry == NO_EXPIRY || expires_at < self.min_expiry)
        {
            self.min_expiry = expires_at;
        }
        self.raw_key_bytes += key.len() as u64;
        self.raw_value_bytes += value.len() as u64;
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.last_seqno = seqno;

        if self.block.size_estimate() >= self.opts.block_size {
            self.flush_block()?;
        }
        Ok(())
    }

    /// The file size if the table were finished now; compaction cuts its output files by this.
    pub fn estimated_size(&self) -> u64 {
        let filter = self.key_hashes.len() * self.opts.bloom_bits_per_key / 8;
        let tail = self.block.size_estimate() + self.index.size_estimate() + filter + FOOTER_SIZE;
        self.out.offset + tail as u64
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the remaining data block, the index, filter and properties blocks and the footer,
    /// then fsyncs the file. The directory entry is not synced here: the caller makes the new file
    /// part of the table set through the manifest, whose commit fsyncs the directory. On failure
    /// (including zero entries, `InvalidArgument`) the partial file is removed.
    pub fn finish(mut self) -> Result<TableMeta> {
        if self.entries == 0 {
            return Err(Error::InvalidArgument(
                "a table needs at least one entry".into(),
            ));
        }
        if !self.block.is_empty() {
            self.flush_block()?;
        }
        if let Some(handle) = self.pending_handle.take() {
            // The last block's index key is its real last version: nothing follows to separate from.
            self.index.add(&self.last_key, self.last_seqno, handle);
        }
        let index_bytes = self.index.finish().ok_or_else(|| {
            Error::InvalidArgument(
                "table index would exceed 4 GiB; cut tables smaller or use larger blocks".into(),
            )
        })?;
        let index = self.out.write_block(BlockType::Index, &[&index_bytes])?;
        let filter_bytes = bloom::build_filter(&self.key_hashes, self.opts.bloom_bits_per_key);
        let filter = self.out.write_block(BlockType::Filter, &[&filter_bytes])?;

        let props_len = Properties::encoded_len(&self.first_key, &self.last_key);
        let file_size = self.out.offset + (props_len + BLOCK_TRAILER_SIZE + FOOTER_SIZE) as u64;
        let props = Properties {
            meta: TableMeta {
                file_size,
                entries: self.entries,
                tombstones: self.tombstones,
                smallest_key: std::mem::take(&mut self.first_key),
                largest_key: self.last_key.clone(),
                min_seqno: self.min_seqno,
                max_seqno: self.max_seqno,
                min_expiry: self.min_expiry,
                raw_key_bytes: self.raw_key_bytes,
                raw_value_bytes: self.raw_value_bytes,
            },
            data_blocks: self.data_blocks,
        };
        let mut props_bytes = Vec::with_capacity(props_len);
        props.encode(&mut props_bytes);
        let properties = self
            .out
            .write_block(BlockType::Properties, &[&props_bytes])?;

        self.out.write_all(
            &Footer {
                index,
                filter,
                properties,
            }
            .encode(),
        )?;
        debug_assert_eq!(self.out.offset, file_size);
        self.out.sync()?;
        self.finished = true;
        Ok(props.meta)
    }

    /// Stops building and removes the partial file.
    pub fn abandon(mut self) -> Result<()> {
        self.finished = true;
        drop(self.out.writer.take());
        fs::remove_file(&self.out.path).map_err(|e| Error::io(&self.out.path, e))
    }

    fn flush_block(&mut self) -> Result<()> {
        let handle = self
            .out
            .write_block(BlockType::Data, &self.block.finish())?;
        self.block.reset();
        self.data_blocks += 1;
        self.pending_handle = Some(handle);
        Ok(())
    }
}

impl Drop for TableBuilder {
    fn drop(&mut self) {
        if !self.finished {
            drop(self.out.writer.take());
            // Best effort: no manifest references the file, so a leftover is garbage, never data.
            let _ = fs::remove_file(&self.out.path);
        }
    }
}

/// Picks the index key for a block whose last version is `(last_key, last_seqno)` and whose
/// successor starts with `next_key`, writing the key into `out` and returning its seqno. The result
/// sorts at or after every version of the block and before every version of the next. When a key
/// strictly between the two is shorter than `last_key`, it is used with seqno `SeqNo::MAX` (the
/// first version of that key in the engine's order); otherwise the last version itself.
fn separator(last_key: &[u8], last_seqno: SeqNo, next_key: &[u8], out: &mut Vec<u8>) -> SeqNo {
    out.clear();
    let p = last_key
        .iter()
        .zip(next_key)
        .take_while(|(a, b)| a == b)
        .count();
    if let (Some(&a), Some(&b)) = (last_key.get(p), next_key.get(p)) {
        if u16::from(a) + 1 < u16::from(b) && p + 1 < last_key.len() {
            out.extend_from_slice(&last_key[..p]);
            out.push(a + 1);
            return SeqNo::MAX;
        }
    }
    out.extend_from_slice(last_key);
    last_seqno
}

/// A key for an error message: escaped, and cut short when long.
fn show_key(key: &[u8]) -> String {
    const SHOWN: usize = 64;
    let head = key.get(..SHOWN).unwrap_or(key);
    let more = if key.len() > SHOWN {
        format!("... ({} bytes)", key.len())
    } else {
        String::new()
    };
    format!("\"{}\"{more}", head.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sep(last: &[u8], seq: SeqNo, next: &[u8]) -> (Vec<u8>, SeqNo) {
        let mut out = Vec::new();
        let s = separator(last, seq, next, &mut out);
        (out, s)
    }

    #[test]
    fn separators_shorten_only_when_a_shorter_key_fits_between() {
        assert_eq!(sep(b"abcdef", 5, b"abzzzz"), (b"abd".to_vec(), SeqNo::MAX));
        assert_eq!(sep(b"apple", 5, b"cherry"), (b"b".to_vec(), SeqNo::MAX));
        // Adjacent bytes, a prefix, the same key, 0xff: nothing shorter fits.
        assert_eq!(sep(b"abc", 5, b"abd"), (b"abc".to_vec(), 5));
        assert_eq!(sep(b"ab", 5, b"abc"), (b"ab".to_vec(), 5));
        assert_eq!(sep(b"ab", 5, b"ab"), (b"ab".to_vec(), 5));
        assert_eq!(sep(b"a\xffz", 5, b"b"), (b"a\xffz".to_vec(), 5));
        assert_eq!(sep(b"", 5, b"a"), (b"".to_vec(), 5));
        // Shortening that would not shorten keeps the real version.
        assert_eq!(sep(b"ab", 5, b"az"), (b"ab".to_vec(), 5));
    }

    #[test]
    fn separators_sit_between_the_blocks() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"abcdef", b"abzzzz"),
            (b"k\x00\x01\x02", b"k\x05"),
            (b"x", b"y"),
            (b"aaaa", b"ab"),
            (b"m1234", b"m2"),
        ];
        for (last, next) in cases {
            let (k, s) = sep(last, 7, next);
            assert_ne!(compare_versions(&k, s, last, 7), Ordering::Less);
            assert_eq!(compare_versions(&k, s, next, SeqNo::MAX), Ordering::Less);
            assert!(k.len() <= last.len());
        }
    }
}
