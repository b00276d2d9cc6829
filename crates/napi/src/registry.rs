//! One engine per data directory per process. Worker threads (piscina) load this addon once per
//! process, so a static map shared by every thread lets each `open` of the same directory get the
//! same engine instead of failing on the directory lock. Entries are weak: the engine closes when
//! its last handle lets go.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ringkv_engine::db::Db;
use ringkv_engine::options::Options;
use ringkv_engine::Error;

fn registry() -> &'static Mutex<HashMap<PathBuf, Weak<Db>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<Db>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn canonical(path: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    std::fs::canonicalize(path).map_err(|e| Error::io(path, e))
}

/// Returns the engine already open on `path` in this process, or opens it.
pub fn open(path: &Path, opts: Options) -> Result<Arc<Db>, Error> {
    let key = canonical(path)?;
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(db) = map.get(&key).and_then(Weak::upgrade) {
        if !db.is_closed() {
            return Ok(db);
        }
    }
    let db = Arc::new(Db::open(&key, opts)?);
    map.insert(key, Arc::downgrade(&db));
    Ok(db)
}

/// Lets go of one handle; closes the engine (blocking: call off the JS thread) when it was the last.
pub fn release(db: Arc<Db>) -> Result<(), Error> {
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    if Arc::strong_count(&db) == 1 {
        map.remove(db.path());
        drop(map);
        db.close()
    } else {
        Ok(())
    }
}

/// Number of open handles on the engine of `path` (for tests of sharing).
pub fn handles(path: &Path) -> usize {
    let Ok(key) = std::fs::canonicalize(path) else {
        return 0;
    };
    let map = registry().lock().unwrap_or_else(|p| p.into_inner());
    map.get(&key).map(Weak::strong_count).unwrap_or(0)
}
