//! ringkv's storage engine: a log-structured merge tree. It knows nothing of napi or the cluster.
//!
//! Module map:
//! - `error`     the one error type, with stable codes
//! - `types`     what a stored version is (key, seqno, kind, expiry, value) and their order
//! - `iter`      the iterator trait every source implements
//! - `fsutil`    durable file primitives: directory fsync, atomic file replacement
//! - `wal`       write-ahead log: CRC32C-framed records, group commit, torn-tail recovery
//! - `bloom`     per-table bloom filters over a 64-bit key hash
//! - `sstable`   immutable sorted tables: builder, mmap reader, iterator (format documented there)
//! - `batch`     write batches and their encoding as one atomic WAL record
//! - `memtable`  recent writes in a concurrent skiplist, every version kept
//! - `huge`      huge-page memory for the memtable's arena
//! - `manifest`  the live file set, rewritten atomically on every change
//! - `version`   one immutable picture of memtables and levels; readers hold it, lock-free
//! - `merge`     merging, level and live-view iterators
//! - `compaction` leveled compaction: a pure policy and a worker
//! - `cache`     row cache for hot keys read from tables
//! - `lock`      the data-directory lock
//! - `hash`, `merkle`  SHA-256 ring positions and Merkle range hashing for the cluster
//! - `options`   options, defaults, validation
//! - `db`        the engine: recovery, write path, reads, cursors, background threads

pub mod batch;
pub mod bloom;
pub mod cache;
pub mod compaction;
pub mod db;
pub mod error;
pub mod fsutil;
pub mod hash;
pub mod huge;
pub mod iter;
pub mod lock;
pub mod manifest;
pub mod memtable;
pub mod merge;
pub mod merkle;
pub mod options;
pub mod sstable;
pub mod types;
pub mod version;
pub mod wal;

pub use db::{Cursor, Db, ScanOptions, Stats};
pub use error::{Error, Result};
pub use options::{Durability, Options};
pub use types::{Entry, SeqNo, ValueKind, NO_EXPIRY};
