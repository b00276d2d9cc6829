//! Byte layout of segment headers and records. The format, and why it is shaped this way, is
//! described in the comment at the top of `wal/mod.rs`.

/// Bytes at the start of every segment file, before the first record.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Bytes in front of every record's payload.
pub const RECORD_HEADER_LEN: usize = 12;
/// The largest payload one record can carry (its length field is a `u32`).
pub const MAX_PAYLOAD_LEN: usize = u32::MAX as usize;

pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"ringkvWL";
/// The version this code writes. Version 1 segments (record checksums salted with the offset
/// alone) are still read.
pub(crate) const FORMAT_VERSION: u32 = 2;

const MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's CRC mask. Payloads may themselves contain checksummed data (a batch holding a copy of
/// a log, say); the CRC of a string that embeds its own CRC is degenerate, masking breaks that.
#[inline]
pub(crate) fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

#[inline]
pub(crate) fn payload_checksum(payload: &[u8]) -> u32 {
    mask(crc32c::crc32c(payload))
}

/// What a record header's checksum covers besides the header's own fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Salt {
    /// Format 1: the record's file offset.
    Offset,
    /// Format 2: the segment's number and the record's file offset. A recycled segment file
    /// still holds the records of its previous life past the end of its new ones; salted with
    /// another number, they never validate in the new one.
    Segment(u64),
}

/// The header checksum covers the record's own file offset, so a record image that merely
/// appears somewhere else (inside another record's payload, or left over from other data) never
/// validates there, and (format 2) its segment's number, so neither does one left over from a
/// recycled file's previous life. Recovery's resynchronisation scan depends on both.
#[inline]
fn header_checksum(salt: Salt, offset: u64, fields: &[u8; 8]) -> u32 {
    let mut salted = [0u8; 24];
    salted[..8].copy_from_slice(&offset.to_le_bytes());
    salted[8..16].copy_from_slice(fields);
    let n = match salt {
        Salt::Offset => 16,
        Salt::Segment(number) => {
            salted[16..].copy_from_slice(&number.to_le_bytes());
            24
        }
    };
    mask(crc32c::crc32c(&salted[..n]))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub len: u32,
    pub payload_crc: u32,
}

pub(crate) fn encode_record_header(
    salt: Salt,
    offset: u64,
    len: u32,
    payload_crc: u32,
) -> [u8; RECORD_HEADER_LEN] {
    let mut fields = [0u8; 8];
    fields[..4].copy_from_slice(&len.to_le_bytes());
    fields[4..].copy_from_slice(&payload_crc.to_le_bytes());
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[..8].copy_from_slice(&fields);
    h[8..].copy_from_slice(&header_checksum(salt, offset, &fields).to_le_bytes());
    h
}

/// `None` when `bytes` is shorter than a header or its checksum does not hold at `offset` (and,
/// format 2, in that segment). A header that decodes has a trustworthy length; the payload still
/// needs its own check.
#[inline]
pub(crate) fn decode_record_header(salt: Salt, offset: u64, bytes: &[u8]) -> Option<RecordHeader> {
    let h = bytes.get(..RECORD_HEADER_LEN)?;
    let fields = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]];
    let stored = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if stored != header_checksum(salt, offset, &fields) {
        return None;
    }
    Some(RecordHeader {
        len: u32::from_le_bytes([h[0], h[1], h[2], h[3]]),
        payload_crc: u32::from_le_bytes([h[4], h[5], h[6], h[7]]),
    })
}

/// What the first bytes of a segment file say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment's number, as in its file name.
    pub number: u64,
    /// The LSN of the segment's first byte (its header); a record at file offset `o` ends at LSN
    /// `start_lsn + o + RECORD_HEADER_LEN + len`.
    pub start_lsn: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Torn or rotten bytes: recovery treats it like any other damaged record.
    Damaged(&'static str),
    /// An intact header of a format this code does not read.
    UnsupportedVersion(u32),
}

impl SegmentHeader {
    pub(crate) fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..20].copy_from_slice(&self.number.to_le_bytes());
        b[20..28].copy_from_slice(&self.start_lsn.to_le_bytes());
        let crc = mask(crc32c::crc32c(&b[..28]));
        b[28..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The header, and what the segment's record checksums are salted with (by format version).
    pub(crate) fn decode(
        b: &[u8; SEGMENT_HEADER_LEN],
    ) -> Result<(SegmentHeader, Salt), HeaderError> {
        if b.iter().all(|&x| x == 0) {
            return Err(HeaderError::Damaged("zero-filled segment header"));
        }
        if b[..8] != SEGMENT_MAGIC {
            return Err(HeaderError::Damaged(
                "bad segment magic (not a ringkv log segment, or damaged)",
            ));
        }
        let stored = u32::from_le_bytes([b[28], b[29], b[30], b[31]]);
        if stored != mask(crc32c::crc32c(&b[..28])) {
            return Err(HeaderError::Damaged("segment header checksum mismatch"));
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let number = u64::from_le_bytes([b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19]]);
        let start_lsn =
            u64::from_le_bytes([b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27]]);
        let salt = match version {
            1 => Salt::Offset,
            FORMAT_VERSION => Salt::Segment(number),
            other => return Err(HeaderError::UnsupportedVersion(other)),
        };
        Ok((SegmentHeader { number, start_lsn }, salt))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SEG: Salt = Salt::Segment(7);

    #[test]
    fn record_header_round_trips_only_at_its_own_offset() {
        for salt in [Salt::Offset, SEG] {
            let h = encode_record_header(salt, 4096, 17, 0xdead_beef);
            assert_eq!(
                decode_record_header(salt, 4096, &h),
                Some(RecordHeader {
                    len: 17,
                    payload_crc: 0xdead_beef
                })
            );
            assert_eq!(decode_record_header(salt, 4095, &h), None);
            assert_eq!(decode_record_header(salt, 4097, &h), None);
            assert_eq!(decode_record_header(salt, 4096, &h[..11]), None);
        }
    }

    #[test]
    fn a_record_header_validates_only_in_its_own_segment() {
        // What keeps a recycled file's earlier records from replaying in its new life.
        let h = encode_record_header(Salt::Segment(7), 4096, 17, 0xdead_beef);
        assert!(decode_record_header(Salt::Segment(7), 4096, &h).is_some());
        for other in [
            Salt::Segment(6),
            Salt::Segment(8),
            Salt::Segment(7 << 32),
            Salt::Offset,
        ] {
            assert_eq!(decode_record_header(other, 4096, &h), None, "{other:?}");
        }
    }

    #[test]
    fn every_single_byte_change_of_a_record_header_is_detected() {
        let h = encode_record_header(SEG, 32, 1000, payload_checksum(b"abc"));
        for i in 0..RECORD_HEADER_LEN {
            for x in 1..=255u8 {
                let mut m = h;
                m[i] ^= x;
                assert_eq!(
                    decode_record_header(SEG, 32, &m),
                    None,
                    "byte {i} xor {x:#x}"
                );
            }
        }
    }

    #[test]
    fn zeros_never_form_a_valid_record() {
        // A zero header can only "decode" if its checksum happens to be 0 at that offset, and even
        // then it claims an empty payload whose checksum is not 0: zero-filled tails never parse.
        assert_ne!(payload_checksum(&[]), 0);
        let zeros = [0u8; RECORD_HEADER_LEN];
        for salt in [Salt::Offset, SEG] {
            for offset in 0..200_000u64 {
                if let Some(h) = decode_record_header(salt, offset, &zeros) {
                    assert_ne!(h.payload_crc, payload_checksum(&[]));
                }
            }
        }
    }

    #[test]
    fn mask_is_not_the_identity() {
        let c = crc32c::crc32c(b"hello");
        assert_ne!(mask(c), c);
        assert_ne!(mask(mask(c)), c);
    }

    #[test]
    fn segment_header_round_trips_and_rejects_damage() {
        let h = SegmentHeader {
            number: 42,
            start_lsn: 1 << 40,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok((h, Salt::Segment(42))));
        for i in 0..SEGMENT_HEADER_LEN {
            let mut m = b;
            m[i] ^= 0x10;
            assert!(
                matches!(SegmentHeader::decode(&m), Err(HeaderError::Damaged(_))),
                "byte {i}"
            );
        }
        assert_eq!(
            SegmentHeader::decode(&[0u8; SEGMENT_HEADER_LEN]),
            Err(HeaderError::Damaged("zero-filled segment header"))
        );
    }

    fn with_version(version: u32) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = SegmentHeader {
            number: 1,
            start_lsn: 0,
        }
        .encode();
        b[8..12].copy_from_slice(&version.to_le_bytes());
        let crc = mask(crc32c::crc32c(&b[..28]));
        b[28..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn segment_header_of_another_version_is_refused_not_called_damage() {
        assert_eq!(
            SegmentHeader::decode(&with_version(3)),
            Err(HeaderError::UnsupportedVersion(3))
        );
    }

    #[test]
    fn version_1_segments_are_read_with_offset_salted_records() {
        let (h, salt) = SegmentHeader::decode(&with_version(1)).unwrap();
        assert_eq!((h.number, salt), (1, Salt::Offset));
    }
}
