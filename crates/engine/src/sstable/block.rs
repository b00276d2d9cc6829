//! Data blocks: prefix-compressed versions with restart points, LevelDB style.
//!
//! A block payload is `num_restarts[u32 LE] restart[u32 LE]* entry*`. Each entry stores how many
//! leading key bytes it shares with the previous entry and only the rest; every `restart_interval`
//! entries the sharing stops (a restart point), and the restart array holds those entries' offsets
//! (from the first entry) so a lookup binary-searches the restarts and then scans at most one
//! interval. Entry layout:
//!
//! ```text
//! shared varint | unshared varint | value_len varint | seqno varint | kind u8 | expires_at varint
//! | key[shared..] (unshared bytes) | value (value_len bytes)
//! ```
//!
//! The restart array comes first (LevelDB puts it last) so that a lookup's first touch of a cold
//! block, the restart count, lands on the same cache line and page as the first entries: on a
//! large table every page a lookup touches is a TLB miss, the dominant cost of a point read.
//!
//! Everything here reads bytes that came from disk: each access is bounds-checked and a bad block
//! gives a `Corrupt` naming the file offset of the bad entry, never a panic.

use std::cmp::Ordering;

use crate::types::{compare_versions, SeqNo, ValueKind};

use super::format::{get_varint, put_varint, read_u32, Corrupt};

/// Restart offsets are u32, so a block payload must stay below 4 GiB.
pub(crate) const MAX_BLOCK_PAYLOAD: usize = u32::MAX as usize;
/// The most header bytes one entry can take: five varints of at most 10 bytes and the kind.
const MAX_ENTRY_HEADER: usize = 5 * 10 + 1;

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Accumulates one block's entries in memory.
pub(crate) struct BlockBuilder {
    /// The entries.
    buf: Vec<u8>,
    /// The restart count and array, filled by `finish`.
    header: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    since_restart: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    pub(crate) fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            buf: Vec::new(),
            header: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            since_restart: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The payload size if the block were finished now.
    pub(crate) fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * (self.restarts.len() + 1)
    }

    /// Whether an entry of this size still fits under the 4 GiB payload limit (counting a possible
    /// new restart point).
    pub(crate) fn has_room_for(&self, key_len: usize, value_len: usize) -> bool {
        let worst = self
            .size_estimate()
            .saturating_add(MAX_ENTRY_HEADER + 4)
            .saturating_add(key_len)
            .saturating_add(value_len);
        worst <= MAX_BLOCK_PAYLOAD
    }

    /// Whether an entry of this size fits even in an empty block.
    pub(crate) fn fits_alone(key_len: usize, value_len: usize) -> bool {
        BlockBuilder::new(1).has_room_for(key_len, value_len)
    }

    /// Appends an entry. Order and size are the caller's to check (`has_room_for`).
    pub(crate) fn add(
        &mut self,
        key: &[u8],
        seqno: SeqNo,
        kind: ValueKind,
        expires_at: u64,
        value: &[u8],
    ) {
        let shared = if self.entries > 0 && self.since_restart < self.restart_interval {
            common_prefix(&self.last_key, key)
        } else {
            debug_assert!(self.buf.len() <= MAX_BLOCK_PAYLOAD);
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
            0
        };
        let delta = key.get(shared..).unwrap_or_default();
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, delta.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        put_varint(&mut self.buf, seqno);
        self.buf.push(kind as u8);
        put_varint(&mut self.buf, expires_at);
        self.buf.extend_from_slice(delta);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(delta);
        self.since_restart += 1;
        self.entries += 1;
    }

    /// The finished payload as two parts, restart header then entries (written back to back, so
    /// the entries are not copied). Call `reset` before reusing the builder.
    pub(crate) fn finish(&mut self) -> [&[u8]; 2] {
        self.header.clear();
        self.header
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        for r in &self.restarts {
            self.header.extend_from_slice(&r.to_le_bytes());
        }
        [&self.header, &self.buf]
    }

    pub(crate) fn reset(&mut self) {
        self.header.clear();
        self.buf.clear();
        self.restarts.clear();
        self.since_restart = 0;
        self.last_key.clear();
        self.entries = 0;
    }
}

/// One decoded entry, borrowing from the block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawEntry<'a> {
    pub shared: usize,
    /// The key bytes after the shared prefix: the whole key at a restart point.
    pub key_delta: &'a [u8],
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub value: &'a [u8],
    /// Offset of the value within the block payload.
    pub value_offset: usize,
    /// Position of the next entry (counted from the first entry).
    pub next: usize,
}

/// A read-only view of a block payload (trailer excluded) lying at file offset `offset`. Entry
/// positions (`pos`, `RawEntry::next`) count from the first entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block<'a> {
    restarts: &'a [u8],
    entries: &'a [u8],
    num_restarts: usize,
    /// File offset of the payload.
    offset: u64,
    /// Payload offset of the first entry: the restart header's length.
    entries_start: usize,
}

impl<'a> Block<'a> {
    /// Reads the restart count and locates the restart array; the entries are decoded lazily.
    #[inline]
    pub(crate) fn parse(data: &'a [u8], offset: u64) -> Result<Block<'a>, Corrupt> {
        let num_restarts = read_u32(data, 0)
            .ok_or(Corrupt::at(offset, "block too short for a restart count"))?
            as usize;
        if num_restarts == 0 {
            return Err(Corrupt::at(offset, "block has no restart points"));
        }
        let entries_start = 4 + 4 * num_restarts;
        let restarts = data
            .get(4..entries_start)
            .ok_or(Corrupt::at(offset, "restart array does not fit the block"))?;
        let entries = data.get(entries_start..).unwrap_or_default();
        Ok(Block {
            restarts,
            entries,
            num_restarts,
            offset,
            entries_start,
        })
    }

    #[cfg(test)]
    pub(crate) fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// File offset of the payload.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    fn corrupt(&self, pos: usize, reason: &'static str) -> Corrupt {
        Corrupt::at(self.offset + (self.entries_start + pos) as u64, reason)
    }

    /// The position of restart point `i`.
    #[inline]
    fn restart_point(&self, i: usize) -> Result<usize, Corrupt> {
        match read_u32(self.restarts, 4 * i) {
            Some(r) if (r as usize) < self.entries.len() => Ok(r as usize),
            _ => Err(Corrupt::at(
                self.offset + 4 + 4 * i as u64,
                "restart point outside the block's entries",
            )),
        }
    }

    /// Decodes the entry at `pos`.
    #[inline]
    pub(crate) fn decode_at(&self, pos: usize) -> Result<RawEntry<'a>, Corrupt> {
        let entries = self.entries;
        let bad = |reason| self.corrupt(pos, reason);
        let truncated = bad("entry header runs past the block");
        let (shared, p) = get_varint(entries, pos).ok_or(truncated)?;
        let (unshared, p) = get_varint(entries, p).ok_or(truncated)?;
        let (value_len, p) = get_varint(entries, p).ok_or(truncated)?;
        let (seqno, p) = get_varint(entries, p).ok_or(truncated)?;
        let kind = ValueKind::from_u8(*entries.get(p).ok_or(truncated)?)
            .ok_or(bad("unknown value kind"))?;
        let (expires_at, p) = get_varint(entries, p + 1).ok_or(truncated)?;
        let too_long = bad("entry key or value runs past the block");
        let key_end = usize::try_from(unshared)
            .ok()
            .and_then(|n| p.checked_add(n))
            .ok_or(too_long)?;
        let value_end = usize::try_from(value_len)
            .ok()
            .and_then(|n| key_end.checked_add(n))
            .ok_or(too_long)?;
        let key_delta = entries.get(p..key_end).ok_or(too_long)?;
        let value = entries.get(key_end..value_end).ok_or(too_long)?;
        let shared = usize::try_from(shared).map_err(|_| bad("shared key prefix too long"))?;
        Ok(RawEntry {
            shared,
            key_delta,
            seqno,
            kind,
            expires_at,
            value,
            value_offset: self.entries_start + key_end,
            next: value_end,
        })
    }

    /// The entry at restart point `i`, whose key is stored whole.
    #[inline]
    fn restart_entry(&self, i: usize) -> Result<RawEntry<'a>, Corrupt> {
        let pos = self.restart_point(i)?;
        let e = self.decode_at(pos)?;
        if e.shared != 0 {
            return Err(self.corrupt(pos, "entry at a restart point shares a key prefix"));
        }
        Ok(e)
    }

    /// The last restart point whose version sorts before `(key, seqno)`, or 0: a scan from there
    /// meets the first version at or after `(key, seqno)` within one restart interval.
    fn restart_before(&self, key: &[u8], seqno: SeqNo) -> Result<usize, Corrupt> {
        let (mut lo, mut hi) = (0, self.num_restarts - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let e = self.restart_entry(mid)?;
            if compare_versions(e.key_delta, e.seqno, key, seqno) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// The newest version of `key` with seqno <= `max_seqno` in this block, without rebuilding keys
    /// (no allocation): while scanning it tracks how many leading bytes the current key shares
    /// with `key` and how the two compare. An entry sharing more of the previous key than the
    /// previous key shared with `key` compares to `key` exactly as the previous key did.
    pub(crate) fn get(
        &self,
        key: &[u8],
        max_seqno: SeqNo,
    ) -> Result<Option<RawEntry<'a>>, Corrupt> {
        let mut pos = self.restart_point(self.restart_before(key, max_seqno)?)?;
        let mut prev_len = 0usize;
        let mut matched = 0usize;
        let mut order = Ordering::Less;
        while pos < self.entries.len() {
            let e = self.decode_at(pos)?;
            if e.shared > prev_len {
                return Err(self.corrupt(pos, "entry shares more bytes than the previous key has"));
            }
            if e.shared <= matched {
                let rest = key.get(e.shared..).unwrap_or_default();
                let common = common_prefix(e.key_delta, rest);
                matched = e.shared + common;
                order = match (e.key_delta.get(common), rest.get(common)) {
                    (Some(a), Some(b)) => a.cmp(b),
                    (Some(_), None) => Ordering::Greater,
                    (None, Some(_)) => Ordering::Less,
                    (None, None) => Ordering::Equal,
                };
            }
            match order {
                Ordering::Greater => return Ok(None),
                Ordering::Equal if e.seqno <= max_seqno => return Ok(Some(e)),
                _ => {}
            }
            prev_len = e.shared + e.key_delta.len();
            pos = e.next;
        }
        // Ran off the block: only possible when the index separator was a shortened key that lies
        // between this block's last key and the next block's first, so `key` is in neither.
        Ok(None)
    }

    /// Decodes the entry at `pos` and rebuilds its key in `key` (which holds the previous key),
    /// or returns `None` at the end of the block.
    #[inline]
    pub(crate) fn next_entry(
        &self,
        pos: usize,
        key: &mut Vec<u8>,
    ) -> Result<Option<RawEntry<'a>>, Corrupt> {
        if pos >= self.entries.len() {
            return Ok(None);
        }
        let e = self.decode_at(pos)?;
        if e.shared > key.len() {
            return Err(self.corrupt(pos, "entry shares more bytes than the previous key has"));
        }
        key.truncate(e.shared);
        key.extend_from_slice(e.key_delta);
        Ok(Some(e))
    }

    /// Positions on the first version at or after `(target, seqno)`, rebuilding its key in `key`;
    /// `None` when every version in the block sorts before it.
    pub(crate) fn seek(
        &self,
        target: &[u8],
        seqno: SeqNo,
        key: &mut Vec<u8>,
    ) -> Result<Option<RawEntry<'a>>, Corrupt> {
        let mut pos = self.restart_point(self.restart_before(target, seqno)?)?;
        key.clear();
        while let Some(e) = self.next_entry(pos, key)? {
            if compare_versions(key, e.seqno, target, seqno) != Ordering::Less {
                return Ok(Some(e));
            }
            pos = e.next;
        }
        Ok(None)
    }

    /// Decodes every entry, checking prefix sharing, that the restart points are exactly the
    /// entries stored whole at the promised positions, and order (continuing from `prev`, the last
    /// version of the previous block): a scrub of the block's structure. Returns the entry count.
    pub(crate) fn check_entries(
        &self,
        prev: &mut Option<(Vec<u8>, SeqNo)>,
    ) -> Result<usize, Corrupt> {
        let mut key = Vec::new();
        let mut pos = 0;
        let mut count = 0;
        let mut next_restart = 0;
        while let Some(e) = self.next_entry(pos, &mut key)? {
            if next_restart < self.num_restarts && self.restart_point(next_restart)? == pos {
                if e.shared != 0 {
                    return Err(self.corrupt(pos, "entry at a restart point shares a key prefix"));
                }
                next_restart += 1;
            }
            if let Some((pk, ps)) = prev.as_mut() {
                if compare_versions(pk, *ps, &key, e.seqno) != Ordering::Less {
                    return Err(self.corrupt(pos, "entries out of order"));
                }
                pk.clear();
                pk.extend_from_slice(&key);
                *ps = e.seqno;
            } else {
                *prev = Some((key.clone(), e.seqno));
            }
            pos = e.next;
            count += 1;
        }
        if count == 0 || next_restart != self.num_restarts || self.restart_point(0)? != 0 {
            return Err(Corrupt::at(
                self.offset,
                "restart points do not match the block's entries",
            ));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    type Version = (Vec<u8>, SeqNo, ValueKind, u64, Vec<u8>);

    fn build(entries: &[Version], interval: usize) -> Vec<u8> {
        let mut b = BlockBuilder::new(interval);
        for (k, s, kind, x, v) in entries {
            b.add(k, *s, *kind, *x, v);
        }
        b.finish().concat()
    }

    fn versions() -> Vec<Version> {
        let mut out = Vec::new();
        for i in 0u32..50 {
            let key = format!("key{:03}", i * 2).into_bytes();
            for s in (1..=(i % 3 + 1) as u64).rev() {
                let kind = if s % 2 == 0 {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                out.push((
                    key.clone(),
                    s * 10 + i as u64,
                    kind,
                    s,
                    format!("v{i}.{s}").into_bytes(),
                ));
            }
        }
        out
    }

    #[test]
    fn iterates_what_was_added() {
        for interval in [1, 2, 16, 1000] {
            let entries = versions();
            let data = build(&entries, interval);
            let block = Block::parse(&data, 0).unwrap();
            assert_eq!(block.num_restarts(), entries.len().div_ceil(interval));
            assert_eq!(block.check_entries(&mut None).unwrap(), entries.len());
            let mut key = Vec::new();
            let mut pos = 0;
            for (k, s, kind, x, v) in &entries {
                let e = block.next_entry(pos, &mut key).unwrap().unwrap();
                assert_eq!(
                    (&key, e.seqno, e.kind, e.expires_at, e.value),
                    (k, *s, *kind, *x, &v[..])
                );
                assert_eq!(&data[e.value_offset..e.value_offset + v.len()], &v[..]);
                pos = e.next;
            }
            assert!(block.next_entry(pos, &mut key).unwrap().is_none());
        }
    }

    #[test]
    fn get_and_seek_agree_with_a_linear_search() {
        let entries = versions();
        for interval in [1, 3, 16] {
            let data = build(&entries, interval);
            let block = Block::parse(&data, 0).unwrap();
            for i in 0u32..101 {
                let key = format!("key{i:03}").into_bytes();
                for max in [0, 5, 10, 15, 25, 40, 100, u64::MAX] {
                    let want = entries.iter().find(|(k, s, ..)| *k == key && *s <= max);
                    let got = block.get(&key, max).unwrap();
                    assert_eq!(
                        got.map(|e| (e.seqno, e.value)),
                        want.map(|w| (w.1, &w.4[..])),
                        "{key:?} {max}"
                    );
                    let want = entries
                        .iter()
                        .find(|(k, s, ..)| compare_versions(k, *s, &key, max) != Ordering::Less);
                    let mut buf = Vec::new();
                    let got = block.seek(&key, max, &mut buf).unwrap();
                    assert_eq!(
                        got.map(|e| (buf.clone(), e.seqno)),
                        want.map(|w| (w.0.clone(), w.1))
                    );
                }
            }
        }
    }

    #[test]
    fn get_handles_keys_that_are_prefixes_of_each_other() {
        let keys: [&[u8]; 6] = [b"", b"a", b"ab", b"abc", b"abd", b"b"];
        let entries: Vec<Version> = keys
            .iter()
            .map(|k| (k.to_vec(), 1, ValueKind::Put, 0, k.to_vec()))
            .collect();
        let data = build(&entries, 16);
        let block = Block::parse(&data, 0).unwrap();
        for k in keys {
            assert_eq!(block.get(k, 1).unwrap().unwrap().value, k);
        }
        for k in [&b"aa"[..], b"abcd", b"abe", b"ac", b"c", b"\x00"] {
            assert!(block.get(k, 1).unwrap().is_none(), "{k:?}");
        }
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let data = build(&versions(), 4);
        for cut in 0..data.len() {
            if let Ok(block) = Block::parse(&data[..cut], 100) {
                let _ = block.get(b"key010", 50);
                let _ = block.check_entries(&mut None);
            }
        }
        for i in 0..data.len() {
            for bit in [0x01, 0x80] {
                let mut bad = data.clone();
                bad[i] ^= bit;
                if let Ok(block) = Block::parse(&bad, 100) {
                    if let Err(e) = block.get(b"key010", 50) {
                        assert!(e.offset >= 100 && e.offset < 100 + data.len() as u64);
                    }
                    let _ = block.check_entries(&mut None);
                    let mut k = Vec::new();
                    let _ = block.seek(b"key050", u64::MAX, &mut k);
                }
            }
        }
    }
}
