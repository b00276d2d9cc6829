//! ringkv's storage engine: a log-structured merge tree. It knows nothing of napi or the cluster.
//!
//! Module map:
//! - `error`     the one error type, with stable codes
//! - `types`     what a stored version is (key, seqno, kind, expiry, value) and their order
//! - `iter`      the iterator trait every source implements
//! - `wal`       write-ahead log: CRC32C-framed records, group commit, torn-tail recovery
//! - `bloom`     per-table bloom filters over a 64-bit key hash
//! - `sstable`   immutable sorted tables: builder, mmap reader, iterator (format documented there)

pub mod bloom;
pub mod error;
pub mod iter;
pub mod sstable;
pub mod types;

pub use error::{Error, Result};
pub use types::{Entry, SeqNo, ValueKind, NO_EXPIRY};
