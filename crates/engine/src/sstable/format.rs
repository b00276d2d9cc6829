//! The encodings the builder writes and the reader checks: varints, block handles, block trailers,
//! the footer and the properties block. The layout itself is documented in `sstable/mod.rs`.

use crate::types::SeqNo;

use super::TableMeta;

/// Every block is followed by a one-byte block type and the CRC32C of payload and type.
pub(crate) const BLOCK_TRAILER_SIZE: usize = 5;
/// The footer's fixed size: six u64 handle fields, format version, checksum, magic.
pub const FOOTER_SIZE: usize = 64;
/// Bumped whenever the layout changes; a reader refuses versions it does not know.
pub const FORMAT_VERSION: u32 = 1;
/// The last eight bytes of every table.
pub const MAGIC: [u8; 8] = *b"RINGKVST";

/// The type byte in a block trailer. It is covered by the checksum, so a handle that points at the
/// wrong kind of block is caught even though that block's own bytes are intact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum BlockType {
    Data = 1,
    Index = 2,
    Filter = 3,
    Properties = 4,
}

/// A decoding failure, located by absolute file offset. The reader adds the file path when it turns
/// this into `Error::Corruption`; keeping the path out lets block code run without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Corrupt {
    pub offset: u64,
    pub reason: &'static str,
}

impl Corrupt {
    pub(crate) fn at(offset: u64, reason: &'static str) -> Corrupt {
        Corrupt { offset, reason }
    }
}

/// Where a block's payload lies: `size` excludes the 5-byte trailer that follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    /// The offset just past the block's trailer, or `None` when that overflows.
    pub fn end_with_trailer(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_SIZE as u64)
    }

    pub(crate) fn encode_varint(&self, out: &mut Vec<u8>) {
        put_varint(out, self.offset);
        put_varint(out, self.size);
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes the LEB128 varint at `pos`: the value and the position after it. `None` when it runs
/// past the end of `buf` or does not fit in a u64.
#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    let first = *buf.get(pos)?;
    if first < 0x80 {
        return Some((u64::from(first), pos + 1));
    }
    let mut result = u64::from(first & 0x7f);
    let mut shift = 7u32;
    let mut p = pos + 1;
    loop {
        let b = *buf.get(p)?;
        p += 1;
        // The tenth byte may only carry the top bit of a u64.
        if shift == 63 && b > 1 {
            return None;
        }
        result |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some((result, p));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

#[inline]
pub(crate) fn read_u32(buf: &[u8], pos: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

#[inline]
pub(crate) fn read_u64(buf: &[u8], pos: usize) -> Option<u64> {
    let bytes: [u8; 8] = buf.get(pos..pos.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

pub(crate) fn block_checksum(payload: &[u8], block_type: BlockType) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(payload), &[block_type as u8])
}

/// The trailer of a payload written as consecutive `parts`.
pub(crate) fn trailer(parts: &[&[u8]], block_type: BlockType) -> [u8; BLOCK_TRAILER_SIZE] {
    let crc = parts
        .iter()
        .fold(0, |crc, part| crc32c::crc32c_append(crc, part));
    let crc = crc32c::crc32c_append(crc, &[block_type as u8]).to_le_bytes();
    [block_type as u8, crc[0], crc[1], crc[2], crc[3]]
}

/// The payload of the block at `handle` in `file`, after checking that it lies below `limit`, that
/// its trailer names `expected` and that the checksum matches.
pub(crate) fn checked_block(
    file: &[u8],
    handle: BlockHandle,
    limit: u64,
    expected: BlockType,
) -> Result<&[u8], Corrupt> {
    let payload = block_payload(file, handle, limit)?;
    let trailer_at = handle.offset + handle.size;
    let bad_trailer = Corrupt::at(trailer_at, "block trailer out of bounds");
    let start = usize::try_from(trailer_at).map_err(|_| bad_trailer)?;
    let ty = *file.get(start).ok_or(bad_trailer)?;
    if ty != expected as u8 {
        return Err(Corrupt::at(
            trailer_at,
            "block trailer names the wrong block type",
        ));
    }
    let stored = read_u32(file, start + 1).ok_or(bad_trailer)?;
    if stored != block_checksum(payload, expected) {
        return Err(Corrupt::at(handle.offset, "block checksum mismatch"));
    }
    Ok(payload)
}

/// The payload of the block at `handle`, after checking only that it and its trailer end at or
/// below `limit` (the checksum is the caller's business).
#[inline]
pub(crate) fn block_payload(
    file: &[u8],
    handle: BlockHandle,
    limit: u64,
) -> Result<&[u8], Corrupt> {
    let out_of_bounds = Corrupt::at(handle.offset, "block handle points outside its region");
    match handle.end_with_trailer() {
        Some(end) if end <= limit => {}
        _ => return Err(out_of_bounds),
    }
    let start = usize::try_from(handle.offset).map_err(|_| out_of_bounds)?;
    let size = usize::try_from(handle.size).map_err(|_| out_of_bounds)?;
    file.get(start..start + size).ok_or(out_of_bounds)
}

/// The fixed-size record at the end of every table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Footer {
    pub index: BlockHandle,
    pub filter: BlockHandle,
    pub properties: BlockHandle,
}

impl Footer {
    pub(crate) fn encode(&self) -> [u8; FOOTER_SIZE] {
        let mut out = [0u8; FOOTER_SIZE];
        let fields = [
            self.index.offset,
            self.index.size,
            self.filter.offset,
            self.filter.size,
            self.properties.offset,
            self.properties.size,
        ];
        for (chunk, v) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out[48..52].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&out[..52]);
        out[52..56].copy_from_slice(&crc.to_le_bytes());
        out[56..64].copy_from_slice(&MAGIC);
        out
    }

    /// Decodes the footer of a file of `file_len` bytes. Checks magic, then the checksum, then the
    /// version (a footer from a newer writer has a valid checksum but a layout we cannot read).
    /// Handles are only decoded here; `Table::open` checks that they tile the file.
    pub(crate) fn decode(buf: &[u8], footer_offset: u64) -> Result<Footer, Corrupt> {
        let field =
            |i: usize| read_u64(buf, i * 8).ok_or(Corrupt::at(footer_offset, "footer truncated"));
        if buf.len() != FOOTER_SIZE {
            return Err(Corrupt::at(footer_offset, "footer truncated"));
        }
        if buf.get(56..64) != Some(&MAGIC[..]) {
            return Err(Corrupt::at(
                footer_offset + 56,
                "bad magic: not a ringkv table, or truncated",
            ));
        }
        let stored = read_u32(buf, 52).ok_or(Corrupt::at(footer_offset, "footer truncated"))?;
        let computed = crc32c::crc32c(buf.get(..52).unwrap_or_default());
        if stored != computed {
            return Err(Corrupt::at(footer_offset + 52, "footer checksum mismatch"));
        }
        if read_u32(buf, 48) != Some(FORMAT_VERSION) {
            return Err(Corrupt::at(
                footer_offset + 48,
                "unsupported table format version",
            ));
        }
        Ok(Footer {
            index: BlockHandle {
                offset: field(0)?,
                size: field(1)?,
            },
            filter: BlockHandle {
                offset: field(2)?,
                size: field(3)?,
            },
            properties: BlockHandle {
                offset: field(4)?,
                size: field(5)?,
            },
        })
    }
}

/// What the properties block holds: the table's meta data and its data-block count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Properties {
    pub meta: TableMeta,
    pub data_blocks: u64,
}

/// Nine u64 fields and two u32 key lengths.
const PROPERTIES_FIXED: usize = 9 * 8 + 2 * 4;

impl Properties {
    pub(crate) fn encoded_len(smallest_key: &[u8], largest_key: &[u8]) -> usize {
        PROPERTIES_FIXED + smallest_key.len() + largest_key.len()
    }

    /// Keys longer than u32::MAX never get here: the builder rejects them.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let m = &self.meta;
        for v in [
            m.file_size,
            m.entries,
            m.tombstones,
            m.min_seqno,
            m.max_seqno,
            m.min_expiry,
            m.raw_key_bytes,
            m.raw_value_bytes,
            self.data_blocks,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for key in [&m.smallest_key, &m.largest_key] {
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
        }
    }

    /// Decodes and sanity-checks a properties payload that starts at file offset `offset`.
    pub(crate) fn decode(buf: &[u8], offset: u64) -> Result<Properties, Corrupt> {
        let truncated = Corrupt::at(offset, "properties block truncated");
        let u64_at = |i: usize| read_u64(buf, i * 8).ok_or(truncated);
        let mut pos = 9 * 8;
        let mut key = || -> Result<Vec<u8>, Corrupt> {
            let len = read_u32(buf, pos).ok_or(truncated)? as usize;
            let bytes = buf.get(pos + 4..pos + 4 + len).ok_or(truncated)?;
            pos += 4 + len;
            Ok(bytes.to_vec())
        };
        let smallest_key = key()?;
        let largest_key = key()?;
        if pos != buf.len() {
            return Err(Corrupt::at(
                offset + pos as u64,
                "trailing bytes after properties",
            ));
        }
        let meta = TableMeta {
            file_size: u64_at(0)?,
            entries: u64_at(1)?,
            tombstones: u64_at(2)?,
            min_seqno: u64_at(3)? as SeqNo,
            max_seqno: u64_at(4)? as SeqNo,
            min_expiry: u64_at(5)?,
            raw_key_bytes: u64_at(6)?,
            raw_value_bytes: u64_at(7)?,
            smallest_key,
            largest_key,
        };
        let data_blocks = u64_at(8)?;
        let insane = |reason| Err(Corrupt::at(offset, reason));
        if meta.entries == 0 || data_blocks == 0 || data_blocks > meta.entries {
            return insane("properties: impossible entry or block count");
        }
        if meta.tombstones > meta.entries || meta.min_seqno > meta.max_seqno {
            return insane("properties: inconsistent counts or sequence numbers");
        }
        if meta.smallest_key > meta.largest_key {
            return insane("properties: smallest key above largest key");
        }
        Ok(Properties { meta, data_blocks })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_garbage() {
        let values = [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX];
        for v in values {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(get_varint(&buf, 0), Some((v, buf.len())));
            assert_eq!(get_varint(&buf[..buf.len() - 1], 0), None);
        }
        // Eleven continuation bytes, and a tenth byte above 1, both overflow a u64.
        assert_eq!(get_varint(&[0xff; 11], 0), None);
        let mut too_big = vec![0xff; 9];
        too_big.push(0x02);
        assert_eq!(get_varint(&too_big, 0), None);
    }

    #[test]
    fn footer_round_trips_and_checks_itself() {
        let footer = Footer {
            index: BlockHandle {
                offset: 100,
                size: 20,
            },
            filter: BlockHandle {
                offset: 125,
                size: 9,
            },
            properties: BlockHandle {
                offset: 139,
                size: 90,
            },
        };
        let bytes = footer.encode();
        assert_eq!(Footer::decode(&bytes, 1000).unwrap(), footer);
        for i in 0..FOOTER_SIZE {
            let mut bad = bytes;
            bad[i] ^= 0x10;
            let err = Footer::decode(&bad, 1000).unwrap_err();
            assert!((1000..1064).contains(&err.offset), "byte {i}: {err:?}");
        }
    }

    #[test]
    fn properties_round_trip() {
        let props = Properties {
            meta: TableMeta {
                file_size: 4096,
                entries: 10,
                tombstones: 2,
                smallest_key: b"a".to_vec(),
                largest_key: b"zz".to_vec(),
                min_seqno: 3,
                max_seqno: 90,
                min_expiry: 17,
                raw_key_bytes: 15,
                raw_value_bytes: 300,
            },
            data_blocks: 2,
        };
        let mut buf = Vec::new();
        props.encode(&mut buf);
        assert_eq!(buf.len(), Properties::encoded_len(b"a", b"zz"));
        assert_eq!(Properties::decode(&buf, 0).unwrap(), props);
        for cut in 0..buf.len() {
            assert!(Properties::decode(&buf[..cut], 0).is_err());
        }
    }
}
