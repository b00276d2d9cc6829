//! The two durability primitives every file the engine creates or replaces goes through.
//!
//! A new or renamed file is only durable once the directory entry pointing at it is: fsyncing
//! the file alone leaves a crash free to forget its name (ext4, XFS and others do).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Makes the creations, renames and removals done in `dir` so far durable.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
    d.sync_all().map_err(|e| Error::io(dir, e))
}

/// Windows has no directory fsync (opening a directory needs special flags and flushing it is
/// refused); NTFS journals its metadata, so a completed rename survives a crash there anyway.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Replaces `path` with `bytes` so that after a crash it holds either the old or the new contents,
/// whole: writes `path.tmp`, fsyncs it, renames it over `path`, fsyncs the directory.
///
/// Callers serialise writes to the same `path` (they share the temporary file). A `path.tmp` left
/// over by a crash is simply overwritten.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.file_name().is_none() {
        return Err(Error::InvalidArgument(format!(
            "{} does not name a file",
            path.display()
        )));
    }
    let tmp = tmp_path(path);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // sync_all, not sync_data: the file's size is metadata the new contents depend on.
        f.sync_all()
    })();
    if let Err(e) = written {
        // Best effort: a leftover temporary file is harmless (overwritten next time).
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(parent_dir(path))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// `Path::parent` of a bare file name is the empty path, which cannot be opened.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn write_file_atomic_creates_then_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("MANIFEST");
        write_file_atomic(&p, b"first").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        write_file_atomic(&p, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second, longer");
        write_file_atomic(&p, b"").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("MANIFEST")]);
    }

    #[test]
    fn write_file_atomic_overwrites_a_stale_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("MANIFEST");
        std::fs::write(
            dir.path().join("MANIFEST.tmp"),
            b"half-written garbage from a crash",
        )
        .unwrap();
        write_file_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert!(!dir.path().join("MANIFEST.tmp").exists());
    }

    #[test]
    fn write_file_atomic_reports_a_missing_directory_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("MANIFEST");
        match write_file_atomic(&p, b"x") {
            Err(Error::Io {
                path: Some(reported),
                ..
            }) => assert_eq!(reported, tmp_path(&p)),
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn write_file_atomic_refuses_a_path_without_a_file_name() {
        assert!(matches!(
            write_file_atomic(Path::new("/"), b"x"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn sync_dir_works_on_a_directory_and_fails_on_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        if cfg!(unix) {
            assert!(matches!(
                sync_dir(&dir.path().join("nope")),
                Err(Error::Io { .. })
            ));
        }
    }

    #[test]
    fn parent_of_a_bare_name_is_the_current_directory() {
        assert_eq!(parent_dir(Path::new("MANIFEST")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/MANIFEST")), Path::new("a"));
        assert_eq!(
            tmp_path(Path::new("a/MANIFEST")),
            Path::new("a/MANIFEST.tmp")
        );
    }
}
