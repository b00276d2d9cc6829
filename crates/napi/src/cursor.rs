//! Scan cursors. A cursor pins a snapshot (a `Version` and a sequence number) and hands out
//! entries in packed batches, so a 100-key scan is one or two native calls.

use std::sync::{Arc, Mutex, Weak};

use napi::bindgen_prelude::{BufferSlice, Env};
use napi::Result;
use napi_derive::napi;
use ringkv_engine::db::{Cursor, Db};

use crate::codec;
use crate::errors::{closed, from_napi, invalid, to_js};

#[napi]
pub struct NativeCursor {
    inner: Mutex<Option<Cursor>>,
    /// Weak, so a forgotten cursor never keeps the engine (and its directory lock) open; the
    /// snapshot itself keeps the tables it reads mapped.
    db: Weak<Db>,
}

impl NativeCursor {
    pub fn new(cursor: Cursor, db: &Arc<Db>) -> Self {
        NativeCursor {
            inner: Mutex::new(Some(cursor)),
            db: Arc::downgrade(db),
        }
    }
}

#[napi]
impl NativeCursor {
    /// The next batch of entries, packed (see `codec`), or undefined when the scan is over.
    #[napi]
    pub fn next<'env>(
        &self,
        env: &'env Env,
        max_entries: u32,
        max_bytes: u32,
    ) -> Result<Option<BufferSlice<'env>>> {
        if max_entries == 0 {
            return Err(invalid("maxEntries must be at least 1"));
        }
        if self.db.upgrade().is_none_or(|db| db.is_closed()) {
            return Err(closed());
        }
        let mut guard = self.inner.lock().map_err(|_| closed())?;
        let Some(cursor) = guard.as_mut() else {
            return Ok(None);
        };
        let mut out = Vec::new();
        let mut n = 0u32;
        let more = cursor
            .next_batch(
                max_entries as usize,
                max_bytes.max(1) as usize,
                |k, v, _| {
                    codec::push_entry(&mut out, k, v);
                    n += 1;
                },
            )
            .map_err(to_js)?;
        if !more {
            *guard = None;
        }
        if n == 0 {
            return Ok(None);
        }
        BufferSlice::copy_from(env, out)
            .map(Some)
            .map_err(from_napi)
    }

    /// Releases the snapshot now rather than at garbage collection.
    #[napi]
    pub fn close(&self) {
        if let Ok(mut g) = self.inner.lock() {
            *g = None;
        }
    }
}
