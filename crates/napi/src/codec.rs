//! Packing across the boundary. One napi call with one buffer beats one call per key (a call costs
//! ~100 ns plus a conversion per argument), so lists of keys and write batches travel packed:
//!
//! - key list: `count: u32 LE | (len: u32 LE | key)*`
//! - write batch: `count: u32 LE | op*`, op = `kind: u8 (1 put, 2 delete) | expires_at: f64 LE |
//!   key_len: u32 LE | key | value_len: u32 LE | value` (no value for deletes)
//! - entries out (scans, getMany): `(key_len: u32 LE | value_len: u32 LE | key | value)*`, and for
//!   getMany a value_len of 0xFFFFFFFF means "missing" (and no key bytes are repeated there).

use ringkv_engine::batch::WriteBatch;
use ringkv_engine::ValueKind;

use crate::errors::invalid;
use napi::Result;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(invalid(format!(
                "packed {what} is truncated at byte {}",
                self.pos
            ))),
        }
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn f64(&mut self, what: &str) -> Result<f64> {
        let s = self.take(8, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(f64::from_le_bytes(b))
    }
}

pub fn keys(packed: &[u8]) -> Result<Vec<&[u8]>> {
    let mut r = Reader {
        buf: packed,
        pos: 0,
    };
    let count = r.u32("key list")? as usize;
    let mut out = Vec::with_capacity(count.min(packed.len() / 4 + 1));
    for _ in 0..count {
        let len = r.u32("key list")? as usize;
        out.push(r.take(len, "key list")?);
    }
    if r.pos != packed.len() {
        return Err(invalid("packed key list has trailing bytes"));
    }
    Ok(out)
}

pub fn expiry(expires_at: Option<f64>) -> Result<u64> {
    match expires_at {
        None => Ok(0),
        Some(x) if (0.0..=9.007_199_254_740_991e15).contains(&x) => Ok(x as u64),
        Some(x) => Err(invalid(format!(
            "expiresAt must be a non-negative integer of milliseconds, got {x}"
        ))),
    }
}

pub fn batch(packed: &[u8]) -> Result<WriteBatch> {
    let mut r = Reader {
        buf: packed,
        pos: 0,
    };
    let count = r.u32("write batch")? as usize;
    let mut b = WriteBatch::with_capacity(count.min(packed.len() / 13 + 1));
    for i in 0..count {
        let kind = r.take(1, "write batch")?[0];
        let expires_at = expiry(Some(r.f64("write batch")?))?;
        let klen = r.u32("write batch")? as usize;
        let key = r.take(klen, "write batch")?.to_vec();
        match ValueKind::from_u8(kind) {
            Some(ValueKind::Put) => {
                let vlen = r.u32("write batch")? as usize;
                let value = r.take(vlen, "write batch")?.to_vec();
                b.put(key, value, expires_at);
            }
            Some(ValueKind::Delete) => b.delete(key),
            None => {
                return Err(invalid(format!(
                    "write batch op {i} has unknown kind {kind}"
                )))
            }
        }
    }
    if r.pos != packed.len() {
        return Err(invalid("packed write batch has trailing bytes"));
    }
    Ok(b)
}

pub fn push_entry(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}
