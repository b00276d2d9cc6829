use napi::bindgen_prelude::{BufferSlice, Env};
use napi_derive::napi;

use crate::codec;
use napi::Result;

/// Ring positions (first 8 bytes of SHA-256, big-endian u64) of a packed key list, as the raw
/// bytes of a little-endian `BigUint64Array`.
#[napi(js_name = "ringPositions")]
pub fn ring_positions<'env>(env: &'env Env, packed_keys: &[u8]) -> Result<BufferSlice<'env>> {
    let keys = codec::keys(packed_keys)?;
    let mut out = Vec::with_capacity(keys.len() * 8);
    for k in keys {
        out.extend_from_slice(&ringkv_engine::hash::ring_position(k).to_le_bytes());
    }
    BufferSlice::copy_from(env, out).map_err(crate::errors::from_napi)
}

#[napi]
pub fn sha256<'env>(env: &'env Env, data: &[u8]) -> Result<BufferSlice<'env>> {
    BufferSlice::copy_from(env, ringkv_engine::hash::sha256(data)).map_err(crate::errors::from_napi)
}

/// The `digestInto(data, out)` function (see `fastget`): the digest replicas compare in digest reads.
#[napi]
pub fn digester(env: &Env) -> Result<napi::bindgen_prelude::Unknown<'_>> {
    crate::fastget::digester(env)
}

/// The `ringWord(key)` function (see `fastget`): the first 32 bits of SHA-256(key), for partition lookups.
#[napi(js_name = "ringHasher")]
pub fn ring_hasher(env: &Env) -> Result<napi::bindgen_prelude::Unknown<'_>> {
    crate::fastget::ring_hasher(env)
}
