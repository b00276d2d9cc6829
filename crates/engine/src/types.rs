//! What one stored version of a key is. Shared by the WAL batch codec, the memtable and SSTables.
//!
//! Versions of a key are ordered newest first: by key ascending, then sequence number descending.
//! The engine keeps only the newest version of a key once no reader can see an older one; readers
//! that started earlier hold the older files and memtables alive through their `Version` snapshot.

use std::cmp::Ordering;

pub type SeqNo = u64;

/// Expiry as milliseconds since the Unix epoch; `NO_EXPIRY` means the value lives until overwritten.
pub const NO_EXPIRY: u64 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueKind {
    Put = 1,
    Delete = 2,
}

impl ValueKind {
    pub fn from_u8(b: u8) -> Option<ValueKind> {
        match b {
            1 => Some(ValueKind::Put),
            2 => Some(ValueKind::Delete),
            _ => None,
        }
    }
}

/// Whether a stored version is visible at `now_ms`: tombstones never are, expired values neither.
#[inline]
pub fn is_live(kind: ValueKind, expires_at: u64, now_ms: u64) -> bool {
    kind == ValueKind::Put && (expires_at == NO_EXPIRY || expires_at > now_ms)
}

/// The engine's order of versions: key ascending, then newest (highest seqno) first.
#[inline]
pub fn compare_versions(a_key: &[u8], a_seq: SeqNo, b_key: &[u8], b_seq: SeqNo) -> Ordering {
    a_key.cmp(b_key).then_with(|| b_seq.cmp(&a_seq))
}

/// An owned version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: Vec<u8>,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
