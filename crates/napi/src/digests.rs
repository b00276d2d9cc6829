//! A replica's answer to a turn's digest reads (REPLICA_DIGESTS), in one call per batch.
//!
//! A coordinator gathers the digest reads of an event-loop turn to one replica into one request
//! (src/node/digest-reads.ts). In TypeScript the replica decoded it into an object per entry, built
//! a storage key, called the engine, copied a digest into a fresh Buffer and compared it, per entry.
//! Here the whole request is answered in one pass: each entry is one engine lookup that digests the
//! stored value in place and, when it differs from the coordinator's, copies the stored bytes
//! straight into the reply.
//!
//! JavaScript signature (from `NativeEngine.digestReader()`):
//! `answerDigests(payload: Uint8Array, maxKeyBytes: number, budgetBytes: number, out: Uint8Array): number`
//! - `-1`: the payload is malformed (or has more entries than a request may): nothing was looked
//!   up; the caller's TypeScript decoder fails it with the precise error;
//! - `n >= 0`: the reply is `n` bytes; when `n <= out.length` it was written to `out[0..n]`.
//!
//! The layout is REPLICA_DIGESTS' (src/cluster/messages.ts), big-endian:
//! - request = `u32 count`, then per entry: `u16 partition | u32 len, key | u8 flag (0 none, 1 some)
//!   [u32 len, digest]`;
//! - reply = `u32 count`, then per entry, in order: `u8 1` same (the stored value has that digest,
//!   or neither side has a value); `u8 0 | u8 flag [u32 len, bytes]` differs, with the stored bytes;
//!   `u8 2` differs, bytes withheld (the reply reached `budgetBytes`: ask for them alone);
//!   `u8 3 | u32 len, code` the entry failed (a key over `maxKeyBytes`, a corrupt table...).

use std::ptr;

use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, Result};
use ringkv_engine::hash::value_digest;
use ringkv_engine::Db;

use crate::engine::DbSlot;
use crate::errors::invalid;
use crate::fastget::{answer, input_bytes, slot_call, slot_function, u8_array, Number};

/// The most entries one request carries (MAX_DIGEST_ENTRIES in src/cluster/messages.ts).
const MAX_DIGEST_ENTRIES: usize = 4096;
/// Storage keys are the key behind its partition (u16 BE): encodeStorageKey in src/storage/store.ts.
const PARTITION_PREFIX_BYTES: usize = 2;

struct Entry<'a> {
    partition: u16,
    key: &'a [u8],
    digest: Option<&'a [u8]>,
}

struct Request<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Request<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len())?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }

    /// Every entry, or `None` for anything `decodeReplicaDigests` refuses.
    fn entries(mut self) -> Option<Vec<Entry<'a>>> {
        let count = usize::try_from(self.u32()?).ok()?;
        if count > MAX_DIGEST_ENTRIES {
            return None;
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let p = self.take(2)?;
            let partition = u16::from_be_bytes([p[0], p[1]]);
            let key = self.bytes()?;
            let digest = match self.take(1)?[0] {
                0 => None,
                1 => Some(self.bytes()?),
                _ => return None,
            };
            entries.push(Entry {
                partition,
                key,
                digest,
            });
        }
        (self.at == self.bytes.len()).then_some(entries)
    }
}

const SAME: u8 = 1;
const DIFFERS: u8 = 0;
const WITHHELD: u8 = 2;
const FAILED: u8 = 3;

/// The reply to `entries`, as the TypeScript handler writes it (see the top of this file). `sent`
/// counts the bytes the way that handler does, for the budget.
fn answer_entries(db: &Db, entries: &[Entry<'_>], max_key_bytes: usize, budget: usize) -> Vec<u8> {
    let mut reply = Vec::with_capacity(4 + 2 * entries.len());
    reply.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    let mut sent = 4usize;
    let mut storage_key = Vec::new();
    for e in entries {
        let failed = |reply: &mut Vec<u8>, sent: &mut usize, code: &str| {
            reply.push(FAILED);
            reply.extend_from_slice(&(code.len() as u32).to_be_bytes());
            reply.extend_from_slice(code.as_bytes());
            *sent += 5 + code.len();
        };
        if e.key.len() > max_key_bytes {
            failed(&mut reply, &mut sent, "ERR_KEY_TOO_LARGE");
            continue;
        }
        storage_key.clear();
        storage_key.extend_from_slice(&e.partition.to_be_bytes());
        storage_key.extend_from_slice(e.key);
        debug_assert_eq!(storage_key.len(), PARTITION_PREFIX_BYTES + e.key.len());
        let mark = reply.len();
        let looked = db.get_with(&storage_key, |stored| {
            if e.digest == Some(&value_digest(stored)[..]) {
                reply.push(SAME);
                sent += 1;
            } else if sent + stored.len() > budget {
                reply.push(WITHHELD);
                sent += 1;
            } else {
                reply.extend_from_slice(&[DIFFERS, 1]);
                reply.extend_from_slice(&(stored.len() as u32).to_be_bytes());
                reply.extend_from_slice(stored);
                sent += 2 + 4 + stored.len();
            }
        });
        match looked {
            Ok(Some(())) => {}
            // Neither side holds a value: the same; only the coordinator does: it differs, with nothing.
            Ok(None) if e.digest.is_none() => {
                reply.push(SAME);
                sent += 1;
            }
            Ok(None) => {
                reply.extend_from_slice(&[DIFFERS, 0]);
                sent += 2;
            }
            Err(err) => {
                reply.truncate(mark);
                failed(&mut reply, &mut sent, err.code());
            }
        }
    }
    reply
}

unsafe fn answer_digests(env: sys::napi_env, info: sys::napi_callback_info) -> Result<f64> {
    // SAFETY: called from the callback with its env and info.
    let (argv, _, slot) = unsafe {
        slot_call::<4>(
            env,
            info,
            "answerDigests",
            4,
            "answerDigests takes a REPLICA_DIGESTS payload, the key limit, the reply's budget and an output buffer",
        )?
    };
    // SAFETY: argv holds the arguments (missing ones are `undefined`, which fails the checks).
    let payload = unsafe { input_bytes(env, argv[0], "payload")? };
    let mut numbers = [0f64; 2];
    for (i, what) in [(1, "maxKeyBytes"), (2, "budgetBytes")] {
        // SAFETY: valid env and value; out-pointer to a local.
        let status = unsafe { sys::napi_get_value_double(env, argv[i], &mut numbers[i - 1]) };
        if status != sys::Status::napi_ok || numbers[i - 1].is_nan() || numbers[i - 1] < 0.0 {
            return Err(invalid(format!(
                "answerDigests: {what} must be a number >= 0"
            )));
        }
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (max_key_bytes, budget) = (numbers[0] as usize, numbers[1] as usize);
    // SAFETY: as above; `out` is written only after every read of `payload` and the engine is done.
    let (out_ptr, out_len) = unsafe { u8_array(env, argv[3], "out")? };
    let Some(entries) = (Request {
        bytes: payload,
        at: 0,
    })
    .entries() else {
        return Ok(-1.0);
    };
    let guard = slot.read().map_err(|_| crate::errors::closed())?;
    let db = guard.as_ref().ok_or_else(crate::errors::closed)?;
    let reply = answer_entries(db, &entries, max_key_bytes, budget);
    if reply.len() <= out_len {
        // SAFETY: `out` has room for the reply, which is a fresh Vec (no overlap with anything JS
        // holds); no JavaScript runs during this call.
        unsafe { ptr::copy_nonoverlapping(reply.as_ptr(), out_ptr, reply.len()) };
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(reply.len() as f64)
}

unsafe extern "C" fn answer_digests_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe {
        answer(
            env,
            "answerDigests",
            || answer_digests(env, info),
            Number::Double,
        )
    }
}

/// Makes the `answerDigests` function for an engine slot.
pub fn digest_reader<'env>(env: &'env Env, slot: &std::sync::Arc<DbSlot>) -> Result<Unknown<'env>> {
    slot_function(env, slot, "answerDigests", answer_digests_callback)
}
