//! Helpers shared by the WAL integration tests. Each test binary uses a different subset.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ringkv_engine::wal::{self, ReplayOutcome, WalWriter, SEGMENT_HEADER_LEN};
use ringkv_engine::Result;

/// SplitMix64: deterministic, seedable, and needs no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(len);
        v
    }
}

/// A synced one-segment log of `payloads` (segment 1, start LSN 0, so LSNs are file offsets),
/// with the file offset where each record starts and the offset just past each record.
pub struct Log {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub payloads: Vec<Vec<u8>>,
    pub starts: Vec<u64>,
    pub ends: Vec<u64>,
}

pub fn write_log(dir: &Path, payloads: Vec<Vec<u8>>) -> Log {
    let w = WalWriter::create(dir, 1, 0).unwrap();
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut at = SEGMENT_HEADER_LEN as u64;
    for p in &payloads {
        starts.push(at);
        at = w.append(p).unwrap();
        ends.push(at);
    }
    w.sync().unwrap();
    drop(w);
    let path = wal::segment_path(dir, 1);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, at);
    Log { path, bytes, payloads, starts, ends }
}

/// Replays `path`, returning what the callback saw (even when replay then fails) and the result.
pub fn replay(path: &Path) -> (Vec<Vec<u8>>, Result<ReplayOutcome>) {
    let mut seen = Vec::new();
    let r = wal::replay_segment(path, |p| {
        seen.push(p.to_vec());
        Ok(())
    });
    (seen, r)
}
