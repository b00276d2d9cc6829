//! The appending side of the log: an in-process buffer, write-out to the OS, group-committed
//! fdatasync and segment rotation. See `wal/mod.rs` for the format and the guarantees.
//!
//! Locks, always taken in this order, never held across a wait on a later one in reverse:
//! 1. `output`  — serialises hand-offs to the OS and segment switches, so bytes reach the files
//!    in LSN order. Held during write(2), never during a group-commit fdatasync.
//! 2. `sync_serial` — at most one fdatasync at a time (see `sync_and_publish` for why).
//! 3. `pending` — the append buffer. Held only for a memcpy, or a buffer swap.
//!
//! `leader` (the group-commit election) is never held while any of the others is taken. `retired`
//! (the segments kept for reuse) is a leaf: held only to push or pop a number, under `output`
//! during a rotation or alone in `retire`, never while a file is deleted.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};

use super::record::{
    self, Salt, SegmentHeader, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use super::segment_path;
use crate::error::{Error, Result};
use crate::fsutil::sync_dir;

/// Once the append buffer holds this much, the appender that crossed it writes it out, which
/// bounds the memory a burst of appends can pin and the data a process crash can lose.
pub const WRITE_OUT_THRESHOLD: usize = 1 << 20;

/// A buffer that grew past this for one huge record is dropped rather than kept for reuse.
const MAX_RETAINED_BUFFER: usize = 4 * WRITE_OUT_THRESHOLD;

struct Segment {
    number: u64,
    path: PathBuf,
    file: File,
}

struct Pending {
    bytes: Vec<u8>,
    appended_lsn: u64,
    /// LSN of byte 0 of the segment the pending bytes belong to: record header checksums are
    /// salted with the file offset, and appenders compute it from this.
    segment_start_lsn: u64,
    /// ... and with the segment's number.
    segment_number: u64,
}

struct Output {
    /// Shared so a group-commit leader can fdatasync it after letting go of `output`.
    segment: Arc<Segment>,
    /// The previous write-out's buffer, kept so that swapping buffers does not allocate.
    spare: Vec<u8>,
}

/// Appends records to numbered segment files in `dir`. `Send + Sync`; every method takes `&self`.
///
/// LSNs are byte positions in the concatenation of all segments, headers included, counted from
/// the `start_lsn` given to `create`: within a segment, `lsn - header.start_lsn` is a file offset.
///
/// Three positions only ever grow: `appended_lsn >= written_lsn >= synced_lsn`. Appended bytes
/// live in this process; written bytes are in the OS (they survive a process crash); synced
/// bytes are on stable storage (they survive a machine crash).
///
/// Any failed write(2) or fdatasync poisons the writer for good: every later append, write-out,
/// sync or rotation returns an error. An fdatasync is never retried, because after a failed one
/// Linux may have dropped the dirty pages and a retry would "succeed" without the data
/// (PostgreSQL's "fsyncgate"). The engine must reopen (and replay) to write again.
pub struct WalWriter {
    dir: PathBuf,
    pending: Mutex<Pending>,
    output: Mutex<Output>,
    sync_serial: Mutex<()>,
    /// Whether a group-commit leader is at work; followers wait on `synced_cv`.
    leader: Mutex<bool>,
    synced_cv: Condvar,
    appended: AtomicU64,
    written: AtomicU64,
    synced: AtomicU64,
    segment: AtomicU64,
    fsyncs: AtomicU64,
    bytes_written: AtomicU64,
    /// Retired segments kept for reuse, oldest first, and how many may be kept.
    retired: Mutex<Vec<u64>>,
    recycle_limit: usize,
    recycled: AtomicU64,
    failure: OnceLock<String>,
    #[cfg(test)]
    faults: tests::Faults,
}

/// Hands leadership back and wakes the followers even if the leader's work failed or panicked,
/// so that no follower waits forever.
struct LeaderGuard<'a>(&'a WalWriter);

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        *self.0.leader.lock() = false;
        self.0.synced_cv.notify_all();
    }
}

impl WalWriter {
    /// Creates segment file `number` in `dir` (which must not exist yet), writes and fsyncs its
    /// header, and fsyncs the directory, so the empty log is durable when this returns.
    /// `start_lsn` is the LSN of the segment's first byte.
    pub fn create(dir: &Path, number: u64, start_lsn: u64) -> Result<WalWriter> {
        let header_end = start_lsn
            .checked_add(SEGMENT_HEADER_LEN as u64)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "start_lsn {start_lsn} leaves no room for a log segment"
                ))
            })?;
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let header = SegmentHeader { number, start_lsn }.encode();
        let setup = (&file)
            .write_all(&header)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io(&path, e))
            .and_then(|()| sync_dir(dir));
        if let Err(e) = setup {
            // Nothing was promised about this file yet; removing it lets the caller retry the number.
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            pending: Mutex::new(Pending {
                bytes: Vec::new(),
                appended_lsn: header_end,
                segment_start_lsn: start_lsn,
                segment_number: number,
            }),
            output: Mutex::new(Output {
                segment: Arc::new(Segment { number, path, file }),
                spare: Vec::new(),
            }),
            sync_serial: Mutex::new(()),
            leader: Mutex::new(false),
            synced_cv: Condvar::new(),
            appended: AtomicU64::new(header_end),
            written: AtomicU64::new(header_end),
            synced: AtomicU64::new(header_end),
            segment: AtomicU64::new(number),
            fsyncs: AtomicU64::new(1),
            bytes_written: AtomicU64::new(SEGMENT_HEADER_LEN as u64),
            retired: Mutex::new(Vec::new()),
            recycle_limit: 0,
            recycled: AtomicU64::new(0),
            failure: OnceLock::new(),
            #[cfg(test)]
            faults: tests::Faults::default(),
        })
    }

    /// Keeps up to `limit` retired segment files for later rotations to write over (see
    /// `retire`), instead of deleting them. 0, the default, deletes every retired segment.
    pub fn recycling(mut self, limit: usize) -> WalWriter {
        self.recycle_limit = limit;
        self
    }

    /// Frames `payload` as one record at the end of the log and returns the LSN just after it.
    /// Only copies into memory, unless the buffer passes `WRITE_OUT_THRESHOLD`, in which case
    /// this call also writes the buffer out (an error then means the writer has failed).
    pub fn append(&self, payload: &[u8]) -> Result<u64> {
        self.check_usable()?;
        let len = u32::try_from(payload.len()).map_err(|_| {
            Error::InvalidArgument(format!(
                "log record of {} bytes exceeds the maximum of {MAX_PAYLOAD_LEN} bytes",
                payload.len()
            ))
        })?;
        // The payload checksum does not depend on where the record lands: compute it unlocked.
        let payload_crc = record::payload_checksum(payload);
        let record_len = RECORD_HEADER_LEN as u64 + u64::from(len);
        let (lsn, full) = {
            let mut p = self.pending.lock();
            let end = p.appended_lsn.checked_add(record_len).ok_or_else(|| {
                Error::InvalidArgument("log sequence number would overflow".to_string())
            })?;
            let offset = p.appended_lsn - p.segment_start_lsn;
            let salt = Salt::Segment(p.segment_number);
            p.bytes.extend_from_slice(&record::encode_record_header(
                salt,
                offset,
                len,
                payload_crc,
            ));
            p.bytes.extend_from_slice(payload);
            p.appended_lsn = end;
            self.appended.store(end, Ordering::Release);
            (end, p.bytes.len() >= WRITE_OUT_THRESHOLD)
        };
        if full {
            self.write_out()?;
        }
        Ok(lsn)
    }

    /// Hands every buffered byte to the OS and returns the LSN now written. From then on those
    /// records survive a crash of this process, though not of the machine.
    pub fn write_out(&self) -> Result<u64> {
        let mut out = self.output.lock();
        self.write_out_locked(&mut out)
    }

    /// Blocks until an fdatasync covering `lsn` has completed.
    ///
    /// Group commit: one caller at a time is the leader; it writes out and fdatasyncs everything
    /// appended so far, without blocking appends meanwhile. Callers that arrive during its
    /// fdatasync wait, and return as soon as a sync covers their LSN; those not covered elect the
    /// next leader. So N concurrent callers cost about two fdatasyncs, not N.
    ///
    /// An `lsn` synced before the writer failed still returns `Ok`: that data is durable.
    pub fn sync_to(&self, lsn: u64) -> Result<()> {
        if self.synced_lsn() >= lsn {
            return Ok(());
        }
        let appended = self.appended_lsn();
        if lsn > appended {
            return Err(Error::InvalidArgument(format!(
                "cannot sync to LSN {lsn}: the log has only been appended up to {appended}"
            )));
        }
        loop {
            {
                let mut leader = self.leader.lock();
                loop {
                    if self.synced_lsn() >= lsn {
                        return Ok(());
                    }
                    self.check_usable()?;
                    if !*leader {
                        break;
                    }
                    self.synced_cv.wait(&mut leader);
                }
                *leader = true;
            }
            let _guard = LeaderGuard(self);
            let (segment, target) = {
                let mut out = self.output.lock();
                let target = self.write_out_locked(&mut out)?;
                (Arc::clone(&out.segment), target)
            };
            // `output` is released: appends and write-outs go on while the disk works.
            self.sync_and_publish(&segment, target)?;
        }
    }

    /// `sync_to(appended_lsn())`: makes everything appended so far durable.
    pub fn sync(&self) -> Result<()> {
        self.sync_to(self.appended_lsn())
    }

    /// Ends the current segment and continues the log in a new segment file `number`, which must
    /// be higher than the current one and must not exist. LSNs keep counting. When this returns,
    /// everything appended before it is durable.
    ///
    /// The old segment is written out and fdatasynced *before* the new file is created, so a
    /// crash can only ever leave the newest segment with a torn tail; recovery relies on that.
    /// The new segment's header is written out but not synced: the next sync covers it, and
    /// until then a crash leaves an empty or header-torn newest segment, which replays as empty.
    /// The new file is a retired segment renamed, when `retire` kept one (its old header, should
    /// the new one not reach the disk, also replays as empty), or else a new file.
    ///
    /// Errors found before the switch (a number that does not increase, an existing file) leave
    /// the writer as it was; an I/O failure after it poisons the writer.
    pub fn rotate(&self, number: u64) -> Result<()> {
        self.check_usable()?;
        let mut out = self.output.lock();
        self.check_usable()?;
        let current = out.segment.number;
        if number <= current {
            return Err(Error::InvalidArgument(format!(
                "log segment {number} does not come after the current segment {current}"
            )));
        }
        let path = segment_path(&self.dir, number);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => {
                return Err(Error::io(
                    &path,
                    io::Error::new(io::ErrorKind::AlreadyExists, "log segment already exists"),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }

        // Switch the record stream over: what is buffered now ends the old segment, appends from
        // here on are framed for the new one, which starts with its header.
        let mut tail = std::mem::take(&mut out.spare);
        let start = {
            let mut p = self.pending.lock();
            let start = p.appended_lsn;
            let header_end = start
                .checked_add(SEGMENT_HEADER_LEN as u64)
                .ok_or_else(|| {
                    Error::InvalidArgument("log sequence number would overflow".to_string())
                })?;
            std::mem::swap(&mut p.bytes, &mut tail);
            p.bytes.extend_from_slice(
                &SegmentHeader {
                    number,
                    start_lsn: start,
                }
                .encode(),
            );
            p.appended_lsn = header_end;
            p.segment_start_lsn = start;
            p.segment_number = number;
            self.appended.store(header_end, Ordering::Release);
            start
        };
        if !tail.is_empty() {
            self.write_to(&out.segment, &tail)?;
        }
        self.written.store(start, Ordering::Release);
        let old = Arc::clone(&out.segment);
        self.sync_and_publish(&old, start)?;
        out.spare = recycle(tail);

        let file = match self.reuse_retired(&path)? {
            Some(file) => file,
            None => OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| self.fail(Error::io(&path, e)))?,
        };
        sync_dir(&self.dir).map_err(|e| self.fail(e))?;
        out.segment = Arc::new(Segment { number, path, file });
        self.segment.store(number, Ordering::Release);
        self.write_out_locked(&mut out)?;
        Ok(())
    }

    /// Hands over segment `number`, whose records are no longer needed (its memtable is flushed
    /// and the manifest no longer names it), to be deleted or, up to the `recycling` limit, kept
    /// for a later rotation to write over. Only older segments than the current one retire.
    ///
    /// Why reuse: appending to a fresh file makes every write(2) allocate and zero page-cache
    /// pages (and on a VM, have the hypervisor back them) and every fdatasync journal the file's
    /// growth; writing over a recent segment's cached pages does neither (RocksDB's
    /// `recycle_log_file_num`, PostgreSQL's recycled WAL segments). The previous life's records
    /// stay in the file past the new ones; salted with the old number, they never replay.
    pub fn retire(&self, number: u64) -> Result<()> {
        let current = self.current_segment();
        if number >= current {
            return Err(Error::InvalidArgument(format!(
                "log segment {number} cannot retire: segment {current} is being written"
            )));
        }
        let dropped = {
            let mut retired = self.retired.lock();
            if retired.contains(&number) {
                return Ok(());
            }
            retired.push(number);
            // Keep the newest: their pages are the likeliest still cached.
            let excess = retired.len().saturating_sub(self.recycle_limit);
            retired.drain(..excess).collect::<Vec<_>>()
        };
        for n in dropped {
            let path = segment_path(&self.dir, n);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Ok(())
    }

    /// Renames the newest retired segment to `path` and opens it for writing from its start.
    /// `None` when there is none, or the rename fails (the caller then creates a new file; the
    /// retired one stays a file older than the manifest's log number, which the next open deletes).
    fn reuse_retired(&self, path: &Path) -> Result<Option<File>> {
        let Some(number) = self.retired.lock().pop() else {
            return Ok(None);
        };
        if std::fs::rename(segment_path(&self.dir, number), path).is_err() {
            return Ok(None);
        }
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| self.fail(Error::io(path, e)))?;
        self.recycled.fetch_add(1, Ordering::Relaxed);
        Ok(Some(file))
    }

    /// Rotations that wrote over a retired segment instead of creating a file.
    pub fn recycled_count(&self) -> u64 {
        self.recycled.load(Ordering::Relaxed)
    }

    pub fn appended_lsn(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    pub fn written_lsn(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    pub fn synced_lsn(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// The number of the segment new records go to.
    pub fn current_segment(&self) -> u64 {
        self.segment.load(Ordering::Acquire)
    }

    /// fdatasyncs of segment files completed so far (the one `create` does included; directory
    /// fsyncs not counted).
    pub fn fsync_count(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    /// Bytes handed to the OS so far, segment headers included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// The first failure that poisoned the writer, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    fn check_usable(&self) -> Result<()> {
        match self.failure.get() {
            None => Ok(()),
            Some(first) => Err(Error::Background(format!(
                "the write-ahead log refuses further use after an earlier I/O failure: {first}"
            ))),
        }
    }

    /// Records `e` as the writer's (first) failure and hands it back for returning.
    fn fail(&self, e: Error) -> Error {
        let _ = self.failure.set(e.to_string());
        e
    }

    fn write_out_locked(&self, out: &mut Output) -> Result<u64> {
        self.check_usable()?;
        let mut bytes = std::mem::take(&mut out.spare);
        let lsn = {
            let mut p = self.pending.lock();
            std::mem::swap(&mut p.bytes, &mut bytes);
            p.appended_lsn
        };
        if !bytes.is_empty() {
            self.write_to(&out.segment, &bytes)?;
        }
        self.written.store(lsn, Ordering::Release);
        out.spare = recycle(bytes);
        Ok(lsn)
    }

    fn write_to(&self, segment: &Segment, bytes: &[u8]) -> Result<()> {
        #[cfg(test)]
        self.faults
            .before_write()
            .map_err(|e| self.fail(Error::io(&segment.path, e)))?;
        (&segment.file)
            .write_all(bytes)
            .map_err(|e| self.fail(Error::io(&segment.path, e)))?;
        self.bytes_written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// fdatasyncs `segment` and then declares everything up to `target` durable.
    ///
    /// Serialised, and re-checks the failure flag first, because Linux reports a writeback error
    /// to only one fdatasync per open file: had a concurrent one failed, ours could return
    /// success for pages the kernel already dropped.
    fn sync_and_publish(&self, segment: &Segment, target: u64) -> Result<()> {
        let _serial = self.sync_serial.lock();
        self.check_usable()?;
        #[cfg(test)]
        self.faults
            .before_sync()
            .map_err(|e| self.fail(Error::io(&segment.path, e)))?;
        segment
            .file
            .sync_data()
            .map_err(|e| self.fail(Error::io(&segment.path, e)))?;
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.synced.fetch_max(target, Ordering::AcqRel);
        self.synced_cv.notify_all();
        Ok(())
    }
}

fn recycle(mut buf: Vec<u8>) -> Vec<u8> {
    if buf.capacity() > MAX_RETAINED_BUFFER {
        return Vec::new();
    }
    buf.clear();
    buf
}

impl Drop for WalWriter {
    /// Hands still-buffered records to the OS so a clean shutdown does not lose them to the
    /// process exiting. Nothing is synced: durability stays the caller's decision.
    fn drop(&mut self) {
        if self.failure.get().is_none() {
            let _ = self.write_out();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::AtomicBool;
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;
    use crate::wal::{list_segments, replay_segment};

    /// The private seam through which unit tests make the next writes or fdatasyncs fail (or
    /// slow), since real I/O errors cannot be provoked portably.
    #[derive(Default)]
    pub(super) struct Faults {
        fail_writes: AtomicBool,
        fail_syncs: AtomicBool,
        sync_delay_ms: AtomicU64,
    }

    impl Faults {
        pub(super) fn before_write(&self) -> io::Result<()> {
            if self.fail_writes.load(Ordering::SeqCst) {
                return Err(io::Error::other("injected write failure"));
            }
            Ok(())
        }

        pub(super) fn before_sync(&self) -> io::Result<()> {
            let delay = self.sync_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                std::thread::sleep(Duration::from_millis(delay));
            }
            if self.fail_syncs.load(Ordering::SeqCst) {
                return Err(io::Error::other("injected fdatasync failure"));
            }
            Ok(())
        }
    }

    fn replay_all(dir: &Path) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for n in list_segments(dir).unwrap() {
            let o = replay_segment(&segment_path(dir, n), |p| {
                out.push(p.to_vec());
                Ok(())
            })
            .unwrap();
            assert!(o.torn_tail.is_none(), "segment {n}: {o:?}");
        }
        out
    }

    fn assert_refused(r: Result<impl std::fmt::Debug>) {
        match r {
            Err(Error::Background(msg)) => assert!(msg.contains("injected"), "{msg}"),
            other => panic!("expected the poisoned writer to refuse, got {other:?}"),
        }
    }

    #[test]
    fn writer_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<WalWriter>();
    }

    #[test]
    fn lsns_count_header_and_record_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 7, 1000).unwrap();
        let h = SEGMENT_HEADER_LEN as u64;
        assert_eq!(
            (w.appended_lsn(), w.written_lsn(), w.synced_lsn()),
            (1000 + h, 1000 + h, 1000 + h)
        );
        assert_eq!(w.current_segment(), 7);
        assert_eq!(w.fsync_count(), 1);
        let a = w.append(b"hello").unwrap();
        assert_eq!(a, 1000 + h + RECORD_HEADER_LEN as u64 + 5);
        let b = w.append(b"").unwrap();
        assert_eq!(b, a + RECORD_HEADER_LEN as u64);
        assert_eq!(w.written_lsn(), 1000 + h);
        assert_eq!(w.write_out().unwrap(), b);
        assert_eq!(w.written_lsn(), b);
        assert_eq!(w.synced_lsn(), 1000 + h);
        assert_eq!(w.bytes_written(), b - 1000);
        w.sync().unwrap();
        assert_eq!(w.synced_lsn(), b);
        assert_eq!(w.fsync_count(), 2);
        // Already covered: no further fdatasync.
        w.sync_to(a).unwrap();
        w.sync().unwrap();
        assert_eq!(w.fsync_count(), 2);
        assert_eq!(
            std::fs::metadata(segment_path(dir.path(), 7))
                .unwrap()
                .len(),
            b - 1000
        );
    }

    #[test]
    fn create_refuses_an_existing_segment_and_an_overflowing_start() {
        let dir = tempfile::tempdir().unwrap();
        let _w = WalWriter::create(dir.path(), 1, 0).unwrap();
        match WalWriter::create(dir.path(), 1, 0) {
            Err(Error::Io { source, .. }) => {
                assert_eq!(source.kind(), io::ErrorKind::AlreadyExists)
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(matches!(
            WalWriter::create(dir.path(), 2, u64::MAX - 3),
            Err(Error::InvalidArgument(_))
        ));
        assert!(!segment_path(dir.path(), 2).exists());
    }

    #[test]
    fn sync_to_an_lsn_never_appended_is_refused_instead_of_waiting_forever() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        let lsn = w.append(b"x").unwrap();
        assert!(matches!(w.sync_to(lsn + 1), Err(Error::InvalidArgument(_))));
        w.sync_to(lsn).unwrap();
    }

    #[test]
    fn crossing_the_threshold_writes_out_without_being_asked() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        let start = w.written_lsn();
        let chunk = vec![7u8; 64 * 1024];
        let mut lsn = 0;
        while w.written_lsn() == start {
            lsn = w.append(&chunk).unwrap();
            assert!(lsn - start <= (WRITE_OUT_THRESHOLD + chunk.len() + RECORD_HEADER_LEN) as u64);
        }
        assert_eq!(w.written_lsn(), lsn);
        assert!(lsn - start >= WRITE_OUT_THRESHOLD as u64);
    }

    #[test]
    fn rotation_refusals_leave_the_writer_usable() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 5, 0).unwrap();
        w.append(b"one").unwrap();
        assert!(matches!(w.rotate(5), Err(Error::InvalidArgument(_))));
        assert!(matches!(w.rotate(4), Err(Error::InvalidArgument(_))));
        std::fs::write(segment_path(dir.path(), 6), b"someone else's").unwrap();
        match w.rotate(6) {
            Err(Error::Io { source, .. }) => {
                assert_eq!(source.kind(), io::ErrorKind::AlreadyExists)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read(segment_path(dir.path(), 6)).unwrap(),
            b"someone else's"
        );
        std::fs::remove_file(segment_path(dir.path(), 6)).unwrap();
        assert!(w.failure().is_none());
        w.append(b"two").unwrap();
        w.rotate(9).unwrap();
        w.append(b"three").unwrap();
        w.sync().unwrap();
        assert_eq!(w.current_segment(), 9);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![5, 9]);
        assert_eq!(
            replay_all(dir.path()),
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
    }

    #[test]
    fn rotation_makes_the_old_segment_durable_and_keeps_lsns_counting() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        let a = w.append(b"before").unwrap();
        w.rotate(2).unwrap();
        assert!(w.synced_lsn() >= a);
        assert_eq!(w.written_lsn(), a + SEGMENT_HEADER_LEN as u64);
        let b = w.append(b"after").unwrap();
        assert_eq!(b, a + (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + 5) as u64);
        w.sync().unwrap();
        let o = replay_segment(&segment_path(dir.path(), 2), |_| Ok(())).unwrap();
        assert_eq!(
            o.header,
            Some(SegmentHeader {
                number: 2,
                start_lsn: a
            })
        );
        assert_eq!(o.end_lsn(), Some(b));
    }

    #[test]
    fn retire_keeps_the_newest_segments_up_to_the_limit_and_deletes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap().recycling(1);
        for n in 2..=4 {
            w.append(b"x").unwrap();
            w.rotate(n).unwrap();
        }
        assert!(matches!(w.retire(4), Err(Error::InvalidArgument(_))));
        assert!(matches!(w.retire(9), Err(Error::InvalidArgument(_))));
        w.retire(1).unwrap();
        w.retire(2).unwrap();
        // Retiring a kept segment again (the engine lists old segments after every flush) is a no-op.
        w.retire(2).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![2, 3, 4]);
        w.rotate(5).unwrap();
        assert_eq!(w.recycled_count(), 1);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![3, 4, 5]);
        // Nothing kept: the next rotation creates a file.
        w.rotate(6).unwrap();
        assert_eq!(w.recycled_count(), 1);
        w.append(b"last").unwrap();
        w.sync().unwrap();
        let mut seen = Vec::new();
        for n in [3, 4, 5, 6] {
            let o = replay_segment(&segment_path(dir.path(), n), |p| {
                seen.push(p.to_vec());
                Ok(())
            })
            .unwrap();
            // Segment 5 is segment 2's file: its previous life (one record) reads as a torn tail.
            assert_eq!(o.torn_tail.is_some(), n == 5, "segment {n}: {o:?}");
        }
        // Segment 3's record, and 6's; 4 and 5 never had any.
        assert_eq!(seen, vec![b"x".to_vec(), b"last".to_vec()]);
    }

    #[test]
    fn without_recycling_retired_segments_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.rotate(2).unwrap();
        w.retire(1).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![2]);
        w.rotate(3).unwrap();
        assert_eq!(w.recycled_count(), 0);
    }

    #[test]
    fn dropping_the_writer_hands_buffered_records_to_the_os() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.append(b"kept").unwrap();
        drop(w);
        assert_eq!(replay_all(dir.path()), vec![b"kept".to_vec()]);
    }

    #[test]
    fn a_failed_fdatasync_poisons_the_writer_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        let durable = w.append(b"durable").unwrap();
        w.sync().unwrap();
        let lost = w.append(b"maybe lost").unwrap();
        w.faults.fail_syncs.store(true, Ordering::SeqCst);
        match w.sync() {
            Err(Error::Io {
                path: Some(p),
                source,
            }) => {
                assert_eq!(p, segment_path(dir.path(), 1));
                assert!(source.to_string().contains("injected"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(w.synced_lsn(), durable);
        // Healing the disk changes nothing: a retried fdatasync proves nothing after a failure.
        w.faults.fail_syncs.store(false, Ordering::SeqCst);
        assert_refused(w.sync_to(lost));
        assert_refused(w.sync());
        assert_refused(w.append(b"more"));
        assert_refused(w.write_out());
        assert_refused(w.rotate(2));
        assert!(!segment_path(dir.path(), 2).exists());
        assert_eq!(w.fsync_count(), 2);
        // What was synced before the failure is durable, and saying so is the truth.
        w.sync_to(durable).unwrap();
        assert!(w
            .failure()
            .unwrap_or_default()
            .contains("injected fdatasync failure"));
    }

    #[test]
    fn a_failed_write_poisons_the_writer_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.append(b"x").unwrap();
        w.faults.fail_writes.store(true, Ordering::SeqCst);
        assert!(matches!(w.write_out(), Err(Error::Io { .. })));
        w.faults.fail_writes.store(false, Ordering::SeqCst);
        assert_refused(w.write_out());
        assert_refused(w.sync());
        assert_refused(w.append(b"y"));
        assert_eq!(w.fsync_count(), 1);
    }

    #[test]
    fn a_write_failure_inside_append_is_reported_by_that_append() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.faults.fail_writes.store(true, Ordering::SeqCst);
        let big = vec![0u8; WRITE_OUT_THRESHOLD];
        assert!(matches!(w.append(&big), Err(Error::Io { .. })));
        assert_refused(w.append(b"small"));
    }

    #[test]
    fn a_failure_during_rotation_poisons_the_writer_and_creates_no_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.append(b"x").unwrap();
        w.faults.fail_syncs.store(true, Ordering::SeqCst);
        assert!(matches!(w.rotate(2), Err(Error::Io { .. })));
        assert!(!segment_path(dir.path(), 2).exists());
        w.faults.fail_syncs.store(false, Ordering::SeqCst);
        assert_refused(w.append(b"y"));
        assert_refused(w.rotate(3));
    }

    #[test]
    fn followers_of_a_failing_leader_get_the_error_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.faults.sync_delay_ms.store(50, Ordering::SeqCst);
        w.faults.fail_syncs.store(true, Ordering::SeqCst);
        let threads = 8;
        let barrier = Barrier::new(threads);
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (w, barrier) = (&w, &barrier);
                    s.spawn(move || {
                        let lsn = w.append(format!("record {i}").as_bytes())?;
                        barrier.wait();
                        w.sync_to(lsn)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(
            results
                .iter()
                .filter(|r| matches!(r, Err(Error::Io { .. })))
                .count(),
            1
        );
        assert_eq!(w.fsync_count(), 1);
    }

    #[test]
    fn slow_fdatasyncs_are_shared_by_concurrent_callers() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        // A slow disk makes the batching deterministic: everyone arrives during the first sync.
        w.faults.sync_delay_ms.store(100, Ordering::SeqCst);
        let threads = 32;
        let barrier = Barrier::new(threads);
        std::thread::scope(|s| {
            for i in 0..threads {
                let (w, barrier) = (&w, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let lsn = w.append(format!("record {i}").as_bytes()).unwrap();
                    w.sync_to(lsn).unwrap();
                    assert!(w.synced_lsn() >= lsn);
                });
            }
        });
        // create's fdatasync, the first leader's, one for everyone who came later, and one spare
        // for a thread the scheduler kept off the CPU for a whole slowed sync.
        assert!(w.fsync_count() <= 4, "{} fdatasyncs", w.fsync_count());
        assert_eq!(replay_all(dir.path()).len(), threads);
    }

    #[test]
    fn appends_proceed_while_a_leader_is_in_fdatasync() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalWriter::create(dir.path(), 1, 0).unwrap();
        w.faults.sync_delay_ms.store(300, Ordering::SeqCst);
        let first = w.append(b"first").unwrap();
        std::thread::scope(|s| {
            let leader = s.spawn(|| w.sync_to(first));
            // Once "first" is written out, the leader is in its (slowed) fdatasync.
            while w.written_lsn() < first {
                std::thread::yield_now();
            }
            let started = std::time::Instant::now();
            for _ in 0..100 {
                w.append(b"meanwhile").unwrap();
            }
            assert!(
                started.elapsed() < Duration::from_millis(250),
                "appends waited for the fdatasync"
            );
            leader.join().unwrap().unwrap();
        });
    }
}
