//! The native engine class. Reads and writes are synchronous calls on the JS thread: a write is in
//! the memtable (visible) when the call returns and reports its log position; the TypeScript layer
//! turns that into a promise per the durability mode (`writeOut` once per event-loop turn, or a
//! `syncTo` task whose fsync is shared by every writer of that turn). Anything that may block on
//! the disk (fsync, flush, compaction, Merkle hashing over a range, close) runs as a task on the
//! libuv pool and resolves on the JS thread.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice, Env, Unknown};
use napi::Result;
use napi::Task;
use napi_derive::napi;
use ringkv_engine::db::{Db, ScanOptions};
use ringkv_engine::options::{Durability, Options};

use crate::codec;
use crate::cursor::NativeCursor;
use crate::errors::{closed, from_napi, invalid, to_js};
use crate::registry;

#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
    pub durability: Option<String>,
    pub sync_interval_ms: Option<u32>,
    pub memtable_bytes: Option<f64>,
    pub max_immutable_memtables: Option<u32>,
    pub recycle_log_segments: Option<u32>,
    pub max_key_bytes: Option<u32>,
    pub max_value_bytes: Option<u32>,
    pub block_size: Option<u32>,
    pub bloom_bits_per_key: Option<u32>,
    pub cache_bytes: Option<f64>,
    pub huge_pages: Option<bool>,
    pub l0_compaction_trigger: Option<u32>,
    pub l0_slowdown_trigger: Option<u32>,
    pub l0_stop_trigger: Option<u32>,
    pub level_base_bytes: Option<f64>,
    pub level_multiplier: Option<u32>,
    pub target_file_bytes: Option<f64>,
    pub max_levels: Option<u32>,
}

fn bytes_option(name: &str, v: Option<f64>) -> Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(x) if (0.0..=9.007_199_254_740_991e15).contains(&x) && x.fract() == 0.0 => {
            Ok(Some(x as u64))
        }
        Some(x) => Err(invalid(format!(
            "{name} must be a non-negative integer, got {x}"
        ))),
    }
}

fn to_options(o: NativeOptions) -> Result<Options> {
    let mut opts = Options::default();
    if let Some(d) = o.durability {
        opts.durability = Durability::parse(&d).map_err(to_js)?;
    }
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = o.$field {
                opts.$field = v as _;
            }
        };
    }
    set!(sync_interval_ms);
    set!(max_immutable_memtables);
    set!(recycle_log_segments);
    set!(max_key_bytes);
    set!(max_value_bytes);
    set!(block_size);
    set!(bloom_bits_per_key);
    set!(l0_compaction_trigger);
    set!(l0_slowdown_trigger);
    set!(l0_stop_trigger);
    set!(level_multiplier);
    set!(max_levels);
    if let Some(v) = o.huge_pages {
        opts.huge_pages = v;
    }
    if let Some(v) = bytes_option("memtableBytes", o.memtable_bytes)? {
        opts.memtable_bytes = v as usize;
    }
    if let Some(v) = bytes_option("cacheBytes", o.cache_bytes)? {
        opts.cache_bytes = v as usize;
    }
    if let Some(v) = bytes_option("levelBaseBytes", o.level_base_bytes)? {
        opts.level_base_bytes = v;
    }
    if let Some(v) = bytes_option("targetFileBytes", o.target_file_bytes)? {
        opts.target_file_bytes = v;
    }
    opts.validate().map_err(to_js)?;
    Ok(opts)
}

/// The engine behind a handle; `close` empties it. Shared with the handle's `getInto` function.
pub type DbSlot = RwLock<Option<Arc<Db>>>;

#[napi]
pub struct NativeEngine {
    db: Arc<DbSlot>,
    path: PathBuf,
}

impl NativeEngine {
    fn db(&self) -> Result<Arc<Db>> {
        let guard = self.db.read().map_err(|_| closed())?;
        guard.as_ref().cloned().ok_or_else(closed)
    }

    /// Runs `f` with the engine without cloning the Arc: the hot path.
    fn with_db<R>(&self, f: impl FnOnce(&Db) -> Result<R>) -> Result<R> {
        let guard = self.db.read().map_err(|_| closed())?;
        match guard.as_ref() {
            Some(db) => f(db),
            None => Err(closed()),
        }
    }
}

pub struct OpenTask {
    path: PathBuf,
    opts: Option<Options>,
}

impl Task for OpenTask {
    type Output = Arc<Db>;
    type JsValue = NativeEngine;

    fn compute(&mut self) -> Result<Self::Output> {
        let opts = self.opts.take().unwrap_or_default();
        registry::open(&self.path, opts).map_err(to_js)
    }

    fn resolve(&mut self, _env: Env, db: Arc<Db>) -> Result<NativeEngine> {
        Ok(NativeEngine {
            db: Arc::new(RwLock::new(Some(db))),
            path: self.path.clone(),
        })
    }
}

/// Opens (or joins, within this process) the engine of a data directory off the JS thread:
/// recovery replays the log and may take a while.
#[napi(js_name = "openEngine")]
pub fn open_engine(path: String, options: Option<NativeOptions>) -> Result<AsyncTask<OpenTask>> {
    if path.is_empty() {
        return Err(invalid("path must be a non-empty string"));
    }
    let opts = to_options(options.unwrap_or_default())?;
    Ok(AsyncTask::new(OpenTask {
        path: PathBuf::from(path),
        opts: Some(opts),
    }))
}

#[napi(js_name = "openEngineSync")]
pub fn open_engine_sync(path: String, options: Option<NativeOptions>) -> Result<NativeEngine> {
    if path.is_empty() {
        return Err(invalid("path must be a non-empty string"));
    }
    let opts = to_options(options.unwrap_or_default())?;
    let p = PathBuf::from(path);
    let db = registry::open(&p, opts).map_err(to_js)?;
    Ok(NativeEngine {
        db: Arc::new(RwLock::new(Some(db))),
        path: p,
    })
}

/// Handles open on a directory in this process (for tests of worker-thread sharing).
#[napi(js_name = "openHandles")]
pub fn open_handles(path: String) -> u32 {
    registry::handles(std::path::Path::new(&path)) as u32
}

pub enum Job {
    SyncTo(u64),
    Flush,
    Compact,
    Merkle {
        opts: ScanOptions,
        segments: u32,
    },
    MerkleEntries {
        opts: ScanOptions,
        segments: u32,
        wanted: Vec<u32>,
    },
}

pub enum JobOutput {
    Done,
    Merkle(ringkv_engine::merkle::MerkleSummary),
    Entries(Vec<(Vec<u8>, [u8; 32])>),
}

pub struct EngineTask {
    db: Arc<Db>,
    job: Option<Job>,
}

#[napi(object)]
pub struct MerkleResult {
    pub root: Buffer,
    /// Leaves concatenated, 32 bytes each.
    pub leaves: Buffer,
    pub entries: f64,
    pub bytes: f64,
    /// For `merkleEntries`: (key_len u32 | value_len u32 (=32) | key | hash)*.
    pub packed_entries: Option<Buffer>,
}

impl Task for EngineTask {
    type Output = JobOutput;
    type JsValue = Option<MerkleResult>;

    fn compute(&mut self) -> Result<JobOutput> {
        let job = self.job.take().ok_or_else(|| invalid("task ran twice"))?;
        let db = &self.db;
        match job {
            Job::SyncTo(lsn) => db.sync_to(lsn).map(|_| JobOutput::Done),
            Job::Flush => db.flush().map(|_| JobOutput::Done),
            Job::Compact => db.compact().map(|_| JobOutput::Done),
            Job::Merkle { opts, segments } => db.merkle(opts, segments).map(JobOutput::Merkle),
            Job::MerkleEntries {
                opts,
                segments,
                wanted,
            } => db
                .merkle_entries(opts, segments, &wanted)
                .map(JobOutput::Entries),
        }
        .map_err(to_js)
    }

    fn resolve(&mut self, _env: Env, out: JobOutput) -> Result<Option<MerkleResult>> {
        Ok(match out {
            JobOutput::Done => None,
            JobOutput::Merkle(m) => Some(MerkleResult {
                root: m.root.to_vec().into(),
                leaves: m.leaves.concat().into(),
                entries: m.entries as f64,
                bytes: m.bytes as f64,
                packed_entries: None,
            }),
            JobOutput::Entries(list) => {
                let mut packed = Vec::with_capacity(list.len() * 56);
                for (k, h) in &list {
                    codec::push_entry(&mut packed, k, h);
                }
                Some(MerkleResult {
                    root: Vec::new().into(),
                    leaves: Vec::new().into(),
                    entries: list.len() as f64,
                    bytes: 0.0,
                    packed_entries: Some(packed.into()),
                })
            }
        })
    }
}

pub struct CloseTask {
    db: Option<Arc<Db>>,
}

impl Task for CloseTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        match self.db.take() {
            Some(db) => registry::release(db).map_err(to_js),
            None => Ok(()),
        }
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }
}

pub(crate) fn bound(key: Option<&[u8]>, inclusive: bool) -> Option<Bound<Vec<u8>>> {
    key.map(|k| {
        if inclusive {
            Bound::Included(k.to_vec())
        } else {
            Bound::Excluded(k.to_vec())
        }
    })
}

pub(crate) fn limit(limit: Option<f64>) -> Result<Option<u64>> {
    match limit {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 => Ok(Some(x as u64)),
        Some(x) if x == f64::INFINITY => Ok(None),
        Some(x) => Err(invalid(format!(
            "limit must be a non-negative integer, got {x}"
        ))),
    }
}

#[napi(object)]
pub struct LevelStats {
    pub tables: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct NativeStats {
    pub levels: Vec<LevelStats>,
    pub memtable_bytes: f64,
    pub immutable_memtables: f64,
    pub disk_bytes: f64,
    pub wal_bytes_written: f64,
    pub wal_fsyncs: f64,
    pub wal_recycled_segments: f64,
    pub last_seqno: f64,
    pub cache_hits: f64,
    pub cache_misses: f64,
    pub cache_bytes: f64,
    pub bloom_checks: f64,
    pub bloom_skips: f64,
    pub flushes: f64,
    pub flush_bytes: f64,
    pub compactions: f64,
    pub compaction_bytes_read: f64,
    pub compaction_bytes_written: f64,
    pub stalls: f64,
    pub stall_micros: f64,
    pub slowdowns: f64,
    pub writes: f64,
    pub write_batches: f64,
}

#[napi]
impl NativeEngine {
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    #[napi(getter)]
    pub fn durability(&self) -> Result<String> {
        self.with_db(|db| {
            Ok(match db.durability() {
                Durability::Sync => "sync",
                Durability::Interval => "interval",
                Durability::None => "none",
            }
            .to_string())
        })
    }

    /// The put fast path for this handle: `putFrom(key, value, expiresAt): number` (see `fastget`).
    #[napi]
    pub fn writer<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        crate::fastget::writer(env, &self.db)
    }

    /// The replica-merge fast path for this handle: `mergeFrom(key, incoming, ownActorPrefix): number`
    /// (see `fastget`).
    #[napi]
    pub fn merger<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        crate::fastget::merger(env, &self.db)
    }

    /// The coordinator-write fast path for this handle: `updateFrom(...)` (see `fastget`).
    #[napi]
    pub fn updater<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        crate::fastget::updater(env, &self.db)
    }

    /// A replica's answer to a batch of digest reads for this handle: `answerDigests(payload,
    /// maxKeyBytes, budgetBytes, out): number` (see `digests`).
    #[napi(js_name = "digestReader")]
    pub fn digest_reader<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        crate::digests::digest_reader(env, &self.db)
    }

    /// The point-read fast path for this handle: `getInto(key, out): number` (see `fastget`).
    #[napi]
    pub fn reader<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        crate::fastget::reader(env, &self.db)
    }

    #[napi]
    pub fn get<'env>(&self, env: &'env Env, key: &[u8]) -> Result<Option<BufferSlice<'env>>> {
        self.with_db(|db| {
            match db
                .get_with(key, |v| BufferSlice::copy_from(env, v))
                .map_err(to_js)?
            {
                Some(r) => r.map(Some).map_err(from_napi),
                None => Ok(None),
            }
        })
    }

    /// Values of a packed key list, packed (see `codec`).
    #[napi(js_name = "getMany")]
    pub fn get_many<'env>(&self, env: &'env Env, packed_keys: &[u8]) -> Result<BufferSlice<'env>> {
        let keys = codec::keys(packed_keys)?;
        self.with_db(|db| {
            let mut out = Vec::with_capacity(keys.len() * 64);
            for k in keys {
                let found = db
                    .get_with(k, |v| {
                        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                        out.extend_from_slice(v);
                    })
                    .map_err(to_js)?;
                if found.is_none() {
                    out.extend_from_slice(&u32::MAX.to_le_bytes());
                }
            }
            BufferSlice::copy_from(env, out).map_err(from_napi)
        })
    }

    /// Applies one put; returns the log position to wait on. `expiresAt` in ms since the epoch.
    #[napi]
    pub fn put(&self, key: &[u8], value: &[u8], expires_at: Option<f64>) -> Result<f64> {
        let expires_at = codec::expiry(expires_at)?;
        self.with_db(|db| {
            db.put(key, value, expires_at)
                .map(|lsn| lsn as f64)
                .map_err(to_js)
        })
    }

    #[napi]
    pub fn delete(&self, key: &[u8]) -> Result<f64> {
        self.with_db(|db| db.delete(key).map(|lsn| lsn as f64).map_err(to_js))
    }

    /// Applies a packed batch atomically (see `codec`).
    #[napi]
    pub fn write(&self, packed_batch: &[u8]) -> Result<f64> {
        let batch = codec::batch(packed_batch)?;
        self.with_db(|db| db.write(&batch).map(|lsn| lsn as f64).map_err(to_js))
    }

    /// Hands buffered log records to the OS: after it returns they survive a process crash.
    #[napi(js_name = "writeOut")]
    pub fn write_out(&self) -> Result<f64> {
        self.with_db(|db| db.write_out().map(|lsn| lsn as f64).map_err(to_js))
    }

    #[napi(js_name = "syncTo")]
    pub fn sync_to(&self, lsn: f64) -> Result<AsyncTask<EngineTask>> {
        if !(lsn.is_finite() && lsn >= 0.0) {
            return Err(invalid(format!(
                "lsn must be a non-negative number, got {lsn}"
            )));
        }
        Ok(AsyncTask::new(EngineTask {
            db: self.db()?,
            job: Some(Job::SyncTo(lsn as u64)),
        }))
    }

    #[napi]
    pub fn flush(&self) -> Result<AsyncTask<EngineTask>> {
        Ok(AsyncTask::new(EngineTask {
            db: self.db()?,
            job: Some(Job::Flush),
        }))
    }

    #[napi]
    pub fn compact(&self) -> Result<AsyncTask<EngineTask>> {
        Ok(AsyncTask::new(EngineTask {
            db: self.db()?,
            job: Some(Job::Compact),
        }))
    }

    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn cursor(
        &self,
        start: Option<&[u8]>,
        start_inclusive: bool,
        end: Option<&[u8]>,
        end_inclusive: bool,
        limit: Option<f64>,
    ) -> Result<NativeCursor> {
        let opts = ScanOptions {
            start: bound(start, start_inclusive),
            end: bound(end, end_inclusive),
            limit: self::limit(limit)?,
        };
        let db = self.db()?;
        let cursor = db.cursor(opts).map_err(to_js)?;
        Ok(NativeCursor::new(cursor, &db))
    }

    #[napi]
    pub fn merkle(
        &self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        segments: u32,
    ) -> Result<AsyncTask<EngineTask>> {
        let opts = ScanOptions {
            start: bound(start, true),
            end: bound(end, false),
            limit: None,
        };
        Ok(AsyncTask::new(EngineTask {
            db: self.db()?,
            job: Some(Job::Merkle { opts, segments }),
        }))
    }

    #[napi(js_name = "merkleEntries")]
    pub fn merkle_entries(
        &self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        segments: u32,
        wanted: Vec<u32>,
    ) -> Result<AsyncTask<EngineTask>> {
        let opts = ScanOptions {
            start: bound(start, true),
            end: bound(end, false),
            limit: None,
        };
        Ok(AsyncTask::new(EngineTask {
            db: self.db()?,
            job: Some(Job::MerkleEntries {
                opts,
                segments,
                wanted,
            }),
        }))
    }

    #[napi]
    pub fn stats(&self) -> Result<NativeStats> {
        self.with_db(|db| {
            let s = db.stats();
            Ok(NativeStats {
                levels: s
                    .levels
                    .iter()
                    .map(|l| LevelStats {
                        tables: l.tables as f64,
                        bytes: l.bytes as f64,
                    })
                    .collect(),
                memtable_bytes: s.memtable_bytes as f64,
                immutable_memtables: s.immutable_memtables as f64,
                disk_bytes: s.disk_bytes as f64,
                wal_bytes_written: s.wal_bytes_written as f64,
                wal_fsyncs: s.wal_fsyncs as f64,
                wal_recycled_segments: s.wal_recycled_segments as f64,
                last_seqno: s.last_seqno as f64,
                cache_hits: s.cache_hits as f64,
                cache_misses: s.cache_misses as f64,
                cache_bytes: s.cache_bytes as f64,
                bloom_checks: s.bloom_checks as f64,
                bloom_skips: s.bloom_skips as f64,
                flushes: s.flushes as f64,
                flush_bytes: s.flush_bytes as f64,
                compactions: s.compactions as f64,
                compaction_bytes_read: s.compaction_bytes_read as f64,
                compaction_bytes_written: s.compaction_bytes_written as f64,
                stalls: s.stalls as f64,
                stall_micros: s.stall_micros as f64,
                slowdowns: s.slowdowns as f64,
                writes: s.writes as f64,
                write_batches: s.write_batches as f64,
            })
        })
    }

    /// Lets go of this handle; the engine closes (fsyncing the log) when no handle in the process
    /// is left. A second close of the same handle is an ERR_CLOSED error.
    #[napi]
    pub fn close(&self) -> Result<AsyncTask<CloseTask>> {
        let mut guard = self.db.write().map_err(|_| closed())?;
        let db = guard.take().ok_or_else(closed)?;
        Ok(AsyncTask::new(CloseTask { db: Some(db) }))
    }
}
