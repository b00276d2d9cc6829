//! The one iterator trait every source (memtable, SSTable, merge) implements, so that the merging
//! iterator, compaction and scans compose them without knowing what they are.
//!
//! An iterator is positioned on a version or exhausted (`valid() == false`). It yields versions in
//! the engine's order (`types::compare_versions`): key ascending, newest first. Accessors may only
//! be called while valid. `next` reports corruption it meets as an error instead of skipping it.

use crate::error::Result;
use crate::types::{SeqNo, ValueKind};

pub trait EntryIter: Send {
    fn valid(&self) -> bool;
    fn key(&self) -> &[u8];
    fn seqno(&self) -> SeqNo;
    fn kind(&self) -> ValueKind;
    fn expires_at(&self) -> u64;
    fn value(&self) -> &[u8];
    fn next(&mut self) -> Result<()>;
}
