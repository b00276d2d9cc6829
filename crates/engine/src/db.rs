//! The engine: ties the WAL, memtables, SSTables, manifest, compaction and row cache together.
//!
//! Threads: the caller's threads read and write; one background thread flushes frozen memtables,
//! one compacts, and one fsyncs the log every `sync_interval_ms` (`interval` and `none` modes)
//! while it has unsynced records, and sleeps until the next write when it has none.
//!
//! Locks, always taken in this order: `write` (one writer at a time: seqno assignment, WAL append,
//! memtable insert, memtable rotation), then `edit` (installing a new `Version` and manifest).
//! Readers take no lock: they load the current `Version` through `ArcSwap` and read up to
//! `visible_seqno`, which is published only after a whole batch is in the memtable.
//!
//! Durability: `write` returns the log position (LSN) after the batch. The caller then waits for
//! what its mode promises: `write_out` (in the log, survives a process crash) or `sync_to`
//! (fsynced, survives a machine crash; concurrent callers share fsyncs).

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};

use crate::batch::{self, WriteBatch};
use crate::bloom::key_hash;
use crate::cache::{CachedRow, RowCache};
use crate::compaction::policy::{self, FileSummary, Task};
use crate::compaction::worker;
use crate::error::{Error, Result};
use crate::huge::{Backing, HugePagePool, HUGE_PAGE};
use crate::iter::EntryIter;
use crate::lock::DirLock;
use crate::manifest::{self, Manifest, TableRef};
use crate::memtable::Memtable;
use crate::merge::{LevelIter, LiveIter, MergeIter};
use crate::merkle::{entry_hash, segment_of, MerkleBuilder, MerkleSummary};
use crate::options::{Durability, Options};
use crate::sstable::{Table, TableBuilder, TableOptions};
use crate::types::{is_live, now_ms, SeqNo, ValueKind};
use crate::wal::{self, WalWriter};

pub struct Db {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

struct WriteState {
    last_seqno: SeqNo,
    encode_buf: Vec<u8>,
}

struct EditState {
    manifest: Manifest,
    compaction_cursors: Vec<Vec<u8>>,
}

#[derive(Default)]
struct Signals {
    shutdown: bool,
    flush_requested: bool,
    compaction_requested: bool,
}

#[derive(Default)]
struct Counters {
    sync_wakeups: AtomicU64,
    bloom_checks: AtomicU64,
    bloom_skips: AtomicU64,
    flushes: AtomicU64,
    flush_bytes: AtomicU64,
    compactions: AtomicU64,
    compaction_bytes_read: AtomicU64,
    compaction_bytes_written: AtomicU64,
    stalls: AtomicU64,
    stall_micros: AtomicU64,
    slowdowns: AtomicU64,
    writes: AtomicU64,
    write_batches: AtomicU64,
}

struct Inner {
    dir: PathBuf,
    opts: Options,
    table_opts: TableOptions,
    _lock: DirLock,
    version: ArcSwap<crate::version::Version>,
    visible_seqno: AtomicU64,
    next_file_number: AtomicU64,
    write: Mutex<WriteState>,
    edit: Mutex<EditState>,
    wal: WalWriter,
    /// Memtable arena pages handed from each flushed memtable to the next (huge.rs).
    huge_pages: Arc<HugePagePool>,
    cache: RowCache,
    signals: Mutex<Signals>,
    /// Wakes background threads and writers waiting for a flush or compaction.
    wakeup: Condvar,
    /// Wakes the log's sync thread from its idle sleep (used with `signals`).
    sync_wakeup: Condvar,
    /// Set while the sync thread sleeps with nothing to sync: the next write wakes it.
    sync_idle: AtomicBool,
    /// One compaction at a time, background or manual.
    compaction: Mutex<()>,
    closed: AtomicBool,
    background_error: Mutex<Option<String>>,
    counters: Counters,
}

#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    pub start: Option<Bound<Vec<u8>>>,
    pub end: Option<Bound<Vec<u8>>>,
    pub limit: Option<u64>,
}

impl ScanOptions {
    /// The range of keys starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> ScanOptions {
        let end = prefix_successor(prefix)
            .map(Bound::Excluded)
            .unwrap_or(Bound::Unbounded);
        ScanOptions {
            start: Some(Bound::Included(prefix.to_vec())),
            end: Some(end),
            limit: None,
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, if there is one.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last != 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

#[derive(Clone, Debug, Default)]
pub struct LevelStats {
    pub tables: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub levels: Vec<LevelStats>,
    pub memtable_bytes: u64,
    pub immutable_memtables: u64,
    pub disk_bytes: u64,
    pub wal_bytes_written: u64,
    pub wal_fsyncs: u64,
    /// Writes that woke the log's sync thread from its idle sleep (never in `sync` mode).
    pub wal_sync_wakeups: u64,
    /// New log segments that were a flushed segment's file written over (`recycle_log_segments`).
    pub wal_recycled_segments: u64,
    pub last_seqno: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_bytes: u64,
    pub bloom_checks: u64,
    pub bloom_skips: u64,
    pub flushes: u64,
    pub flush_bytes: u64,
    pub compactions: u64,
    pub compaction_bytes_read: u64,
    pub compaction_bytes_written: u64,
    pub stalls: u64,
    pub stall_micros: u64,
    pub slowdowns: u64,
    pub writes: u64,
    pub write_batches: u64,
}

impl Db {
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = DirLock::acquire(&dir)?;
        let table_opts = TableOptions {
            block_size: opts.block_size,
            bloom_bits_per_key: opts.bloom_bits_per_key,
            ..TableOptions::default()
        };
        let recovered = recover(&dir, &opts, &table_opts)?;
        let wal =
            WalWriter::create(&dir, recovered.wal_segment, 0)?.recycling(opts.recycle_log_segments);
        // One memtable's worth: what a flushed memtable gives back, the next one takes again.
        let backing = if opts.huge_pages {
            Backing::Huge
        } else {
            Backing::Base
        };
        let huge_pages = Arc::new(HugePagePool::new(opts.memtable_bytes + HUGE_PAGE, backing));
        let active = Arc::new(Memtable::with_pool(
            recovered.wal_segment,
            Some(Arc::clone(&huge_pages)),
        ));
        let mut version = crate::version::Version::new(active, opts.max_levels);
        version.levels = recovered.levels;
        let inner = Arc::new(Inner {
            cache: RowCache::new(opts.cache_bytes),
            table_opts,
            _lock: lock,
            version: ArcSwap::from_pointee(version),
            visible_seqno: AtomicU64::new(recovered.manifest.last_seqno),
            next_file_number: AtomicU64::new(recovered.manifest.next_file_number),
            write: Mutex::new(WriteState {
                last_seqno: recovered.manifest.last_seqno,
                encode_buf: Vec::new(),
            }),
            edit: Mutex::new(EditState {
                manifest: recovered.manifest,
                compaction_cursors: vec![Vec::new(); opts.max_levels],
            }),
            wal,
            huge_pages,
            signals: Mutex::new(Signals {
                compaction_requested: true,
                ..Signals::default()
            }),
            wakeup: Condvar::new(),
            sync_wakeup: Condvar::new(),
            sync_idle: AtomicBool::new(false),
            compaction: Mutex::new(()),
            closed: AtomicBool::new(false),
            background_error: Mutex::new(None),
            counters: Counters::default(),
            dir,
            opts,
        });
        let threads = vec![
            spawn("ringkv-flush", &inner, Inner::flush_loop)?,
            spawn("ringkv-compact", &inner, Inner::compaction_loop)?,
            spawn("ringkv-wal-sync", &inner, Inner::sync_loop)?,
        ];
        Ok(Db {
            inner,
            threads: Mutex::new(threads),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    pub fn durability(&self) -> Durability {
        self.inner.opts.durability
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Applies a batch atomically; it is visible to readers when this returns. Returns the log
    /// position to pass to `write_out`/`sync_to` for the durability the caller needs.
    pub fn write(&self, batch: &WriteBatch) -> Result<u64> {
        self.inner.write(batch)
    }

    pub fn put(&self, key: &[u8], value: &[u8], expires_at: u64) -> Result<u64> {
        let mut b = WriteBatch::with_capacity(1);
        b.put(key.to_vec(), value.to_vec(), expires_at);
        self.write(&b)
    }

    pub fn delete(&self, key: &[u8]) -> Result<u64> {
        let mut b = WriteBatch::with_capacity(1);
        b.delete(key.to_vec());
        self.write(&b)
    }

    /// Hands buffered log records to the OS; returns the LSN now in the log.
    pub fn write_out(&self) -> Result<u64> {
        self.inner.check_open()?;
        self.inner.wal.write_out()
    }

    /// Blocks until an fsync covers `lsn` (group commit: concurrent callers share fsyncs).
    pub fn sync_to(&self, lsn: u64) -> Result<()> {
        self.inner.check_open()?;
        self.inner.wal.sync_to(lsn)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get_with(key, |v| v.to_vec())
    }

    /// Calls `f` with the live value of `key`, letting the caller copy straight out of the
    /// memtable, cache or mmap.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.inner.get_with(key, f)
    }

    /// A cursor over a consistent snapshot: writes after this call are not seen.
    pub fn cursor(&self, opts: ScanOptions) -> Result<Cursor> {
        self.inner.check_open()?;
        Ok(Cursor {
            version: self.inner.version.load_full(),
            seqno: self.inner.visible_seqno.load(Ordering::Acquire),
            next_start: opts.start.unwrap_or(Bound::Unbounded),
            end: opts.end.unwrap_or(Bound::Unbounded),
            remaining: opts.limit.unwrap_or(u64::MAX),
            now_ms: now_ms(),
            done: false,
        })
    }

    /// Freezes the memtable (when not empty) and waits until every frozen memtable is in an SSTable.
    pub fn flush(&self) -> Result<()> {
        self.inner.check_open()?;
        {
            let mut w = self.inner.write.lock();
            let v = self.inner.version.load();
            if !v.active.is_empty() {
                self.inner.rotate(&mut w)?;
            }
        }
        self.inner
            .wait_until(|inner| inner.version.load().immutables.is_empty())
    }

    /// Flushes, then merges every table into one level, dropping overwritten, deleted and expired data.
    pub fn compact(&self) -> Result<()> {
        self.flush()?;
        let _c = self.inner.compaction.lock();
        let summary = self.inner.level_summary();
        if let Some(task) = policy::full(&summary) {
            self.inner.run_compaction(&task)?;
        }
        Ok(())
    }

    /// Digest of the live entries in a key range, cut into `segments` leaves by key hash.
    pub fn merkle(&self, opts: ScanOptions, segments: u32) -> Result<MerkleSummary> {
        let mut builder = MerkleBuilder::new(segments)?;
        let mut cursor = self.cursor(opts)?;
        while cursor.next_batch(4096, usize::MAX, |k, v, exp| builder.add(k, v, exp))? {}
        Ok(builder.finish())
    }

    /// Keys and entry hashes of the live entries in a range whose segment is in `wanted`: what a
    /// replica sends for the leaves that differ.
    pub fn merkle_entries(
        &self,
        opts: ScanOptions,
        segments: u32,
        wanted: &[u32],
    ) -> Result<Vec<(Vec<u8>, [u8; 32])>> {
        let wanted: HashSet<u32> = wanted.iter().copied().collect();
        let mut out = Vec::new();
        let mut cursor = self.cursor(opts)?;
        while cursor.next_batch(4096, usize::MAX, |k, v, exp| {
            if wanted.contains(&segment_of(k, segments)) {
                out.push((k.to_vec(), entry_hash(k, v, exp)));
            }
        })? {}
        Ok(out)
    }

    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Stops background work, fsyncs the log and releases nothing yet: the directory lock is
    /// released when the last handle (including cursors' engines) is dropped.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut s = self.inner.signals.lock();
            s.shutdown = true;
        }
        self.inner.wakeup.notify_all();
        self.inner.sync_wakeup.notify_all();
        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
        // Take the write lock so no writer is mid-append while the log is synced for the last time.
        let _w = self.inner.write.lock();
        self.inner.wal.sync()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn spawn(name: &str, inner: &Arc<Inner>, body: fn(&Inner)) -> Result<JoinHandle<()>> {
    let inner = Arc::clone(inner);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || body(&inner))
        .map_err(Error::from)
}

pub struct Cursor {
    version: Arc<crate::version::Version>,
    seqno: SeqNo,
    next_start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    remaining: u64,
    now_ms: u64,
    done: bool,
}

impl Cursor {
    /// Emits up to `max_entries` live entries (and stops early once `max_bytes` of keys and values
    /// are emitted). Returns whether more may follow. Each call re-seeks from the last key, so a
    /// cursor owns no iterator state between calls and can be held by JavaScript indefinitely.
    pub fn next_batch(
        &mut self,
        max_entries: usize,
        max_bytes: usize,
        mut emit: impl FnMut(&[u8], &[u8], u64),
    ) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let start = match &self.next_start {
            Bound::Unbounded => Bound::Unbounded,
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        };
        let sources = sources(&self.version, start, self.seqno)?;
        let mut it = LiveIter::new(MergeIter::new(sources), self.end.clone(), self.now_ms)?;
        let mut emitted = 0usize;
        let mut bytes = 0usize;
        while it.valid() && self.remaining > 0 && emitted < max_entries && bytes < max_bytes {
            emit(it.key(), it.value(), it.expires_at());
            emitted += 1;
            bytes += it.key().len() + it.value().len();
            self.remaining -= 1;
            self.next_start = Bound::Excluded(it.key().to_vec());
            it.advance()?;
        }
        if !it.valid() || self.remaining == 0 {
            self.done = true;
        }
        Ok(!self.done)
    }
}

/// Every source of a snapshot, newest first, positioned at `start`.
fn sources(
    v: &crate::version::Version,
    start: Bound<&[u8]>,
    seqno: SeqNo,
) -> Result<Vec<Box<dyn EntryIter>>> {
    let mut out: Vec<Box<dyn EntryIter>> = Vec::new();
    for m in v.memtables() {
        out.push(Box::new(m.iter_from(start, seqno)));
    }
    let mut levels = v.levels.iter();
    if let Some(l0) = levels.next() {
        for t in l0 {
            out.push(Box::new(LevelIter::new(vec![Arc::clone(t)], start)?));
        }
    }
    for level in levels {
        if !level.is_empty() {
            out.push(Box::new(LevelIter::new(level.clone(), start)?));
        }
    }
    Ok(out)
}

struct Recovered {
    manifest: Manifest,
    levels: Vec<Vec<Arc<Table>>>,
    wal_segment: u64,
}

/// Opens the tables the manifest names, replays the WAL segments it does not cover into an
/// SSTable, records the result in a new manifest, then deletes what no manifest refers to.
fn recover(dir: &Path, opts: &Options, table_opts: &TableOptions) -> Result<Recovered> {
    let mut manifest = Manifest::load(dir)?.unwrap_or(Manifest {
        next_file_number: 1,
        last_seqno: 0,
        log_number: 0,
        tables: Vec::new(),
    });
    // A crash can leave tables a flush or compaction wrote but no manifest named; they may hold
    // the very numbers recovery is about to use, so they go first.
    remove_obsolete_files(dir, &manifest)?;
    let mut levels: Vec<Vec<Arc<Table>>> = vec![Vec::new(); opts.max_levels];
    for r in &manifest.tables {
        let path = manifest::table_path(dir, r.file_number);
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        if size != r.file_size {
            return Err(Error::corruption(
                &path,
                size.min(r.file_size),
                format!(
                    "table is {size} bytes but the manifest recorded {}",
                    r.file_size
                ),
            ));
        }
        let level = levels.get_mut(r.level as usize).ok_or_else(|| {
            Error::corruption(
                manifest::path(dir),
                0,
                format!(
                    "table {} at level {} beyond maxLevels",
                    r.file_number, r.level
                ),
            )
        })?;
        level.push(Table::open(&path, r.file_number)?);
    }
    // L0 newest first (higher file numbers are newer); deeper levels by key.
    if let Some(l0) = levels.first_mut() {
        l0.sort_by_key(|t| std::cmp::Reverse(t.file_number()));
    }
    for level in levels.iter_mut().skip(1) {
        level.sort_by(|a, b| a.meta().smallest_key.cmp(&b.meta().smallest_key));
    }

    let segments: Vec<u64> = wal::list_segments(dir)?
        .into_iter()
        .filter(|n| *n >= manifest.log_number)
        .collect();
    let replayed = Arc::new(Memtable::new(0));
    let mut last_seqno = manifest.last_seqno;
    let mut max_number = manifest.next_file_number.saturating_sub(1);
    // Each segment but the last was fsynced whole before the next one began, so it must replay to
    // its end: to the end of its file, or, for a recycled file, which holds its previous life past
    // the new records, to exactly the LSN the next segment starts at.
    let mut previous: Option<(PathBuf, wal::ReplayOutcome)> = None;
    for &number in &segments {
        max_number = max_number.max(number);
        let path = wal::segment_path(dir, number);
        let outcome = wal::replay_segment(&path, |payload| {
            batch::decode(payload, |op| {
                replayed.insert(op.key, op.seqno, op.kind, op.expires_at, op.value);
                last_seqno = last_seqno.max(op.seqno);
                Ok(())
            })
            .map(|_| ())
            .map_err(|e| {
                Error::corruption(
                    &path,
                    0,
                    format!("a log record passed its checksum but {e}"),
                )
            })
        })?;
        if let Some(old) = outcome
            .stale_header
            .filter(|&old| old >= manifest.log_number)
        {
            return Err(Error::corruption(
                &path,
                0,
                format!("the file holds log segment {old}, which the manifest still needs (log number {})", manifest.log_number),
            ));
        }
        if let Some((prev_path, prev)) = previous.take() {
            check_completed_segment(&prev_path, &prev, outcome.header.as_ref())?;
        }
        previous = Some((path, outcome));
    }
    for t in levels.iter().flatten() {
        max_number = max_number.max(t.file_number());
    }
    manifest.next_file_number = manifest.next_file_number.max(max_number + 1);
    manifest.last_seqno = last_seqno;

    if !replayed.is_empty() {
        let number = manifest.next_file_number;
        manifest.next_file_number += 1;
        let path = manifest::table_path(dir, number);
        let table = build_table_from_memtable(&replayed, &path, number, table_opts)?;
        manifest.tables.push(TableRef {
            level: 0,
            file_number: number,
            file_size: table.meta().file_size,
        });
        if let Some(l0) = levels.first_mut() {
            l0.insert(0, table);
        }
    }
    let wal_segment = manifest.next_file_number;
    manifest.next_file_number += 1;
    manifest.log_number = wal_segment;
    manifest.store(dir)?;
    remove_obsolete_files(dir, &manifest)?;
    Ok(Recovered {
        manifest,
        levels,
        wal_segment,
    })
}

/// Checks that a segment which another one follows replayed whole (see `recover`). When the next
/// segment's header was torn (a crash while rotating), a recycled segment's end cannot be checked
/// against it and is taken as it is: rotation had fsynced it before starting the next.
fn check_completed_segment(
    path: &Path,
    outcome: &wal::ReplayOutcome,
    next: Option<&wal::SegmentHeader>,
) -> Result<()> {
    let Some(torn) = &outcome.torn_tail else {
        return Ok(());
    };
    match (outcome.end_lsn(), next) {
        (Some(end), Some(next)) if end == next.start_lsn => Ok(()),
        (Some(_), None) => Ok(()),
        (end, next) => Err(Error::corruption(
            path,
            torn.offset,
            format!(
                "damaged record in a completed log segment: {} (its records end at LSN {}, the next segment starts at {})",
                torn.reason,
                end.map_or_else(|| "?".to_string(), |e| e.to_string()),
                next.map_or_else(|| "?".to_string(), |h| h.start_lsn.to_string()),
            ),
        )),
    }
}

/// Deletes log segments the manifest no longer needs, tables it does not name, and temp files.
fn remove_obsolete_files(dir: &Path, manifest: &Manifest) -> Result<()> {
    let live: HashSet<u64> = manifest.tables.iter().map(|t| t.file_number).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let obsolete = if let Some(n) = name
            .strip_suffix(".sst")
            .and_then(|s| s.parse::<u64>().ok())
        {
            !live.contains(&n)
        } else if let Some(n) = name
            .strip_suffix(".log")
            .and_then(|s| s.parse::<u64>().ok())
        {
            n < manifest.log_number
        } else {
            name.ends_with(".tmp")
        };
        if obsolete {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

fn build_table_from_memtable(
    mem: &Arc<Memtable>,
    path: &Path,
    number: u64,
    opts: &TableOptions,
) -> Result<Arc<Table>> {
    let mut it = mem.iter_from(Bound::Unbounded, SeqNo::MAX);
    let mut builder = TableBuilder::create(path, opts.clone())?;
    let mut last: Option<Vec<u8>> = None;
    while it.valid() {
        // Only the newest version: readers needing older ones still hold this memtable.
        if last.as_deref() != Some(it.key()) {
            if let Err(e) =
                builder.add(it.key(), it.seqno(), it.kind(), it.expires_at(), it.value())
            {
                let _ = builder.abandon();
                return Err(e);
            }
            last = Some(it.key().to_vec());
        }
        it.next()?;
    }
    builder.finish()?;
    Table::open(path, number)
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        match self.background_error.lock().as_ref() {
            Some(e) => Err(Error::Background(e.clone())),
            None => Ok(()),
        }
    }

    fn set_background_error(&self, e: &Error) {
        let mut slot = self.background_error.lock();
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
        drop(slot);
        self.wakeup.notify_all();
    }

    fn new_file_number(&self) -> u64 {
        self.next_file_number.fetch_add(1, Ordering::AcqRel)
    }

    fn write(&self, batch: &WriteBatch) -> Result<u64> {
        self.check_writable()?;
        for op in &batch.ops {
            if op.key.len() > self.opts.max_key_bytes {
                return Err(Error::KeyTooLarge {
                    len: op.key.len(),
                    max: self.opts.max_key_bytes,
                });
            }
            if op.value.len() > self.opts.max_value_bytes {
                return Err(Error::ValueTooLarge {
                    len: op.value.len(),
                    max: self.opts.max_value_bytes,
                });
            }
        }
        if batch.is_empty() {
            return Ok(self.wal.appended_lsn());
        }
        let mut w = self.write.lock();
        self.make_room(&mut w)?;
        let base = w.last_seqno + 1;
        let mut buf = std::mem::take(&mut w.encode_buf);
        batch.encode_into(base, &mut buf);
        let appended = self.wal.append(&buf);
        w.encode_buf = buf;
        let lsn = appended?;
        let version = self.version.load();
        for (i, op) in batch.ops.iter().enumerate() {
            version
                .active
                .insert(&op.key, base + i as u64, op.kind, op.expires_at, &op.value);
        }
        w.last_seqno = base + batch.len() as u64 - 1;
        self.visible_seqno.store(w.last_seqno, Ordering::Release);
        drop(w);
        self.wake_idle_syncer();
        if self.cache.enabled() {
            for op in &batch.ops {
                self.cache.invalidate(&op.key, key_hash(&op.key));
            }
        }
        self.counters
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.counters.write_batches.fetch_add(1, Ordering::Relaxed);
        Ok(lsn)
    }

    /// Keeps memory and L0 bounded: freezes a full memtable, and makes the writer wait (or slow
    /// down) while flushes or compactions are behind.
    fn make_room(&self, w: &mut WriteState) -> Result<()> {
        let mut slowed = false;
        loop {
            let v = self.version.load();
            let l0 = v.levels.first().map(Vec::len).unwrap_or(0);
            if l0 >= self.opts.l0_stop_trigger {
                self.stall(|inner| {
                    inner
                        .version
                        .load()
                        .levels
                        .first()
                        .map(Vec::len)
                        .unwrap_or(0)
                        < inner.opts.l0_stop_trigger
                })?;
                continue;
            }
            if l0 >= self.opts.l0_slowdown_trigger && !slowed {
                slowed = true;
                self.counters.slowdowns.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if v.active.approximate_bytes() < self.opts.memtable_bytes {
                return Ok(());
            }
            if v.immutables.len() >= self.opts.max_immutable_memtables {
                self.stall(|inner| {
                    inner.version.load().immutables.len() < inner.opts.max_immutable_memtables
                })?;
                continue;
            }
            return self.rotate(w);
        }
    }

    fn stall(&self, done: impl Fn(&Inner) -> bool) -> Result<()> {
        let started = std::time::Instant::now();
        self.counters.stalls.fetch_add(1, Ordering::Relaxed);
        {
            let mut s = self.signals.lock();
            s.flush_requested = true;
            s.compaction_requested = true;
        }
        self.wakeup.notify_all();
        let r = self.wait_until(done);
        self.counters
            .stall_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        r
    }

    /// Waits (woken by background threads) until `done` holds, the engine closes or fails.
    fn wait_until(&self, done: impl Fn(&Inner) -> bool) -> Result<()> {
        let mut s = self.signals.lock();
        loop {
            if done(self) {
                return Ok(());
            }
            if s.shutdown {
                return Err(Error::Closed);
            }
            if let Some(e) = self.background_error.lock().as_ref() {
                return Err(Error::Background(e.clone()));
            }
            self.wakeup.wait_for(&mut s, Duration::from_millis(50));
        }
    }

    /// Freezes the active memtable and starts a new one on a new log segment.
    fn rotate(&self, _w: &mut WriteState) -> Result<()> {
        let number = self.new_file_number();
        self.wal.rotate(number)?;
        let fresh = Arc::new(Memtable::with_pool(
            number,
            Some(Arc::clone(&self.huge_pages)),
        ));
        {
            let _e = self.edit.lock();
            let cur = self.version.load();
            let mut next = (**cur).clone();
            next.immutables.insert(0, Arc::clone(&cur.active));
            next.active = fresh;
            self.version.store(Arc::new(next));
        }
        self.signals.lock().flush_requested = true;
        self.wakeup.notify_all();
        Ok(())
    }

    fn get_with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.check_open()?;
        let v = self.version.load();
        let seqno = self.visible_seqno.load(Ordering::Acquire);
        let hash = key_hash(key);
        let mut f = Some(f);
        for m in v.memtables() {
            let hit = m.get_hashed(key, hash, seqno, |found| {
                if live_now(found.kind, found.expires_at) {
                    Some(f.take().map(|f| f(found.value)))
                } else {
                    None
                }
            });
            if let Some(result) = hit {
                return Ok(result.flatten());
            }
        }
        if let Some(row) = self.cache.get(key, hash) {
            if !live_now(ValueKind::Put, row.expires_at) {
                return Ok(None);
            }
            return Ok(f.take().map(|f| f(&row.value)));
        }
        let generation = self.cache.generation(hash);
        // L0 newest first, then the one table per deeper level whose range holds the key.
        let (l0, deeper): (&[Arc<Table>], &[Vec<Arc<Table>>]) = match v.levels.split_first() {
            Some((l0, deeper)) => (l0, deeper),
            None => (&[], &[]),
        };
        let tables = l0.iter().chain(deeper.iter().filter_map(|ts| {
            crate::version::Version::find_in_level(ts, key).and_then(|i| ts.get(i))
        }));
        let (mut checks, mut skips) = (0, 0);
        let mut found_in_table = None;
        for t in tables {
            checks += 1;
            if !t.may_contain(hash) {
                skips += 1;
                continue;
            }
            if let Some(found) = t.get(key, SeqNo::MAX)? {
                found_in_table = Some(found);
                break;
            }
        }
        // Counted once per read rather than per table: the counters are shared by every thread.
        self.counters
            .bloom_checks
            .fetch_add(checks, Ordering::Relaxed);
        if skips > 0 {
            self.counters
                .bloom_skips
                .fetch_add(skips, Ordering::Relaxed);
        }
        let Some(found) = found_in_table else {
            return Ok(None);
        };
        if !live_now(found.kind, found.expires_at) {
            return Ok(None);
        }
        if self.cache.admit(hash) {
            let row = CachedRow {
                value: Arc::from(found.value),
                expires_at: found.expires_at,
            };
            self.cache.insert(key, hash, generation, row);
        }
        Ok(f.take().map(|f| f(found.value)))
    }

    fn flush_loop(&self) {
        loop {
            {
                let mut s = self.signals.lock();
                while !s.shutdown && !s.flush_requested && self.version.load().immutables.is_empty()
                {
                    self.wakeup.wait_for(&mut s, Duration::from_millis(100));
                }
                if s.shutdown {
                    return;
                }
                s.flush_requested = false;
            }
            while let Some(mem) = self.version.load().immutables.last().cloned() {
                if let Err(e) = self.flush_memtable(&mem) {
                    self.set_background_error(&e);
                    return;
                }
                self.signals.lock().compaction_requested = true;
                self.wakeup.notify_all();
                if self.signals.lock().shutdown {
                    return;
                }
            }
        }
    }

    fn flush_memtable(&self, mem: &Arc<Memtable>) -> Result<()> {
        let table = if mem.is_empty() {
            None
        } else {
            let number = self.new_file_number();
            let path = manifest::table_path(&self.dir, number);
            Some(build_table_from_memtable(
                mem,
                &path,
                number,
                &self.table_opts,
            )?)
        };
        let log_number;
        {
            let mut e = self.edit.lock();
            let cur = self.version.load();
            let mut next = (**cur).clone();
            next.immutables.retain(|m| !Arc::ptr_eq(m, mem));
            if let (Some(t), Some(l0)) = (&table, next.levels.first_mut()) {
                l0.insert(0, Arc::clone(t));
            }
            log_number = next.memtables().map(|m| m.wal_segment()).min().unwrap_or(0);
            let mut m = e.manifest.clone();
            if let Some(t) = &table {
                m.tables.push(TableRef {
                    level: 0,
                    file_number: t.file_number(),
                    file_size: t.meta().file_size,
                });
            }
            m.log_number = log_number;
            m.last_seqno = m.last_seqno.max(mem.max_seqno());
            m.next_file_number = self.next_file_number.load(Ordering::Acquire);
            m.store(&self.dir)?;
            e.manifest = m;
            self.version.store(Arc::new(next));
        }
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = &table {
            self.counters
                .flush_bytes
                .fetch_add(t.meta().file_size, Ordering::Relaxed);
        }
        for n in wal::list_segments(&self.dir)? {
            if n < log_number {
                self.wal.retire(n)?;
            }
        }
        Ok(())
    }

    fn compaction_loop(&self) {
        loop {
            {
                let mut s = self.signals.lock();
                if !s.shutdown && !s.compaction_requested {
                    // Also wake now and then: values expire without any write announcing it.
                    self.wakeup.wait_for(&mut s, Duration::from_secs(1));
                }
                if s.shutdown {
                    return;
                }
                s.compaction_requested = false;
            }
            let _c = self.compaction.lock();
            loop {
                if self.signals.lock().shutdown {
                    return;
                }
                let summary = self.level_summary();
                let task = {
                    let e = self.edit.lock();
                    policy::pick(&summary, &self.opts, &e.compaction_cursors, now_ms())
                };
                let Some(task) = task else { break };
                if let Err(e) = self.run_compaction(&task) {
                    self.set_background_error(&e);
                    return;
                }
                self.wakeup.notify_all();
            }
        }
    }

    fn level_summary(&self) -> Vec<Vec<FileSummary>> {
        let v = self.version.load();
        v.levels
            .iter()
            .map(|ts| {
                ts.iter()
                    .map(|t| FileSummary {
                        number: t.file_number(),
                        size: t.meta().file_size,
                        smallest: t.meta().smallest_key.clone(),
                        largest: t.meta().largest_key.clone(),
                        min_expiry: t.meta().min_expiry,
                    })
                    .collect()
            })
            .collect()
    }

    /// Runs a task chosen by the policy. The caller holds the compaction lock, so the input
    /// tables cannot disappear underneath (only compaction removes tables).
    fn run_compaction(&self, task: &Task) -> Result<()> {
        let v = self.version.load_full();
        let by_number: HashMap<u64, &Arc<Table>> =
            v.tables().map(|(_, t)| (t.file_number(), t)).collect();
        let mut sources: Vec<Box<dyn EntryIter>> = Vec::new();
        let mut removed: HashSet<u64> = HashSet::new();
        for (level, numbers) in &task.inputs {
            let tables: Vec<Arc<Table>> = numbers
                .iter()
                .filter_map(|n| by_number.get(n).map(|t| Arc::clone(t)))
                .collect();
            removed.extend(tables.iter().map(|t| t.file_number()));
            if *level == 0 {
                for t in tables {
                    sources.push(Box::new(LevelIter::new(vec![t], Bound::Unbounded)?));
                }
            } else if !tables.is_empty() {
                let mut tables = tables;
                tables.sort_by(|a, b| a.meta().smallest_key.cmp(&b.meta().smallest_key));
                sources.push(Box::new(LevelIter::new(tables, Bound::Unbounded)?));
            }
        }
        if removed.is_empty() {
            return Ok(());
        }
        let mut merged = MergeIter::new(sources);
        let out = worker::write_tables(
            &mut merged,
            task.bottommost,
            now_ms(),
            self.opts.target_file_bytes,
            &self.table_opts,
            || {
                let n = self.new_file_number();
                (manifest::table_path(&self.dir, n), n)
            },
        )?;
        {
            let mut e = self.edit.lock();
            let cur = self.version.load();
            let mut next = (**cur).clone();
            for level in next.levels.iter_mut() {
                level.retain(|t| !removed.contains(&t.file_number()));
            }
            if let Some(level) = next.levels.get_mut(task.output_level) {
                level.extend(out.tables.iter().cloned());
                level.sort_by(|a, b| a.meta().smallest_key.cmp(&b.meta().smallest_key));
            }
            let mut m = e.manifest.clone();
            m.tables.retain(|t| !removed.contains(&t.file_number));
            for t in &out.tables {
                m.tables.push(TableRef {
                    level: task.output_level as u8,
                    file_number: t.file_number(),
                    file_size: t.meta().file_size,
                });
            }
            m.next_file_number = self.next_file_number.load(Ordering::Acquire);
            m.store(&self.dir)?;
            e.manifest = m;
            if let Some((level, numbers)) = task.inputs.first() {
                if *level > 0 {
                    let largest = numbers
                        .iter()
                        .filter_map(|n| by_number.get(n))
                        .map(|t| t.meta().largest_key.clone())
                        .max();
                    if let (Some(k), Some(c)) = (largest, e.compaction_cursors.get_mut(*level)) {
                        *c = k;
                    }
                }
            }
            self.version.store(Arc::new(next));
        }
        for n in &removed {
            let p = manifest::table_path(&self.dir, *n);
            // Readers holding an old Version keep the mapping; unlinking only frees the name.
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        self.counters
            .compaction_bytes_read
            .fetch_add(out.bytes_read, Ordering::Relaxed);
        self.counters
            .compaction_bytes_written
            .fetch_add(out.bytes_written, Ordering::Relaxed);
        Ok(())
    }

    /// Whether the sync thread has work: records appended and not yet fsynced, in a mode where
    /// it (not the writers) fsyncs them.
    fn has_unsynced(&self) -> bool {
        self.opts.durability != Durability::Sync && self.wal.synced_lsn() < self.wal.appended_lsn()
    }

    /// Called after every write: wakes the sync thread if it sleeps with nothing to sync.
    ///
    /// The fence pairs with the one in `sync_loop` (Dekker style): either this load sees
    /// `sync_idle` set, or the sync thread's re-check sees this write's append, so a write never
    /// waits for the idle sleep's safety timeout. The notify takes `signals`, which the sync thread
    /// holds from its re-check into its wait, so the wake-up cannot fall between the two.
    fn wake_idle_syncer(&self) {
        // In `sync` mode writers fsync for themselves: the thread has nothing to do, and waking it
        // would cost every write a context switch.
        if self.opts.durability == Durability::Sync {
            return;
        }
        fence(Ordering::SeqCst);
        if self.sync_idle.load(Ordering::Relaxed) {
            self.counters.sync_wakeups.fetch_add(1, Ordering::Relaxed);
            let _s = self.signals.lock();
            self.sync_wakeup.notify_one();
        }
    }

    /// Fsyncs the log `sync_interval_ms` after records arrive. With nothing to sync it sleeps
    /// until a write wakes it instead of polling: an idle engine (or one that only serves reads)
    /// should not wake a thread 200 times a second, which on a shared or virtualised machine
    /// costs every other process there a context switch each time.
    fn sync_loop(&self) {
        /// Upper bound of an idle sleep; only a bug could make it matter (see `wake_idle_syncer`).
        const IDLE_RECHECK: Duration = Duration::from_secs(5);
        let interval = Duration::from_millis(self.opts.sync_interval_ms);
        loop {
            {
                let mut s = self.signals.lock();
                if s.shutdown {
                    return;
                }
                if !self.has_unsynced() {
                    self.sync_idle.store(true, Ordering::Relaxed);
                    fence(Ordering::SeqCst);
                    if !self.has_unsynced() {
                        self.sync_wakeup.wait_for(&mut s, IDLE_RECHECK);
                    }
                    self.sync_idle.store(false, Ordering::Relaxed);
                    // Woken by a write: its records get the interval from now, like any others.
                    continue;
                }
                self.wakeup.wait_for(&mut s, interval);
                if s.shutdown {
                    return;
                }
            }
            if self.has_unsynced() {
                if let Err(e) = self.wal.sync() {
                    self.set_background_error(&e);
                    return;
                }
            }
        }
    }

    fn stats(&self) -> Stats {
        let v = self.version.load();
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            levels: v
                .levels
                .iter()
                .map(|ts| LevelStats {
                    tables: ts.len() as u64,
                    bytes: ts.iter().map(|t| t.meta().file_size).sum(),
                })
                .collect(),
            memtable_bytes: v.memtables().map(|m| m.approximate_bytes() as u64).sum(),
            immutable_memtables: v.immutables.len() as u64,
            disk_bytes: dir_bytes(&self.dir),
            wal_bytes_written: self.wal.bytes_written(),
            wal_fsyncs: self.wal.fsync_count(),
            wal_sync_wakeups: load(&c.sync_wakeups),
            wal_recycled_segments: self.wal.recycled_count(),
            last_seqno: self.visible_seqno.load(Ordering::Acquire),
            cache_hits: self.cache.hits(),
            cache_misses: self.cache.misses(),
            cache_bytes: self.cache.weight(),
            bloom_checks: load(&c.bloom_checks),
            bloom_skips: load(&c.bloom_skips),
            flushes: load(&c.flushes),
            flush_bytes: load(&c.flush_bytes),
            compactions: load(&c.compactions),
            compaction_bytes_read: load(&c.compaction_bytes_read),
            compaction_bytes_written: load(&c.compaction_bytes_written),
            stalls: load(&c.stalls),
            stall_micros: load(&c.stall_micros),
            slowdowns: load(&c.slowdowns),
            writes: load(&c.writes),
            write_batches: load(&c.write_batches),
        }
    }
}

/// `is_live` at the current time, reading the clock only for a value that can expire.
#[inline]
fn live_now(kind: ValueKind, expires_at: u64) -> bool {
    kind == ValueKind::Put
        && (expires_at == crate::types::NO_EXPIRY || is_live(kind, expires_at, now_ms()))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    /// `huge_pages` reaches the memtable's arena: off, its pages are advised against huge pages,
    /// on (the default), for them.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_huge_pages_option_decides_how_the_arena_is_advised() {
        for (huge_pages, flag) in [(true, "hg"), (false, "nh")] {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::open(
                dir.path(),
                Options {
                    huge_pages,
                    ..Options::default()
                },
            )
            .unwrap();
            for i in 0..12_000u32 {
                db.put(&i.to_be_bytes(), &[7u8; 1000], 0).unwrap();
            }
            let pages = db.inner.version.load().active.page_chunks();
            assert!(pages.len() >= 3, "{} page chunks for 12 MB", pages.len());
            for p in pages {
                let flags = crate::huge::vm_flags_at(p).unwrap();
                assert!(
                    flags.split_whitespace().any(|f| f == flag),
                    "huge_pages {huge_pages}: VmFlags '{flags}' lack '{flag}'"
                );
            }
        }
    }

    /// L0 file numbers of the current version, newest first.
    fn l0(db: &Db) -> Vec<u64> {
        db.inner.version.load().levels[0]
            .iter()
            .map(|t| t.file_number())
            .collect()
    }

    /// Moves every L0 table to `level` (no tombstone dropped), as compactions long past would have.
    fn push_l0_down(db: &Db, level: usize) {
        db.inner
            .run_compaction(&Task {
                reason: policy::Reason::Manual,
                inputs: vec![(0, l0(db))],
                output_level: level,
                bottommost: false,
            })
            .unwrap();
    }

    /// A compaction whose output level holds a tombstone outside the key range of the files that
    /// chose it must keep that tombstone while a deeper level still holds the key: an acknowledged
    /// delete came undone this way (seen by the SIGKILL test as "acknowledged delete undone").
    #[test]
    fn compaction_keeps_a_tombstone_of_a_pulled_in_file_that_shadows_a_deeper_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            Options {
                memtable_bytes: 64 * 1024,
                target_file_bytes: 64 * 1024,
                l0_compaction_trigger: 1,
                ..Options::default()
            },
        )
        .unwrap();
        // Only this test compacts: the background compactor waits for this lock.
        let compaction = db.inner.compaction.lock();

        // L2: b = old.
        db.put(b"b", b"old", 0).unwrap();
        db.flush().unwrap();
        push_l0_down(&db, 2);
        // L1: a, b deleted, e (one file spanning a..e).
        db.put(b"a", b"x", 0).unwrap();
        db.delete(b"b").unwrap();
        db.put(b"e", b"x", 0).unwrap();
        db.flush().unwrap();
        push_l0_down(&db, 1);
        // L0: c, d -- a range that overlaps the L1 file but leaves out b.
        db.put(b"c", b"x", 0).unwrap();
        db.put(b"d", b"x", 0).unwrap();
        db.flush().unwrap();
        assert_eq!(db.get(b"b").unwrap(), None);

        let task = policy::pick(&db.inner.level_summary(), &db.inner.opts, &[], now_ms())
            .expect("one L0 file is enough to compact");
        assert_eq!(task.output_level, 1);
        assert_eq!(task.inputs.len(), 2);
        assert_eq!(
            task.inputs[1].1.len(),
            1,
            "the L1 file spanning a..e is pulled in"
        );
        db.inner.run_compaction(&task).unwrap();
        assert_eq!(db.get(b"b").unwrap(), None, "the delete of b came undone");
        drop(compaction);

        db.close().unwrap();
        drop(db);
        let db = Db::open(dir.path(), Options::default()).unwrap();
        assert_eq!(
            db.get(b"b").unwrap(),
            None,
            "the delete of b came undone after reopen"
        );
        assert_eq!(db.get(b"c").unwrap(), Some(b"x".to_vec()));
    }
}
