//! The point-read fast path: one hand-written Node-API callback instead of `#[napi]` glue.
//!
//! Measured on the development VM, a `#[napi]` method taking a `&[u8]` costs about 400 ns per call
//! before any work is done (napi-rs 3 opens a native-borrow scope per call: an `Arc<Mutex<..>>`
//! allocation, a global borrow map keyed by the receiver, thread-local bookkeeping), and returning
//! the value as a new Buffer (`napi_create_buffer_copy`: its own ArrayBuffer, external memory
//! accounting) costs 1-2 us more. This callback does four Node-API calls (`napi_get_cb_info`, two
//! `napi_get_typedarray_info`, one `napi_create_int32`), about 60 ns in all, and copies the value
//! into a reusable buffer the caller passes; `src/engine/engine.ts` turns that into a fresh Buffer.
//!
//! `NativeEngine.reader()` makes one such function per engine handle. Its callback data is a boxed
//! `Arc` of the handle's engine slot (freed by a finalizer when the function is collected), so the
//! function can only ever reach the engine it was made for, and a closed handle (slot emptied by
//! `close`) answers ERR_CLOSED like every other call.
//!
//! JavaScript signature: `getInto(key: Uint8Array, out: Uint8Array, digest?: boolean): number`
//! - `-1`: no live value for the key;
//! - `n >= 0`: the value is `n` bytes long; when `n <= out.length` it was copied to `out[0..n]`,
//!   otherwise `out` is untouched and the caller must read again with a larger buffer;
//! - with `digest` true, the value is not copied: its `value_digest` (16 bytes) is written to
//!   `out[0..16]` and 16 returned (a digest read: a replica tells whether its copy equals the
//!   coordinator's without sending it);
//! - an error (closed engine, corruption, non-Uint8Array argument) is thrown with the usual
//!   `[ERR_X]` message prefix.
//!
//! `mergeFrom(key: Uint8Array, incoming: Uint8Array, ownActorPrefix: Uint8Array): number` (from
//! `NativeEngine.merger()`) is a replica's merge of envelope bytes into the stored ones, decided in
//! place by `ringkv_envelope::replica_merge`: `-1` when it is left to the caller's general merge,
//! `0` when the stored envelope already is the merge (nothing written), else the incoming bytes were
//! written as they are and the number is the log position to wait on.
//!
//! `updateFrom(key, context, ownActorPrefix, value, out: Uint8Array, meta: Float64Array): number`
//! (from `NativeEngine.updater()`) is the coordinator's write on the stored envelope, decided by
//! `ringkv_envelope::update`: `-1` when it is left to the caller; else the new envelope's length n,
//! and when `n <= out.length` it was written to the engine and copied to `out[0..n]` (otherwise
//! nothing happened: call again with a larger `out`). `meta` carries the write's numbers in and the
//! log position, sibling count and key epoch out (the `meta` module below names the slots).
//!
//! `digestInto(data: Uint8Array, out: Uint8Array): number` (from `digester()`) writes the same
//! digest of bytes JavaScript holds to `out[0..16]` and returns 16.
//!
//! `putFrom(key: Uint8Array, value: Uint8Array, expiresAt: number): number` (from
//! `NativeEngine.writer()`) is `put` through the same kind of callback: the log position to wait
//! on; `expiresAt` 0 for none.
//!
//! `ringWord(key: Uint8Array): number` (from `ringHasher()`) is the first 32 bits of SHA-256(key),
//! big-endian, as an unsigned number: what every request hashes to find its partition, ~10x
//! cheaper than node:crypto's one-shot hash (which builds a Buffer for the whole digest).

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiValue, JsError, Unknown};
use napi::{sys, Env, Result};

use ringkv_engine::hash::{value_digest, VALUE_DIGEST_BYTES};
use ringkv_engine::NO_EXPIRY;
use ringkv_envelope::update::{update, Update};
use ringkv_envelope::{replica_merge, MergeDecision};

use crate::engine::DbSlot;
use crate::errors::{invalid, to_js};

/// A typed array's data pointer and element count (a detached or empty array gives length 0);
/// anything but a typed array of `kind` is an error naming `what` as a `type_name`.
unsafe fn typed_array(
    env: sys::napi_env,
    value: sys::napi_value,
    kind: sys::napi_typedarray_type,
    type_name: &str,
    what: &str,
) -> Result<(*mut c_void, usize)> {
    let mut ty = 0;
    let mut len = 0usize;
    let mut data: *mut c_void = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0usize;
    // SAFETY: valid env and value from the callback; out-pointers to locals.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env,
            value,
            &mut ty,
            &mut len,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    };
    if status != sys::Status::napi_ok || ty != kind {
        return Err(invalid(format!("{what} must be a {type_name}")));
    }
    if data.is_null() {
        len = 0;
    }
    Ok((data, len))
}

/// A Uint8Array's bytes: pointer and length.
pub(crate) unsafe fn u8_array(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> Result<(*mut u8, usize)> {
    // SAFETY: as `typed_array`.
    let (data, len) = unsafe {
        typed_array(
            env,
            value,
            sys::TypedarrayType::uint8_array,
            "Uint8Array",
            what,
        )?
    };
    Ok((data.cast(), len))
}

/// A Float64Array's elements: pointer and length.
unsafe fn f64_array(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> Result<(*mut f64, usize)> {
    // SAFETY: as `typed_array`.
    let (data, len) = unsafe {
        typed_array(
            env,
            value,
            sys::TypedarrayType::float64_array,
            "Float64Array",
            what,
        )?
    };
    Ok((data.cast(), len))
}

/// The number a raw function returns.
pub(crate) enum Number {
    Int32(i32),
    Uint32(u32),
    Double(f64),
}

/// Runs a raw function's body: its number as the result, its error (or a panic, as ERR_INTERNAL)
/// thrown on `env`.
///
/// # Safety
/// `env` is the env of the running callback.
pub(crate) unsafe fn answer<T>(
    env: sys::napi_env,
    name: &str,
    body: impl FnOnce() -> Result<T>,
    number: impl FnOnce(T) -> Number,
) -> sys::napi_value {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => {
            let mut result = ptr::null_mut();
            // SAFETY: valid env, out-pointer to a local.
            unsafe {
                match number(value) {
                    Number::Int32(n) => sys::napi_create_int32(env, n, &mut result),
                    Number::Uint32(n) => sys::napi_create_uint32(env, n, &mut result),
                    Number::Double(n) => sys::napi_create_double(env, n, &mut result),
                };
            }
            return result;
        }
        Ok(Err(e)) => e,
        Err(_) => napi::Error::new(
            napi::Status::GenericFailure,
            format!("[ERR_INTERNAL] panic in {name}"),
        ),
    };
    // SAFETY: throwing on the callback's own env.
    unsafe { JsError::from(error).throw_into(env) };
    ptr::null_mut()
}

/// A call's first `N` arguments (missing ones are `undefined`), how many were passed, and the
/// function's callback data.
pub(crate) unsafe fn call_args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    name: &str,
) -> Result<([sys::napi_value; N], usize, *mut c_void)> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: valid env and callback info; argv has room for argc values.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(invalid(format!("{name}: bad call")));
    }
    Ok((argv, argc, data))
}

/// A call of a function made by `slot_function`: its first `N` arguments (missing ones are
/// `undefined`), how many were passed -- at least `required`, else `usage` is the error -- and the
/// engine slot the function was made for.
pub(crate) unsafe fn slot_call<'a, const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    name: &str,
    required: usize,
    usage: &str,
) -> Result<([sys::napi_value; N], usize, &'a DbSlot)> {
    // SAFETY: called from a callback with its env and info.
    let (argv, argc, data) = unsafe { call_args::<N>(env, info, name)? };
    if data.is_null() {
        return Err(invalid(format!("{name}: bad call")));
    }
    if argc < required {
        return Err(invalid(usage));
    }
    // SAFETY: `data` is the `Box<Arc<DbSlot>>` that `slot_function` attached to this very
    // function; the finalizer frees it only once the function is unreachable, so not during a call.
    let slot: &DbSlot = unsafe { &*(data as *const Arc<DbSlot>) };
    Ok((argv, argc, slot))
}

/// A Uint8Array argument's bytes, to read during the current call only: a typed array's bytes
/// stay put while no JavaScript runs.
pub(crate) unsafe fn input_bytes<'a>(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> Result<&'a [u8]> {
    // SAFETY: valid env and value from the callback.
    let (data, len) = unsafe { u8_array(env, value, what)? };
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: `u8_array` gave the array's own pointer and length; see above for how long it holds.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The callback body; `Ok(None)` is a missing key.
unsafe fn get_into(env: sys::napi_env, info: sys::napi_callback_info) -> Result<Option<usize>> {
    // SAFETY: called from the callback with its env and info.
    let (argv, argc, slot) = unsafe {
        slot_call::<3>(
            env,
            info,
            "getInto",
            2,
            "getInto takes a key and an output buffer",
        )?
    };
    // SAFETY: argv holds the arguments (missing ones are `undefined`, which fails the checks).
    let key_view = unsafe { input_bytes(env, argv[0], "key")? };
    let (out_ptr, out_len) = unsafe { u8_array(env, argv[1], "out")? };
    let mut digest = false;
    if argc >= 3 {
        // SAFETY: valid env and value; a non-boolean (undefined) leaves `digest` false.
        unsafe { sys::napi_get_value_bool(env, argv[2], &mut digest) };
    }
    if digest && out_len < VALUE_DIGEST_BYTES {
        return Err(invalid(format!(
            "getInto: a digest needs an output of {VALUE_DIGEST_BYTES} bytes"
        )));
    }
    // The key is read while the value is written: if JavaScript passed overlapping views, read a
    // copy of the key instead, so the two never alias.
    let (key_ptr, key_len) = (key_view.as_ptr() as usize, key_view.len());
    let overlap = key_len > 0
        && out_len > 0
        && key_ptr < out_ptr as usize + out_len
        && (out_ptr as usize) < key_ptr + key_len;
    let key_copy;
    let key: &[u8] = if overlap {
        key_copy = key_view.to_vec();
        &key_copy
    } else {
        key_view
    };
    let guard = slot.read().map_err(|_| crate::errors::closed())?;
    let db = guard.as_ref().ok_or_else(crate::errors::closed)?;
    db.get_with(key, |v| {
        if digest {
            let d = value_digest(v);
            // SAFETY: `out` has room for the digest (checked above); `d` is a local.
            unsafe { ptr::copy_nonoverlapping(d.as_ptr(), out_ptr, VALUE_DIGEST_BYTES) };
            return VALUE_DIGEST_BYTES;
        }
        if v.len() <= out_len && !v.is_empty() {
            // SAFETY: `out` has room for `v`, and does not overlap `key` (copied above if it did)
            // nor the engine's memory.
            unsafe { ptr::copy_nonoverlapping(v.as_ptr(), out_ptr, v.len()) };
        }
        v.len()
    })
    .map_err(to_js)
}

unsafe extern "C" fn get_into_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe {
        answer(
            env,
            "getInto",
            || get_into(env, info),
            |found| {
                // Values are below 2^31 bytes (maxValueBytes is at most 1 GiB), so an int32 holds the
                // length; it is the cheapest number to create.
                Number::Int32(found.map_or(-1, |n| n as i32))
            },
        )
    }
}

unsafe extern "C" fn finalize_slot(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the box `reader` leaked for this function; finalizers run once.
    drop(unsafe { Box::from_raw(data as *mut Arc<DbSlot>) });
}

/// Makes the `getInto` function for an engine slot.
pub fn reader<'env>(env: &'env Env, slot: &Arc<DbSlot>) -> Result<Unknown<'env>> {
    slot_function(env, slot, "getInto", get_into_callback)
}

/// Makes the `putFrom` function for an engine slot.
pub fn writer<'env>(env: &'env Env, slot: &Arc<DbSlot>) -> Result<Unknown<'env>> {
    slot_function(env, slot, "putFrom", put_from_callback)
}

/// A raw function whose callback data is (a box of) the engine slot, freed by a finalizer.
pub(crate) fn slot_function<'env>(
    env: &'env Env,
    slot: &Arc<DbSlot>,
    name: &str,
    callback: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> Result<Unknown<'env>> {
    let data = Box::into_raw(Box::new(Arc::clone(slot)));
    let mut function = ptr::null_mut();
    // SAFETY: valid env; the name is passed with its length; `data` outlives the function (freed
    // by the finalizer registered next).
    let status = unsafe {
        sys::napi_create_function(
            env.raw(),
            name.as_ptr().cast(),
            name.len() as isize,
            Some(callback),
            data.cast(),
            &mut function,
        )
    };
    if status != sys::Status::napi_ok {
        // SAFETY: the function was not created, so nothing else holds `data`.
        drop(unsafe { Box::from_raw(data) });
        return Err(napi::Error::new(
            napi::Status::from(status),
            "napi_create_function failed",
        ));
    }
    // SAFETY: attaching a finalizer to the function just created; `data` is freed exactly once,
    // by it.
    let status = unsafe {
        sys::napi_add_finalizer(
            env.raw(),
            function,
            data.cast(),
            Some(finalize_slot),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        // Leak the box rather than risk a double free: this happens only while the env tears down.
        return Err(napi::Error::new(
            napi::Status::from(status),
            "napi_add_finalizer failed",
        ));
    }
    // SAFETY: `function` is a valid value of this env.
    unsafe { Unknown::from_napi_value(env.raw(), function) }
}

/// The body of `putFrom(key, value, expiresAt)`: the log position to wait on.
unsafe fn put_from(env: sys::napi_env, info: sys::napi_callback_info) -> Result<f64> {
    // SAFETY: called from the callback with its env and info.
    let (argv, _, slot) = unsafe {
        slot_call::<3>(
            env,
            info,
            "putFrom",
            3,
            "putFrom takes a key, a value and an expiry (0 for none)",
        )?
    };
    // SAFETY: argv holds the arguments (missing ones are `undefined`, which fails the checks);
    // both arrays are only read.
    let key = unsafe { input_bytes(env, argv[0], "key")? };
    let value = unsafe { input_bytes(env, argv[1], "value")? };
    let mut expires_at = 0f64;
    // SAFETY: valid env and value; out-pointer to a local.
    if unsafe { sys::napi_get_value_double(env, argv[2], &mut expires_at) } != sys::Status::napi_ok
    {
        return Err(invalid("putFrom: expiresAt must be a number"));
    }
    let expires_at = crate::codec::expiry(Some(expires_at))?;
    let guard = slot.read().map_err(|_| crate::errors::closed())?;
    let db = guard.as_ref().ok_or_else(crate::errors::closed)?;
    db.put(key, value, expires_at)
        .map(|lsn| lsn as f64)
        .map_err(to_js)
}

unsafe extern "C" fn put_from_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe { answer(env, "putFrom", || put_from(env, info), Number::Double) }
}

/// Makes the `mergeFrom` function for an engine slot.
pub fn merger<'env>(env: &'env Env, slot: &Arc<DbSlot>) -> Result<Unknown<'env>> {
    slot_function(env, slot, "mergeFrom", merge_from_callback)
}

/// `mergeFrom` answered "not decided here": the caller runs the general merge.
const MERGE_FALLBACK: f64 = -1.0;
/// `mergeFrom` answered "the stored envelope already is the merge": nothing written.
const MERGE_UNCHANGED: f64 = 0.0;

/// The body of `mergeFrom(key, incoming, ownActorPrefix)`: a replica's merge of incoming envelope
/// bytes into the stored ones, read and decided in place (`ringkv_envelope::replica_merge`) and,
/// when the incoming envelope is the merge, written as it is in the same call.
unsafe fn merge_from(env: sys::napi_env, info: sys::napi_callback_info) -> Result<f64> {
    // SAFETY: called from the callback with its env and info.
    let (argv, _, slot) = unsafe {
        slot_call::<3>(
            env,
            info,
            "mergeFrom",
            3,
            "mergeFrom takes a key, the incoming envelope and this store's actor prefix",
        )?
    };
    // SAFETY: argv holds the arguments (missing ones are `undefined`, which fails the checks); the
    // arrays are only read, and no JavaScript runs before this call returns.
    let key = unsafe { input_bytes(env, argv[0], "key")? };
    let incoming = unsafe { input_bytes(env, argv[1], "incoming")? };
    let own_prefix = unsafe { input_bytes(env, argv[2], "ownActorPrefix")? };
    let guard = slot.read().map_err(|_| crate::errors::closed())?;
    let db = guard.as_ref().ok_or_else(crate::errors::closed)?;
    // Read, decide and write within one call on the event loop's thread, which is the store's only
    // writer (src/storage/store.ts, "Atomicity"): nothing can change the key in between.
    let decision = db
        .get_with(key, |stored| {
            replica_merge(Some(stored), incoming, own_prefix)
        })
        .map_err(to_js)?
        .unwrap_or_else(|| replica_merge(None, incoming, own_prefix));
    match decision {
        MergeDecision::Fallback => Ok(MERGE_FALLBACK),
        MergeDecision::Unchanged => Ok(MERGE_UNCHANGED),
        // Refused by the engine: left to the caller too (see `update_from`).
        MergeDecision::StoreIncoming => Ok(db
            .put(key, incoming, NO_EXPIRY)
            .map_or(MERGE_FALLBACK, |lsn| lsn as f64)),
    }
}

unsafe extern "C" fn merge_from_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe { answer(env, "mergeFrom", || merge_from(env, info), Number::Double) }
}

/// Makes the `updateFrom` function for an engine slot.
pub fn updater<'env>(env: &'env Env, slot: &Arc<DbSlot>) -> Result<Unknown<'env>> {
    slot_function(env, slot, "updateFrom", update_from_callback)
}

/// The slots of `updateFrom`'s `meta` argument: what it reads, then what it writes.
mod meta {
    pub const TIMESTAMP: usize = 0;
    pub const EXPIRES_AT: usize = 1;
    /// -1: the key must take a new epoch.
    pub const REUSE_FROM: usize = 2;
    pub const NEXT_EPOCH: usize = 3;
    pub const MAY_TAKE_NEXT: usize = 4;
    pub const MAX_SIBLINGS: usize = 5;
    pub const MAX_OBJECT_BYTES: usize = 6;
    pub const TOMBSTONE: usize = 7;
    pub const INPUTS: usize = 8;
    pub const OUT_LSN: usize = 0;
    pub const OUT_SIBLINGS: usize = 1;
    pub const OUT_EPOCH: usize = 2;
    pub const OUT_FRESH: usize = 3;
}

/// A non-negative integer of a `meta` slot (below 2^53, as JavaScript passes them).
fn meta_integer(meta: &[f64], slot: usize) -> Result<u64> {
    let x = meta[slot];
    if !(0.0..=9.007_199_254_740_991e15).contains(&x) || x.fract() != 0.0 {
        return Err(invalid(format!(
            "updateFrom: meta[{slot}] must be a non-negative integer, got {x}"
        )));
    }
    Ok(x as u64)
}

/// The body of `updateFrom(key, context, ownActorPrefix, value, out, meta)`: the coordinator's write,
/// decided on the bytes (`ringkv_envelope::update::update`), written, and copied to `out`.
unsafe fn update_from(env: sys::napi_env, info: sys::napi_callback_info) -> Result<f64> {
    // SAFETY: called from the callback with its env and info.
    let (argv, _, slot) = unsafe {
        slot_call::<6>(
            env,
            info,
            "updateFrom",
            6,
            "updateFrom takes a key, a context, an actor prefix, a value, an output and a meta array",
        )?
    };
    // SAFETY: argv holds the arguments (missing ones are `undefined`, which fails the checks). The
    // inputs are only read; `out` and `meta` are written only after every input was last read
    // (the new envelope is built in Rust memory first), so overlapping views cannot corrupt it.
    let key = unsafe { input_bytes(env, argv[0], "key")? };
    let context = unsafe { input_bytes(env, argv[1], "context")? };
    let own_prefix = unsafe { input_bytes(env, argv[2], "ownActorPrefix")? };
    let value = unsafe { input_bytes(env, argv[3], "value")? };
    let (out_ptr, out_len) = unsafe { u8_array(env, argv[4], "out")? };
    let (meta_ptr, meta_len) = unsafe { f64_array(env, argv[5], "meta")? };
    if meta_len < meta::INPUTS {
        return Err(invalid(format!(
            "updateFrom: meta must hold {} numbers",
            meta::INPUTS
        )));
    }
    // SAFETY: a Float64Array of at least INPUTS elements, read before anything is written.
    let inputs: [f64; meta::INPUTS] =
        unsafe { std::ptr::read_unaligned(meta_ptr.cast::<[f64; meta::INPUTS]>()) };
    let reuse_from = if inputs[meta::REUSE_FROM] < 0.0 {
        None
    } else {
        Some(meta_integer(&inputs, meta::REUSE_FROM)?)
    };
    let request = Update {
        context: (!context.is_empty()).then_some(context),
        own_actor_prefix: own_prefix,
        reuse_from,
        next_epoch: meta_integer(&inputs, meta::NEXT_EPOCH)?,
        may_take_next: inputs[meta::MAY_TAKE_NEXT] != 0.0,
        value: (inputs[meta::TOMBSTONE] == 0.0).then_some(value),
        timestamp: meta_integer(&inputs, meta::TIMESTAMP)?,
        expires_at: meta_integer(&inputs, meta::EXPIRES_AT)?,
        max_siblings: meta_integer(&inputs, meta::MAX_SIBLINGS)? as usize,
        max_object_bytes: meta_integer(&inputs, meta::MAX_OBJECT_BYTES)? as usize,
    };
    let guard = slot.read().map_err(|_| crate::errors::closed())?;
    let db = guard.as_ref().ok_or_else(crate::errors::closed)?;
    // Read, decide and write within one call on the event loop's thread (see `merge_from`).
    let updated = match db
        .get_with(key, |stored| update(Some(stored), &request))
        .map_err(to_js)?
    {
        Some(decided) => decided,
        None => update(None, &request),
    };
    let Some(updated) = updated else {
        return Ok(-1.0);
    };
    let n = updated.bytes.len();
    if n > out_len {
        // Nothing written: the caller reads again with a larger `out`.
        return Ok(n as f64);
    }
    // A write the engine refuses (too large for it, or the engine failed) is left to the caller, whose
    // path reports it through the write's durability promise like every engine write.
    let Ok(lsn) = db.put(key, &updated.bytes, NO_EXPIRY) else {
        return Ok(-1.0);
    };
    // SAFETY: `out` has room for the bytes (checked above); `meta` has at least INPUTS > 4 slots.
    unsafe {
        ptr::copy_nonoverlapping(updated.bytes.as_ptr(), out_ptr, n);
        let outputs = [
            (meta::OUT_LSN, lsn as f64),
            (meta::OUT_SIBLINGS, updated.siblings as f64),
            (meta::OUT_EPOCH, updated.epoch as f64),
            (meta::OUT_FRESH, if updated.fresh { 1.0 } else { 0.0 }),
        ];
        for (slot, x) in outputs {
            std::ptr::write_unaligned(meta_ptr.add(slot), x);
        }
    }
    Ok(n as f64)
}

unsafe extern "C" fn update_from_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe { answer(env, "updateFrom", || update_from(env, info), Number::Double) }
}

unsafe fn digest_into(env: sys::napi_env, info: sys::napi_callback_info) -> Result<usize> {
    // SAFETY: called from the callback with its env and info.
    let (argv, argc, _) = unsafe { call_args::<2>(env, info, "digestInto")? };
    if argc < 2 {
        return Err(invalid("digestInto takes the bytes and an output buffer"));
    }
    // SAFETY: argv holds the two arguments (missing ones are `undefined`, which fails the check).
    let data = unsafe { input_bytes(env, argv[0], "data")? };
    let (out_ptr, out_len) = unsafe { u8_array(env, argv[1], "out")? };
    if out_len < VALUE_DIGEST_BYTES {
        return Err(invalid(format!(
            "digestInto needs an output of {VALUE_DIGEST_BYTES} bytes"
        )));
    }
    // Hashed before anything is written, so overlapping views cannot change the result.
    let d = value_digest(data);
    // SAFETY: `out` has room for the digest; `d` is a local.
    unsafe { ptr::copy_nonoverlapping(d.as_ptr(), out_ptr, VALUE_DIGEST_BYTES) };
    Ok(VALUE_DIGEST_BYTES)
}

unsafe extern "C" fn digest_into_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe {
        answer(
            env,
            "digestInto",
            || digest_into(env, info),
            |n| Number::Int32(n as i32),
        )
    }
}

/// Makes the `digestInto` function (no state: it only hashes what it is given).
pub fn digester<'env>(env: &'env Env) -> Result<Unknown<'env>> {
    plain_function(env, "digestInto", digest_into_callback)
}

unsafe fn ring_word(env: sys::napi_env, info: sys::napi_callback_info) -> Result<u32> {
    // SAFETY: called from the callback with its env and info.
    let (argv, argc, _) = unsafe { call_args::<1>(env, info, "ringWord")? };
    if argc < 1 {
        return Err(invalid("ringWord takes a key"));
    }
    // SAFETY: argv[0] is the argument (`undefined` fails the check).
    let key = unsafe { input_bytes(env, argv[0], "key")? };
    Ok((ringkv_engine::hash::ring_position(key) >> 32) as u32)
}

unsafe extern "C" fn ring_word_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe { answer(env, "ringWord", || ring_word(env, info), Number::Uint32) }
}

/// Makes a stateless raw function (no callback data).
pub(crate) fn plain_function<'env>(
    env: &'env Env,
    name: &str,
    callback: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> Result<Unknown<'env>> {
    let mut function = ptr::null_mut();
    // SAFETY: valid env; the name is passed with its length; no callback data.
    let status = unsafe {
        sys::napi_create_function(
            env.raw(),
            name.as_ptr().cast(),
            name.len() as isize,
            Some(callback),
            ptr::null_mut(),
            &mut function,
        )
    };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::new(
            napi::Status::from(status),
            "napi_create_function failed",
        ));
    }
    // SAFETY: `function` is a valid value of this env.
    unsafe { Unknown::from_napi_value(env.raw(), function) }
}

/// Makes the `ringWord` function.
pub fn ring_hasher<'env>(env: &'env Env) -> Result<Unknown<'env>> {
    plain_function(env, "ringWord", ring_word_callback)
}
