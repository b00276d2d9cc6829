//! `getReplyInto(envelope: Uint8Array, now: number, out: Uint8Array): number`: the CLIENT_GET reply of
//! an agreed read, built from the stored envelope bytes by `ringkv_envelope::answer` in one call.
//! - `-1`: the bytes are not decided there (they do not parse, or an actor is not ASCII); the caller's
//!   TypeScript path answers, with its precise error if any;
//! - `n >= 0`: the reply is `n` bytes; when `n <= out.length` it was written to `out[0..n]`, otherwise
//!   `out` is untouched and the caller calls again with a larger buffer.

use napi::bindgen_prelude::Unknown;
use napi::{sys, Env, Result};
use napi_derive::napi;
use ringkv_envelope::answer::get_reply;

use crate::errors::invalid;
use crate::fastget::{answer, call_args, input_bytes, plain_function, u8_array, Number};

unsafe fn get_reply_into(env: sys::napi_env, info: sys::napi_callback_info) -> Result<f64> {
    // SAFETY: called from the callback with its env and info.
    let (argv, argc, _) = unsafe { call_args::<3>(env, info, "getReplyInto")? };
    if argc < 3 {
        return Err(invalid(
            "getReplyInto takes envelope bytes, the read's time and an output buffer",
        ));
    }
    // SAFETY: argv holds the arguments (missing ones are `undefined`, which fails the checks).
    let envelope = unsafe { input_bytes(env, argv[0], "envelope")? };
    let mut now = 0f64;
    // SAFETY: valid env and value; out-pointer to a local.
    if unsafe { sys::napi_get_value_double(env, argv[1], &mut now) } != sys::Status::napi_ok {
        return Err(invalid("getReplyInto: now must be a number"));
    }
    // SAFETY: as above. The reply is written while `envelope` is still read: they must not overlap.
    let (out_ptr, out_len) = unsafe { u8_array(env, argv[2], "out")? };
    let overlaps = !envelope.is_empty()
        && out_len > 0
        && (out_ptr as usize) < envelope.as_ptr() as usize + envelope.len()
        && (envelope.as_ptr() as usize) < out_ptr as usize + out_len;
    if overlaps {
        return Err(invalid("getReplyInto: out must not overlap the envelope"));
    }
    let built = get_reply(envelope, now, |n| {
        // SAFETY: `out` is the caller's array of `out_len` bytes, distinct from `envelope` (checked
        // above); no JavaScript runs during this call.
        (n <= out_len).then(|| unsafe { std::slice::from_raw_parts_mut(out_ptr, n) })
    });
    #[allow(clippy::cast_precision_loss)]
    Ok(built.map_or(-1.0, |n| n as f64))
}

unsafe extern "C" fn get_reply_into_callback(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node-API with a valid env and callback info.
    unsafe {
        answer(
            env,
            "getReplyInto",
            || get_reply_into(env, info),
            Number::Double,
        )
    }
}

/// The `getReplyInto(envelope, now, out)` function (see the top of this file).
#[napi(js_name = "getReplier")]
pub fn get_replier(env: &Env) -> Result<Unknown<'_>> {
    plain_function(env, "getReplyInto", get_reply_into_callback)
}
