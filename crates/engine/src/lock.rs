//! The data-directory lock, so a second process opening the same directory fails at once with
//! `Error::Locked` instead of two writers corrupting each other's files.
//!
//! Two layers, because neither alone is right:
//! - Across processes, a POSIX record lock (`fcntl(F_SETLK)`) on `LOCK`. Unlike `flock`, it belongs
//!   to the process, not to the open file description, so a child forked at the wrong moment (Node
//!   spawns children all the time) cannot keep it alive after we let go, and the kernel drops it when
//!   the process dies, so a crash never leaves a stale lock.
//! - Within a process, a registry of locked directories: POSIX locks never conflict within one
//!   process, and closing *any* descriptor of the file would silently release them, so a second open
//!   in the same process is refused before the file is even opened. (The napi layer shares one engine
//!   per directory between threads; this catches everything else.)

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};

fn held() -> &'static Mutex<HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashSet::new()))
}

pub struct DirLock {
    file: Option<File>,
    dir: PathBuf,
    path: PathBuf,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        let mut registry = held().lock().unwrap_or_else(|p| p.into_inner());
        if registry.contains(&dir) {
            return Err(Error::Locked { path: dir });
        }
        let path = dir.join("LOCK");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        lock_file(&file, &dir, &path)?;
        registry.insert(dir.clone());
        Ok(DirLock {
            file: Some(file),
            dir,
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the record lock; only then may this process open it again.
        drop(self.file.take());
        held()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.dir);
    }
}

#[cfg(unix)]
fn lock_file(file: &File, dir: &Path, path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed flock is a valid value of the plain C struct; every field we rely on is set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 0;
    // SAFETY: the descriptor is open for the duration of the call and `fl` is a valid flock.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EAGAIN) => Err(Error::Locked {
            path: dir.to_path_buf(),
        }),
        _ => Err(Error::io(path, err)),
    }
}

#[cfg(not(unix))]
fn lock_file(file: &File, dir: &Path, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}
