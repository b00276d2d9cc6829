//! napi-rs glue between ringkv's storage engine (`ringkv-engine`, which knows nothing of napi) and
//! JavaScript. The TypeScript wrapper in `src/engine/` is the public API; this layer stays thin.
//!
//! Module map (mirrors the TypeScript files):
//! - `engine`    the `NativeEngine` class: synchronous reads and writes, async tasks for fsync,
//!   flush, compaction, Merkle hashing and close on the libuv pool
//! - `cursor`    batched scan cursors over a snapshot
//! - `registry`  one engine per data directory per process, shared by worker threads
//! - `errors`    engine errors to JS errors with a stable `code`
//! - `fastget`   the point-read fast path: a hand-written Node-API callback (`getInto`)
//! - `digests`   a replica's answer to a batch of digest reads (REPLICA_DIGESTS) in one call
//! - `hashing`   batched SHA-256 ring positions
//! - `codec`     packing of key lists and batches across the boundary (one call, one buffer)
//! - `replies`   the CLIENT_GET reply of an agreed read, built from the stored bytes
#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so a test build sees them as unused.
#![cfg_attr(test, allow(dead_code))]

mod codec;
mod cursor;
mod digests;
mod engine;
mod errors;
mod fastget;
mod hashing;
mod registry;
mod replies;

use napi_derive::napi;

/// Does nothing: the benchmark's measure of what crossing into Rust costs.
#[napi]
pub fn noop() {}
