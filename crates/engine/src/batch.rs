//! A write batch and its encoding as one WAL record, so a batch is atomic across a crash: it is
//! replayed whole or not at all.
//!
//! Record payload: `base_seqno: u64 LE | count: u32 LE | op*`, each op
//! `kind: u8 | expires_at: u64 LE | key_len: u32 LE | key | value_len: u32 LE | value` (no value for deletes).
//! Op i gets sequence number `base_seqno + i`.

use crate::error::{Error, Result};
use crate::types::{SeqNo, ValueKind, NO_EXPIRY};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOp {
    pub kind: ValueKind,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub expires_at: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<WriteOp>,
    bytes: usize,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        WriteBatch {
            ops: Vec::with_capacity(n),
            bytes: 0,
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>, expires_at: u64) {
        self.bytes += key.len() + value.len() + 17;
        self.ops.push(WriteOp {
            kind: ValueKind::Put,
            key,
            value,
            expires_at,
        });
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.bytes += key.len() + 13;
        self.ops.push(WriteOp {
            kind: ValueKind::Delete,
            key,
            value: Vec::new(),
            expires_at: NO_EXPIRY,
        });
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Approximate encoded size, for memtable accounting.
    pub fn approximate_bytes(&self) -> usize {
        self.bytes + 12
    }

    pub fn encode_into(&self, base_seqno: SeqNo, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.approximate_bytes());
        out.extend_from_slice(&base_seqno.to_le_bytes());
        out.extend_from_slice(&(self.ops.len() as u32).to_le_bytes());
        for op in &self.ops {
            out.push(op.kind as u8);
            out.extend_from_slice(&op.expires_at.to_le_bytes());
            out.extend_from_slice(&(op.key.len() as u32).to_le_bytes());
            out.extend_from_slice(&op.key);
            if op.kind == ValueKind::Put {
                out.extend_from_slice(&(op.value.len() as u32).to_le_bytes());
                out.extend_from_slice(&op.value);
            }
        }
    }
}

/// One decoded operation, borrowing from the record.
pub struct DecodedOp<'a> {
    pub seqno: SeqNo,
    pub kind: ValueKind,
    pub expires_at: u64,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|s| s.first().copied())
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    }
}

/// Decodes a batch record, calling `f` per op. A record that passed its CRC but does not parse is
/// corruption (a bug or a forged file), reported with the caller's file context.
pub fn decode(
    payload: &[u8],
    mut f: impl FnMut(DecodedOp<'_>) -> Result<()>,
) -> Result<(SeqNo, u32)> {
    let bad = |what: &str| Error::InvalidArgument(format!("malformed write batch record: {what}"));
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    let base = r.u64().ok_or_else(|| bad("missing sequence number"))?;
    let count = r.u32().ok_or_else(|| bad("missing count"))?;
    for i in 0..count {
        let kind = r
            .u8()
            .and_then(ValueKind::from_u8)
            .ok_or_else(|| bad("bad op kind"))?;
        let expires_at = r.u64().ok_or_else(|| bad("truncated expiry"))?;
        let klen = r.u32().ok_or_else(|| bad("truncated key length"))? as usize;
        let key = r.take(klen).ok_or_else(|| bad("truncated key"))?;
        let value = if kind == ValueKind::Put {
            let vlen = r.u32().ok_or_else(|| bad("truncated value length"))? as usize;
            r.take(vlen).ok_or_else(|| bad("truncated value"))?
        } else {
            &[]
        };
        f(DecodedOp {
            seqno: base + u64::from(i),
            kind,
            expires_at,
            key,
            value,
        })?;
    }
    if r.pos != payload.len() {
        return Err(bad("trailing bytes"));
    }
    Ok((base, count))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = WriteBatch::new();
        b.put(b"a".to_vec(), b"1".to_vec(), 0);
        b.delete(b"b".to_vec());
        b.put(Vec::new(), vec![7; 300], 99);
        let mut buf = Vec::new();
        b.encode_into(10, &mut buf);
        let mut seen = Vec::new();
        let (base, n) = decode(&buf, |op| {
            seen.push((
                op.seqno,
                op.kind,
                op.key.to_vec(),
                op.value.to_vec(),
                op.expires_at,
            ));
            Ok(())
        })
        .unwrap();
        assert_eq!((base, n), (10, 3));
        assert_eq!(seen[1], (11, ValueKind::Delete, b"b".to_vec(), vec![], 0));
        assert_eq!(seen[2].4, 99);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut], |_| Ok(())).is_err());
        }
    }
}
