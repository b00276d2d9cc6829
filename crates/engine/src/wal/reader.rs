//! Recovery: reads one segment back, telling a torn tail (expected after a crash, dropped) from
//! damage in the middle (corruption, reported). See `wal/mod.rs` for the rules.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::parse_segment_file_name;
use super::record::{
    self, HeaderError, Salt, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use crate::error::{Error, Result};

const READ_BUFFER: usize = 256 * 1024;
/// Window of the resynchronisation scan; one read per window keeps the scan at file-size cost.
const SCAN_WINDOW: usize = 1 << 20;

/// Where and why replay stopped at a damaged tail that nothing intact follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// File offset of the first damaged record (0 when the segment header itself is torn).
    pub offset: u64,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Intact records passed to the callback.
    pub records: u64,
    /// Length of the intact prefix of the file: the segment header and every intact record.
    /// Equals the file length unless there is a torn tail.
    pub valid_bytes: u64,
    pub torn_tail: Option<TornTail>,
    /// The segment header, unless it was torn (a crash while the segment was being created).
    pub header: Option<SegmentHeader>,
    /// Set when the file is a recycled segment whose new header never reached it: the number of
    /// the segment it used to be, whose records it still holds (none of them replayed). Those
    /// must be records nothing needs any more, which only the caller can check.
    pub stale_header: Option<u64>,
}

impl ReplayOutcome {
    /// The LSN just after the last intact record, which is where a log continuing this segment
    /// would start. `None` when the segment header was torn.
    pub fn end_lsn(&self) -> Option<u64> {
        self.header
            .map(|h| h.start_lsn.saturating_add(self.valid_bytes))
    }
}

/// Calls `f` with the payload of each intact record of the segment at `path`, in order.
///
/// A damaged tail with no intact record after it is dropped and described in `torn_tail`. Damage
/// followed by any intact record is `Error::Corruption` naming the file and the offset of the
/// first damaged record; `f` has then already seen the records before it. An error from `f` is
/// returned as it is. The file is never modified.
pub fn replay_segment(
    path: &Path,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<ReplayOutcome> {
    let io = |e| Error::io(path, e);
    let file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let mut outcome = ReplayOutcome {
        records: 0,
        valid_bytes: 0,
        torn_tail: None,
        header: None,
        stale_header: None,
    };

    if file_len < SEGMENT_HEADER_LEN as u64 {
        // No record can follow a header this short, so this is always a torn creation.
        let reason = if file_len == 0 {
            "empty segment file".to_string()
        } else {
            format!("incomplete segment header ({file_len} of {SEGMENT_HEADER_LEN} bytes)")
        };
        outcome.torn_tail = Some(TornTail { offset: 0, reason });
        return Ok(outcome);
    }
    let mut hb = [0u8; SEGMENT_HEADER_LEN];
    reader.read_exact(&mut hb).map_err(io)?;
    let named = parse_segment_file_name(path);
    let salt = match SegmentHeader::decode(&hb) {
        Ok((h, salt)) => {
            match named {
                Some(named) if named != h.number => {
                    // Rotation renames a retired segment file to the new number before it writes
                    // the new header over the old one; a crash in between leaves this. The old
                    // life's records are flushed data and must not replay: an empty segment.
                    if salt != Salt::Offset && h.number < named {
                        outcome.stale_header = Some(h.number);
                        outcome.torn_tail = Some(TornTail {
                            offset: 0,
                            reason: format!(
                                "recycled segment file whose new header was never written (still that of segment {})",
                                h.number
                            ),
                        });
                        return Ok(outcome);
                    }
                    return Err(Error::corruption(
                        path,
                        0,
                        format!(
                            "the segment header is that of segment {}, not of {named}",
                            h.number
                        ),
                    ));
                }
                _ => {}
            }
            outcome.header = Some(h);
            salt
        }
        Err(HeaderError::UnsupportedVersion(v)) => {
            return Err(Error::corruption(
                path,
                0,
                format!("unsupported log format version {v}"),
            ));
        }
        Err(HeaderError::Damaged(reason)) => {
            let mut file = reader.into_inner();
            // Either format may lie behind a damaged header.
            let salts: &[Salt] = match named {
                Some(n) => &[Salt::Segment(n), Salt::Offset],
                None => &[Salt::Offset],
            };
            return damaged(
                path,
                &mut file,
                file_len,
                0,
                salts,
                reason.to_string(),
                outcome,
            );
        }
    };

    let mut offset = SEGMENT_HEADER_LEN as u64;
    let mut payload = Vec::new();
    loop {
        outcome.valid_bytes = offset;
        let left = file_len - offset;
        if left == 0 {
            return Ok(outcome);
        }
        let problem = if left < RECORD_HEADER_LEN as u64 {
            format!("incomplete record header ({left} of {RECORD_HEADER_LEN} bytes)")
        } else {
            let mut hdr = [0u8; RECORD_HEADER_LEN];
            reader.read_exact(&mut hdr).map_err(io)?;
            match record::decode_record_header(salt, offset, &hdr) {
                None if hdr.iter().all(|&b| b == 0) => "zero-filled bytes".to_string(),
                None => "record header checksum mismatch".to_string(),
                Some(h) if u64::from(h.len) > left - RECORD_HEADER_LEN as u64 => format!(
                    "record length {} runs past the end of the file ({} bytes left)",
                    h.len,
                    left - RECORD_HEADER_LEN as u64
                ),
                Some(h) => {
                    // The header checksum vouches for the length, and the file holds that many
                    // bytes, so this allocation is bounded by the file's size.
                    payload.clear();
                    payload.resize(h.len as usize, 0);
                    reader.read_exact(&mut payload).map_err(io)?;
                    if record::payload_checksum(&payload) == h.payload_crc {
                        f(&payload)?;
                        outcome.records += 1;
                        offset += (RECORD_HEADER_LEN as u64) + u64::from(h.len);
                        continue;
                    }
                    "payload checksum mismatch".to_string()
                }
            }
        };
        let mut file = reader.into_inner();
        return damaged(path, &mut file, file_len, offset, &[salt], problem, outcome);
    }
}

/// Decides between a torn tail and corruption for damage found at `at` (0: the segment header),
/// by looking for any intact record starting after it.
fn damaged(
    path: &Path,
    file: &mut File,
    file_len: u64,
    at: u64,
    salts: &[Salt],
    reason: String,
    mut outcome: ReplayOutcome,
) -> Result<ReplayOutcome> {
    let scan_from = if at == 0 {
        SEGMENT_HEADER_LEN as u64
    } else {
        at + 1
    };
    match find_intact_record(path, file, scan_from, file_len, salts)? {
        Some(next) => Err(Error::corruption(
            path,
            at,
            format!("{reason}, yet an intact record follows at offset {next}: damage in the middle of the log"),
        )),
        None => {
            outcome.valid_bytes = at;
            outcome.torn_tail = Some(TornTail { offset: at, reason });
            Ok(outcome)
        }
    }
}

/// The first offset at or after `from` where an intact record starts, trying every byte offset:
/// after damage, lengths cannot be trusted to find record boundaries.
///
/// Costs a length check and at most one small CRC per offset and salt: the header checksum,
/// salted with the offset (and the segment's number), rejects all but about one offset in 2^32
/// before any payload is read, and a record image that is not at the offset it was written for
/// (say inside another record's payload), or that a recycled file kept from its previous life,
/// never passes it. Recycled files make this scan the usual end of a segment's replay: their
/// previous life lies past the new records, and its bytes fail the length check at almost every
/// offset, so the scan costs little more than reading the file.
fn find_intact_record(
    path: &Path,
    file: &mut File,
    from: u64,
    file_len: u64,
    salts: &[Salt],
) -> Result<Option<u64>> {
    let header_len = RECORD_HEADER_LEN as u64;
    let mut window = Vec::new();
    let mut scratch = Vec::new();
    let mut base = from;
    while file_len.saturating_sub(base) >= header_len {
        let n = (file_len - base).min(SCAN_WINDOW as u64) as usize;
        window.resize(n, 0);
        read_exact_at(path, file, base, &mut window)?;
        // Offsets whose whole header lies in this window; the rest start the next window.
        let candidates = n - (RECORD_HEADER_LEN - 1);
        for i in 0..candidates {
            let at = base + i as u64;
            let hdr = &window[i..i + RECORD_HEADER_LEN];
            // Cheap rejections before the CRC. A zero header never starts an intact record (its
            // empty payload's checksum would be mask(0) != 0), and zero-filled tails, the usual
            // torn tail, can be long.
            let len = u64::from(u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]));
            if len > file_len - at - header_len || hdr.iter().all(|&b| b == 0) {
                continue;
            }
            let Some(h) = salts
                .iter()
                .find_map(|&salt| record::decode_record_header(salt, at, hdr))
            else {
                continue;
            };
            if payload_matches(
                path,
                file,
                at + header_len,
                u64::from(h.len),
                h.payload_crc,
                &mut scratch,
            )? {
                return Ok(Some(at));
            }
        }
        base += candidates as u64;
    }
    Ok(None)
}

fn payload_matches(
    path: &Path,
    file: &mut File,
    at: u64,
    len: u64,
    expected: u32,
    buf: &mut Vec<u8>,
) -> Result<bool> {
    let mut crc = 0u32;
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(SCAN_WINDOW as u64) as usize;
        buf.resize(n, 0);
        read_exact_at(path, file, at + done, buf)?;
        crc = crc32c::crc32c_append(crc, buf);
        done += n as u64;
    }
    Ok(record::mask(crc) == expected)
}

fn read_exact_at(path: &Path, file: &mut File, at: u64, buf: &mut [u8]) -> Result<()> {
    file.seek(SeekFrom::Start(at))
        .map_err(|e| Error::io(path, e))?;
    file.read_exact(buf).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::wal::{segment_path, WalWriter};

    fn replay(path: &Path) -> Result<(Vec<Vec<u8>>, ReplayOutcome)> {
        let mut got = Vec::new();
        let o = replay_segment(path, |p| {
            got.push(p.to_vec());
            Ok(())
        })?;
        Ok((got, o))
    }

    fn write_log(dir: &Path, number: u64, payloads: &[&[u8]]) -> (std::path::PathBuf, Vec<u64>) {
        let w = WalWriter::create(dir, number, 0).unwrap();
        let ends = payloads.iter().map(|p| w.append(p).unwrap()).collect();
        w.sync().unwrap();
        (segment_path(dir, number), ends)
    }

    #[test]
    fn empty_and_short_files_are_torn_creations() {
        let dir = tempfile::tempdir().unwrap();
        let p = segment_path(dir.path(), 1);
        for len in 0..SEGMENT_HEADER_LEN {
            std::fs::write(&p, vec![0xAB; len]).unwrap();
            let (got, o) = replay(&p).unwrap();
            assert!(got.is_empty());
            assert_eq!((o.records, o.valid_bytes, o.header), (0, 0, None));
            assert_eq!(o.torn_tail.unwrap().offset, 0);
        }
    }

    #[test]
    fn a_segment_with_only_its_header_replays_as_empty_and_clean() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = write_log(dir.path(), 3, &[]);
        let (got, o) = replay(&p).unwrap();
        assert!(got.is_empty());
        assert_eq!(o.valid_bytes, SEGMENT_HEADER_LEN as u64);
        assert_eq!(o.torn_tail, None);
        assert_eq!(
            o.header,
            Some(SegmentHeader {
                number: 3,
                start_lsn: 0
            })
        );
        assert_eq!(o.end_lsn(), Some(SEGMENT_HEADER_LEN as u64));
    }

    #[test]
    fn a_foreign_file_with_nothing_intact_is_a_torn_header_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let p = segment_path(dir.path(), 1);
        std::fs::write(
            &p,
            b"this is not a log segment at all, it is some other text file\n".repeat(50),
        )
        .unwrap();
        let (got, o) = replay(&p).unwrap();
        assert!(got.is_empty());
        assert_eq!(o.torn_tail.map(|t| t.offset), Some(0));
    }

    #[test]
    fn a_damaged_header_followed_by_records_is_corruption_at_offset_0() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = write_log(dir.path(), 1, &[b"a", b"b"]);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[13] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        match replay(&p) {
            Err(Error::Corruption {
                file, offset: 0, ..
            }) => assert_eq!(file, p),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_segment_under_a_lower_number_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = write_log(dir.path(), 2, &[b"a"]);
        let moved = segment_path(dir.path(), 1);
        std::fs::rename(&p, &moved).unwrap();
        assert!(matches!(
            replay(&moved),
            Err(Error::Corruption { offset: 0, .. })
        ));
        // A name that is not a segment name is not checked.
        let other = dir.path().join("copy-of-segment");
        std::fs::rename(&moved, &other).unwrap();
        assert_eq!(replay(&other).unwrap().0, vec![b"a".to_vec()]);
    }

    #[test]
    fn a_segment_under_a_higher_number_is_a_recycled_file_not_yet_begun() {
        // Rotation renamed a retired segment and crashed before its new header reached the disk:
        // the old records are flushed data and must not replay; recovery checks the old number.
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = write_log(dir.path(), 1, &[b"a", b"b"]);
        let moved = segment_path(dir.path(), 2);
        std::fs::rename(&p, &moved).unwrap();
        let (got, o) = replay(&moved).unwrap();
        assert!(got.is_empty());
        assert_eq!((o.records, o.valid_bytes, o.header), (0, 0, None));
        assert_eq!(o.stale_header, Some(1));
        assert_eq!(o.torn_tail.unwrap().offset, 0);
    }

    #[test]
    fn an_unknown_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = write_log(dir.path(), 1, &[b"a"]);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[8..12].copy_from_slice(&9u32.to_le_bytes());
        let crc = record::mask(crc32c::crc32c(&bytes[..28]));
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        match replay(&p) {
            Err(Error::Corruption { reason, .. }) => {
                assert!(reason.contains("version 9"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn callback_errors_stop_replay_and_come_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (p, _) = write_log(dir.path(), 1, &[b"a", b"b", b"c"]);
        let mut seen = 0;
        let r = replay_segment(&p, |_| {
            seen += 1;
            if seen == 2 {
                return Err(Error::InvalidArgument("stop".into()));
            }
            Ok(())
        });
        assert!(matches!(r, Err(Error::InvalidArgument(m)) if m == "stop"));
        assert_eq!(seen, 2);
    }

    #[test]
    fn a_record_image_inside_a_torn_payload_does_not_count_as_intact() {
        // The last record's payload carries a byte-exact copy of a whole segment (a backup stored
        // as a value, say). Torn inside that payload, the log must read as torn, not corrupt.
        let dir = tempfile::tempdir().unwrap();
        let (inner, _) = write_log(
            dir.path(),
            1,
            &[b"embedded one", b"embedded two", &[0u8; 100]],
        );
        let image = std::fs::read(&inner).unwrap();
        let (p, ends) = write_log(dir.path(), 2, &[b"first", &image]);
        let bytes = std::fs::read(&p).unwrap();
        let last_start = ends[0];
        for cut in last_start as usize + 1..bytes.len() {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let (got, o) = replay(&p).unwrap();
            assert_eq!(got, vec![b"first".to_vec()], "cut {cut}");
            assert_eq!(o.torn_tail.map(|t| t.offset), Some(last_start), "cut {cut}");
        }
    }

    #[test]
    fn the_scan_finds_records_across_window_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![0x5Au8; SCAN_WINDOW + 5];
        let (p, ends) = write_log(dir.path(), 1, &[b"a", &big, b"after the big one"]);
        let mut bytes = std::fs::read(&p).unwrap();
        // Damage the big record's payload: the only intact record after it lies past the first
        // scan window.
        bytes[ends[0] as usize + RECORD_HEADER_LEN + 7] ^= 0xFF;
        std::fs::write(&p, &bytes).unwrap();
        match replay(&p) {
            Err(Error::Corruption { offset, reason, .. }) => {
                assert_eq!(offset, ends[0]);
                assert!(reason.contains(&format!("offset {}", ends[1])), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
