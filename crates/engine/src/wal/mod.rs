//! Write-ahead log: every write batch is appended here before it reaches the memtable, so that
//! after a crash the memtable can be rebuilt by replaying the log.
//!
//! # Files
//! The log is a sequence of segment files `dir/{number:06}.log`. The engine starts a new segment
//! (`WalWriter::rotate`) whenever it switches memtables and retires segments once their memtables
//! are flushed (`WalWriter::retire`): a retired segment is deleted, or kept (up to
//! `recycle_log_segments`) for a later rotation to rename and write over from its start, which
//! spares each write(2) fresh page-cache pages and each fdatasync the file's growth. Segment
//! numbers only grow, so their order is the log's order.
//!
//! # Format (version 2; all integers little-endian)
//! ```text
//! segment  := header record* [the previous life of a recycled file]
//! header   := magic "ringkvWL" (8) | version u32 = 2 | number u64 | start_lsn u64
//!             | mask(crc32c(the 28 bytes before))
//! record   := len u32 | payload_crc u32 | header_crc u32 | payload (len bytes)
//!   payload_crc = mask(crc32c(payload))
//!   header_crc  = mask(crc32c(file_offset_of_record u64 | len | payload_crc | segment number u64))
//! mask(c)  := rotate_right(c, 15) + 0xa282ead8 (LevelDB's)
//! ```
//! Version 1 is the same without the segment number in `header_crc`; it is still read (never
//! recycled, as this code writes only version 2).
//! Why two checksums per record rather than LevelDB's one:
//! - The header checksum makes the length trustworthy before it is used, so a damaged length
//!   can never make recovery skip or swallow records, nor allocate beyond the file's size.
//! - It is salted with the record's file offset. After damage, recovery scans every byte offset
//!   for an intact record (see below); the salt means that a record image sitting anywhere but
//!   at the offset it was written for (inside another payload, say) never passes, and the cheap
//!   16-byte check rejects all but ~2^-32 of offsets before any payload is read, which keeps the
//!   scan linear in the file size.
//! - Zero-filled bytes (a file extended by the file system but never written) never parse: a zero
//!   header claims an empty payload, whose checksum `mask(0)` is not zero.
//! - It is salted with the segment's number too, so the records a recycled file holds from its
//!   previous life, past the end of its new ones, never parse either: to replay they read as a
//!   torn tail (RocksDB's recyclable record types carry the log number for the same reason).
//!
//! # LSNs
//! A log sequence number is a byte position in the concatenation of all segments, headers
//! included, counting on across rotations from the `start_lsn` of the first segment. Within a
//! segment, `lsn - header.start_lsn` is a file offset. `append` returns the LSN just after its
//! record; the writer tracks what is appended (in memory), written (handed to the OS: survives a
//! process crash) and synced (fdatasynced: survives a machine crash). The engine's durability
//! modes are built from these: `sync` calls `sync_to` before acknowledging, `interval` calls
//! `sync` on a timer, `none` only `write_out`.
//!
//! # Group commit
//! `sync_to` elects one leader among concurrent callers, which writes out and fdatasyncs
//! everything appended so far while appends carry on; the others wait for a sync that covers
//! their LSN. Any write or fdatasync failure poisons the writer permanently (no fdatasync is ever
//! retried: see `WalWriter`).
//!
//! # Recovery (`replay_segment`)
//! Records are read in order until the end of the file or the first damaged one: a short header,
//! a header checksum mismatch (including a damaged length), a length running past the end of the
//! file, a payload checksum mismatch, or zero-filled bytes. Then every later byte offset is tried
//! as the start of an intact record:
//! - none found: the damage is a torn tail (a crash during an append, or unsynced data lost in a
//!   machine crash). It is dropped and reported in `ReplayOutcome::torn_tail`, not an error.
//! - one found: data that was written after the damage survived, so the damage is not a torn
//!   write but real corruption: `Error::Corruption` with the file and the damaged record's offset.
//!
//! A segment whose header is torn (a crash while it was being created) replays as a torn tail at
//! offset 0 with no records, and so does a recycled file that still has its old header (a crash
//! between the rename and the new header's write; `ReplayOutcome::stale_header` names the old
//! number, whose records the engine checks the manifest no longer needs). Replay never modifies
//! a file.
//!
//! Invariant the engine relies on: `rotate` makes the old segment durable before the new file
//! exists, so only the newest segment can legitimately end early. An older segment must replay to
//! the end of its file or, when it is a recycled file, to exactly the LSN the next segment starts
//! at; anything less is lost acknowledged data, reported as corruption.
//!
//! Limitation: in the `interval` and `none` modes, a machine crash may in principle let the OS
//! write back a later page of unsynced data without an earlier one; recovery then sees a hole
//! followed by intact records and, unable to tell that apart from rot, reports corruption rather
//! than silently dropping the records after the hole.

mod reader;
mod record;
mod writer;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use reader::{replay_segment, ReplayOutcome, TornTail};
pub use record::{SegmentHeader, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
pub use writer::{WalWriter, WRITE_OUT_THRESHOLD};

/// `dir/{number:06}.log`.
pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

/// The numbers of the segment files in `dir`, ascending. Only names `segment_path` produces
/// count; anything else in the directory (other engine files, `*.log.tmp`) is ignored.
pub fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Some(number) = parse_segment_file_name(Path::new(&entry.file_name())) else {
            continue;
        };
        if entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_dir()
        {
            continue;
        }
        numbers.push(number);
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// The segment number a path's file name stands for, if it is exactly a name `segment_path`
/// produces ("1.log" and "0000001.log" are not: they would alias "000001.log").
pub(crate) fn parse_segment_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".log")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    (format!("{number:06}") == digits).then_some(number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn segment_paths_are_zero_padded_and_round_trip() {
        let dir = Path::new("/data");
        assert_eq!(segment_path(dir, 7), Path::new("/data/000007.log"));
        assert_eq!(segment_path(dir, 1234567), Path::new("/data/1234567.log"));
        for n in [0, 1, 999_999, 1_000_000, u64::MAX] {
            assert_eq!(parse_segment_file_name(&segment_path(dir, n)), Some(n));
        }
    }

    #[test]
    fn names_that_are_not_segment_names_do_not_parse() {
        for name in [
            "1.log",
            "0000001.log",
            "00000a.log",
            "000001.log.tmp",
            "000001.LOG",
            "+00001.log",
            "LOG",
            ".log",
        ] {
            assert_eq!(parse_segment_file_name(Path::new(name)), None, "{name}");
        }
    }

    #[test]
    fn list_segments_returns_sorted_segment_numbers_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "000010.log",
            "000002.log",
            "1000000.log",
            "000003.log.tmp",
            "MANIFEST",
            "5.log",
            "000001.sst",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("000004.log")).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![2, 10, 1_000_000]);
        assert!(matches!(
            list_segments(&dir.path().join("missing")),
            Err(Error::Io { .. })
        ));
    }
}
