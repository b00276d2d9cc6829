//! Immutable sorted tables: `TableBuilder` writes one, `Table` reads it through a read-only mmap,
//! `TableIter` walks it. A table holds versions in the engine's order (key ascending, then seqno
//! descending), several versions of a key possibly side by side.
//!
//! # On-disk format, version 1
//!
//! Integers are little-endian unless marked BE; `varint` is unsigned LEB128 (at most 10 bytes).
//! A table is a sequence of blocks, each followed by a 5-byte trailer, then a fixed-size footer:
//!
//! ```text
//! offset 0   data block 0 | trailer
//!            ...
//!            data block n-1 | trailer
//!            index block | trailer          (footer.index)
//!            filter block | trailer         (footer.filter)
//!            properties block | trailer     (footer.properties)
//! len - 64   footer
//! ```
//!
//! The blocks tile the file with no gaps: data blocks from offset 0 up to the index, and each of
//! index, filter and properties starts where the previous one's trailer ends; the footer is the
//! last 64 bytes. A *block handle* `(offset, size)` locates a payload; `size` excludes the trailer.
//!
//! ## Block trailer (5 bytes, after every block)
//!
//! ```text
//! +0  u8   block type: 1 data, 2 index, 3 filter, 4 properties
//! +1  u32  CRC32C of the payload followed by the type byte
//! ```
//!
//! ## Data block payload
//!
//! ```text
//! num_restarts           u32      >= 1
//! restart[num_restarts]  u32      position of every restart entry, counted from the first entry;
//!                                 restart[0] = 0
//! entry*                          prefix-compressed versions, in the engine's order
//! ```
//!
//! Each entry:
//!
//! ```text
//! shared      varint   leading bytes of the key equal to the previous entry's key (0 at a restart)
//! unshared    varint   bytes of key that follow
//! value_len   varint
//! seqno       varint
//! kind        u8       1 put, 2 delete (types::ValueKind)
//! expires_at  varint   ms since the epoch, 0 = never
//! key_delta   [unshared]  key[shared..]
//! value       [value_len]
//! ```
//!
//! Every `restart_interval`-th entry (16 by default) is a restart point and stores its key whole:
//! a lookup binary-searches the restarts, then scans at most one interval. The restart array
//! sits in front of the entries (LevelDB puts it behind them) so that a lookup's first touch of a
//! cold block shares a cache line and page with the first entries. A block is cut once its
//! payload reaches `block_size` (4 KiB by default), so it always holds at least one entry; a
//! block holding a 16 MiB value is simply that big. Payloads stay below 4 GiB.
//!
//! ## Index block payload
//!
//! One entry per data block, entry `i` describing block `i`:
//!
//! ```text
//! n           u32          number of entries = data blocks, >= 1
//! common_len  u32          length of the prefix every entry's key starts with
//! common      [common_len]
//! prefix[n]   u64 BE       key[common_len..common_len + 8] of entry i, zero-padded
//! offset[n]   u32          position of entry i within the entries that follow
//! entries, each:
//!   suffix_len varint, key[common_len..], seqno varint, block offset varint, block size varint
//! ```
//!
//! Entry `i`'s `(key, seqno)` sorts at or after every version in block `i` and before every
//! version in block `i+1`: it is block `i`'s last version, or a shorter key strictly between
//! block `i`'s last key and block `i+1`'s first key with seqno `u64::MAX` (the first possible
//! version of that key). The last block's entry is its real last version. A lookup for
//! `(key, max_seqno)` binary-searches the dense `prefix` array (zero-padded big-endian prefixes
//! order like the keys, so only ties need full keys) and takes the first entry at or after it;
//! that block holds the first version at or after `(key, max_seqno)` if the table has one with
//! that key. Nothing is parsed at open beyond the two counts.
//!
//! ## Filter block payload
//!
//! A bloom filter (`crate::bloom`) over the xxh3-64 hash of every distinct key:
//! `bits[m]` then `k: u8`. Empty when built with 0 bits per key (every probe then answers "maybe").
//!
//! ## Properties block payload (`TableMeta`)
//!
//! ```text
//! +0   u64  file_size          must equal the file's length
//! +8   u64  entries            >= 1
//! +16  u64  tombstones
//! +24  u64  min_seqno
//! +32  u64  max_seqno
//! +40  u64  min_expiry         smallest non-zero expires_at, 0 when none
//! +48  u64  raw_key_bytes      sum of key lengths over all entries
//! +56  u64  raw_value_bytes    sum of value lengths over all entries
//! +64  u64  data_blocks        must equal the index's entry count
//! +72  u32  smallest_key length, then the key
//!      u32  largest_key length, then the key
//! ```
//!
//! ## Footer (64 bytes, at `len - 64`)
//!
//! ```text
//! +0   u64  index offset       +8   u64 index size
//! +16  u64  filter offset      +24  u64 filter size
//! +32  u64  properties offset  +40  u64 properties size
//! +48  u32  format version (1)
//! +52  u32  CRC32C of bytes +0..+52
//! +56  [8]  magic "RINGKVST"
//! ```
//!
//! # Integrity
//!
//! `Table::open` checks the footer (magic, checksum, version), that the handles tile the file, the
//! checksums of index, filter and properties, and that properties and index agree. A data block's
//! checksum is checked the first time the open table reads it; a per-table atomic bitset remembers
//! which blocks passed so hot reads do not checksum again. `Table::verify` rechecks everything.
//! Any failure is `Error::Corruption` naming the file and an offset inside the bad block or field;
//! no input makes the reader panic.

mod block;
mod builder;
mod format;
mod index;
mod iter;
mod reader;

pub use builder::TableBuilder;
pub use format::{BlockHandle, FOOTER_SIZE, FORMAT_VERSION, MAGIC};
pub use iter::TableIter;
pub use reader::{Found, Table, TableLayout};

use crate::error::{Error, Result};
use crate::types::SeqNo;

/// How a table is laid out. Readers need none of it: everything is recorded in the file.
#[derive(Clone, Debug)]
pub struct TableOptions {
    /// Target payload size of a data block. Larger blocks shrink the index; smaller ones make a
    /// point read touch fewer bytes.
    pub block_size: usize,
    /// Entries between restart points: a lookup scans at most this many after its binary search.
    pub restart_interval: usize,
    /// Bloom filter bits per distinct key; 10 gives under 1% false positives, 0 disables the filter.
    pub bloom_bits_per_key: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
        }
    }
}

impl TableOptions {
    pub fn validate(&self) -> Result<()> {
        if self.block_size == 0 {
            return Err(Error::InvalidArgument(
                "block_size must be at least 1 byte".into(),
            ));
        }
        if self.restart_interval == 0 || self.restart_interval > 1024 {
            return Err(Error::InvalidArgument(
                "restart_interval must be between 1 and 1024".into(),
            ));
        }
        if self.bloom_bits_per_key > 64 {
            return Err(Error::InvalidArgument(
                "bloom_bits_per_key must be between 0 and 64".into(),
            ));
        }
        Ok(())
    }
}

/// What the engine knows about a table without reading its data: stored in the properties block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableMeta {
    pub file_size: u64,
    /// Versions stored, tombstones included.
    pub entries: u64,
    pub tombstones: u64,
    pub smallest_key: Vec<u8>,
    pub largest_key: Vec<u8>,
    pub min_seqno: SeqNo,
    pub max_seqno: SeqNo,
    /// Smallest non-zero `expires_at` among the entries, 0 when none expires: lets compaction find
    /// tables holding expired data without reading them.
    pub min_expiry: u64,
    pub raw_key_bytes: u64,
    pub raw_value_bytes: u64,
}
