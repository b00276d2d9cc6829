//! The answer of a read whose replicas agree, written as the client's GET reply, from the stored bytes.
//!
//! When a coordinator's copy and a replica's agree byte for byte, the answer is read straight from the
//! coordinator's stored bytes (`readAnswer` in src/versioning/codec.ts) and encoded as the reply
//! (`encodeGetReply` in src/cluster/messages.ts). In JavaScript that is a reader, an object per value, a
//! sort, a base64url string and a writer: about a microsecond per read. Here it is one pass over the bytes
//! into the caller's buffer (the binding's `getReplyInto`).
//!
//! The reply, as `encodeGetReply` writes it (big-endian): `u8 0` (ok), `u8 found`, `u32 count`, per value
//! `u32 length | bytes | u64 timestamp | u64 expiresAt` (newest first when there are several, stable), then
//! the client context as a string: `u32 length | base64url without padding` of the bytes before the
//! envelope's sibling list.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::{Envelope, LiveValue};

/// The reply's bytes for `values` and the context `context` (its raw bytes, before base64).
fn reply_len(values: &[LiveValue<'_>], context: &[u8]) -> usize {
    let fixed = 1 + 1 + 4 + 4 + base64::encoded_len(context.len(), false).unwrap_or(usize::MAX);
    values
        .iter()
        .fold(fixed, |n, v| n.saturating_add(4 + v.value.len() + 16))
}

fn put_u32(out: &mut [u8], at: &mut usize, v: u32) {
    out[*at..*at + 4].copy_from_slice(&v.to_be_bytes());
    *at += 4;
}

fn put_u64(out: &mut [u8], at: &mut usize, v: u64) {
    out[*at..*at + 8].copy_from_slice(&v.to_be_bytes());
    *at += 8;
}

/// Writes the reply into `out`, which holds exactly `reply_len` bytes.
fn write_reply(out: &mut [u8], values: &[LiveValue<'_>], context: &[u8]) -> Option<()> {
    let mut at = 0;
    out[0] = 0;
    out[1] = u8::from(!values.is_empty());
    at += 2;
    put_u32(out, &mut at, u32::try_from(values.len()).ok()?);
    for v in values {
        put_u32(out, &mut at, u32::try_from(v.value.len()).ok()?);
        out[at..at + v.value.len()].copy_from_slice(v.value);
        at += v.value.len();
        put_u64(out, &mut at, v.timestamp);
        put_u64(out, &mut at, v.expires_at);
    }
    let text_len = out.len() - at - 4;
    put_u32(out, &mut at, u32::try_from(text_len).ok()?);
    let written = URL_SAFE_NO_PAD.encode_slice(context, &mut out[at..]).ok()?;
    debug_assert_eq!(at + written, out.len());
    Some(())
}

/// The GET reply of `envelope` read at `now` (milliseconds since the epoch): its length, or `None`
/// when these bytes are left to the caller (they do not parse, an actor is not ASCII, a field is
/// beyond 4 GiB). `place` gets the length and returns where to write the reply (`None`: nowhere,
/// the caller's buffer is too small).
pub fn get_reply<'o>(
    envelope: &[u8],
    now: f64,
    place: impl FnOnce(usize) -> Option<&'o mut [u8]>,
) -> Option<usize> {
    let parsed = Envelope::parse(envelope)?;
    let mut values = parsed.live_values(now);
    if values.len() > 1 {
        // Newest first; stable, as Array.prototype.sort is.
        values.sort_by_key(|v| std::cmp::Reverse(v.timestamp));
    }
    let context = &envelope[..parsed.context_end];
    let n = reply_len(&values, context);
    if u32::try_from(n).is_err() {
        return None;
    }
    if let Some(out) = place(n) {
        write_reply(&mut out[..n], &values, context)?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 128 {
            out.push((v % 128) as u8 | 128);
            v /= 128;
        }
        out.push(v as u8);
    }

    /// (actor index, counter, timestamp, expiresAt, value); a tombstone has no value.
    type SiblingSpec<'a> = (u64, u64, u64, u64, Option<&'a [u8]>);

    /// Two actors and `siblings`; also where the context block ends.
    fn envelope(siblings: &[SiblingSpec<'_>]) -> (Vec<u8>, usize) {
        let mut out = vec![1u8];
        varint(&mut out, 2);
        for (name, counter) in [("n1#1/0", 5u64), ("n2#1/0", 5)] {
            varint(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
            varint(&mut out, counter);
        }
        let context_end = out.len();
        varint(&mut out, siblings.len() as u64);
        for &(actor, counter, timestamp, expires_at, value) in siblings {
            for v in [actor, counter, timestamp, expires_at] {
                varint(&mut out, v);
            }
            match value {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    varint(&mut out, v.len() as u64);
                    out.extend_from_slice(v);
                }
            }
        }
        (out, context_end)
    }

    fn reply(envelope: &[u8], now: f64) -> Option<Vec<u8>> {
        let mut out = vec![0u8; 4096];
        let n = get_reply(envelope, now, |n| Some(&mut out[..n]))?;
        out.truncate(n);
        Some(out)
    }

    #[test]
    fn values_newest_first_then_the_context() {
        let (bytes, context_end) = envelope(&[
            (0, 4, 100, 0, Some(b"older")),
            (1, 2, 200, 0, Some(b"newer")),
            (1, 5, 300, 0, None),
        ]);
        let got = reply(&bytes, 1000.0).expect("decided");
        let mut want = vec![0u8, 1, 0, 0, 0, 2];
        for (value, timestamp) in [(&b"newer"[..], 200u64), (&b"older"[..], 100)] {
            want.extend_from_slice(&(value.len() as u32).to_be_bytes());
            want.extend_from_slice(value);
            want.extend_from_slice(&timestamp.to_be_bytes());
            want.extend_from_slice(&0u64.to_be_bytes());
        }
        let context = URL_SAFE_NO_PAD.encode(&bytes[..context_end]);
        want.extend_from_slice(&(context.len() as u32).to_be_bytes());
        want.extend_from_slice(context.as_bytes());
        assert_eq!(got, want);
    }

    #[test]
    fn nothing_live_is_not_found_with_the_context() {
        let (bytes, _) = envelope(&[(0, 1, 10, 50, Some(b"expired")), (1, 1, 20, 0, None)]);
        let got = reply(&bytes, 50.0).expect("decided");
        assert_eq!(&got[..6], &[0, 0, 0, 0, 0, 0]);
        assert!(got.len() > 10, "the context is still there");
    }

    #[test]
    fn a_short_buffer_gets_the_length_and_is_left_alone() {
        let (bytes, _) = envelope(&[(0, 1, 10, 0, Some(b"value"))]);
        let full = reply(&bytes, 0.0).expect("decided");
        let mut small = vec![7u8; full.len() - 1];
        let n = get_reply(&bytes, 0.0, |n| (n <= small.len()).then(|| &mut small[..n]))
            .expect("decided");
        assert_eq!(n, full.len());
        assert!(small.iter().all(|&b| b == 7));
    }

    #[test]
    fn bytes_that_do_not_parse_are_left_to_the_caller() {
        let (mut bytes, _) = envelope(&[(0, 1, 10, 0, Some(b"value"))]);
        bytes.push(0);
        assert_eq!(reply(&bytes, 0.0), None);
        assert_eq!(reply(&[], 0.0), None);
        assert_eq!(reply(&[2], 0.0), None);
    }
}
