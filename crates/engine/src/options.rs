//! Engine options, their defaults and their validation. A bad option is refused at open with a
//! message naming it, never silently clamped.

use crate::error::{Error, Result};

/// When a write's promise may resolve (see the README's sync/async contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// After an fsync covering the write. Concurrent writers share fsyncs (group commit).
    Sync,
    /// Once the write is in the log (handed to the OS); a background thread fsyncs every
    /// `sync_interval_ms`, like Cassandra's periodic commit log. A machine crash can lose that window.
    Interval,
    /// Once the write is in the memtable. The log is still written and fsynced in the background.
    None,
}

impl Durability {
    pub fn parse(s: &str) -> Result<Durability> {
        match s {
            "sync" => Ok(Durability::Sync),
            "interval" => Ok(Durability::Interval),
            "none" => Ok(Durability::None),
            other => Err(Error::InvalidArgument(format!(
                "durability must be 'sync', 'interval' or 'none', got '{other}'"
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub durability: Durability,
    /// How often the background thread fsyncs the log in `interval` and `none` modes.
    pub sync_interval_ms: u64,
    /// A memtable is frozen and flushed once it holds about this many bytes.
    pub memtable_bytes: usize,
    /// Frozen memtables waiting for flush before writers wait: bounds memory under write bursts.
    pub max_immutable_memtables: usize,
    /// Flushed log segments kept for new segments to write over instead of creating files; 0 (the
    /// default) deletes them. Each kept one holds about `memtable_bytes` of disk, and so does a
    /// segment written over until it fills, however little it holds: worth it for a server that
    /// writes steadily, not for a small embedded database. See `WalWriter::retire`.
    pub recycle_log_segments: usize,
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub block_size: usize,
    pub bloom_bits_per_key: usize,
    /// Row cache capacity; 0 disables it.
    pub cache_bytes: usize,
    /// Whether the memtable's arena asks for transparent huge pages (the default; `huge.rs`). Off,
    /// it asks the kernel for base pages even where huge pages are enabled for everything: for
    /// hosts where a huge page fault can stall on memory compaction, or where memory limits are
    /// charged a huge page at a time.
    pub huge_pages: bool,
    pub l0_compaction_trigger: usize,
    /// L0 tables at which each write batch is delayed by a millisecond, letting compaction catch up.
    pub l0_slowdown_trigger: usize,
    /// L0 tables at which writers wait for compaction.
    pub l0_stop_trigger: usize,
    /// Target size of level 1; each further level is `level_multiplier` times larger.
    pub level_base_bytes: u64,
    pub level_multiplier: u64,
    pub target_file_bytes: u64,
    pub max_levels: usize,
}

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Interval,
            sync_interval_ms: 5,
            memtable_bytes: 64 * MIB,
            max_immutable_memtables: 2,
            recycle_log_segments: 0,
            max_key_bytes: 64 * KIB,
            max_value_bytes: 16 * MIB,
            block_size: 4 * KIB,
            bloom_bits_per_key: 10,
            cache_bytes: 32 * MIB,
            huge_pages: true,
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 12,
            l0_stop_trigger: 20,
            level_base_bytes: 256 * MIB as u64,
            level_multiplier: 10,
            target_file_bytes: 64 * MIB as u64,
            max_levels: 7,
        }
    }
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(message()))
    }
}

impl Options {
    pub fn validate(&self) -> Result<()> {
        check((1..=60_000).contains(&self.sync_interval_ms), || {
            format!(
                "syncIntervalMs must be between 1 and 60000, got {}",
                self.sync_interval_ms
            )
        })?;
        check(
            (64 * KIB..=4096 * MIB).contains(&self.memtable_bytes),
            || {
                format!(
                    "memtableBytes must be between 64 KiB and 4 GiB, got {}",
                    self.memtable_bytes
                )
            },
        )?;
        check((1..=16).contains(&self.max_immutable_memtables), || {
            format!(
                "maxImmutableMemtables must be between 1 and 16, got {}",
                self.max_immutable_memtables
            )
        })?;
        check(self.recycle_log_segments <= 16, || {
            format!(
                "recycleLogSegments must be between 0 and 16, got {}",
                self.recycle_log_segments
            )
        })?;
        check((1..=(1 << 20)).contains(&self.max_key_bytes), || {
            format!(
                "maxKeyBytes must be between 1 and 1 MiB, got {}",
                self.max_key_bytes
            )
        })?;
        check((1..=(1 << 30)).contains(&self.max_value_bytes), || {
            format!(
                "maxValueBytes must be between 1 and 1 GiB, got {}",
                self.max_value_bytes
            )
        })?;
        check((256..=(1 << 20)).contains(&self.block_size), || {
            format!(
                "blockSize must be between 256 bytes and 1 MiB, got {}",
                self.block_size
            )
        })?;
        check((1..=32).contains(&self.bloom_bits_per_key), || {
            format!(
                "bloomBitsPerKey must be between 1 and 32, got {}",
                self.bloom_bits_per_key
            )
        })?;
        check(self.l0_compaction_trigger >= 1, || {
            "l0CompactionTrigger must be at least 1".into()
        })?;
        check(
            self.l0_slowdown_trigger >= self.l0_compaction_trigger
                && self.l0_stop_trigger >= self.l0_slowdown_trigger,
            || {
                format!(
                    "L0 triggers must satisfy compaction ({}) <= slowdown ({}) <= stop ({})",
                    self.l0_compaction_trigger, self.l0_slowdown_trigger, self.l0_stop_trigger
                )
            },
        )?;
        check(self.level_base_bytes >= MIB as u64, || {
            format!(
                "levelBaseBytes must be at least 1 MiB, got {}",
                self.level_base_bytes
            )
        })?;
        check((2..=100).contains(&self.level_multiplier), || {
            format!(
                "levelMultiplier must be between 2 and 100, got {}",
                self.level_multiplier
            )
        })?;
        check(self.target_file_bytes >= 64 * KIB as u64, || {
            format!(
                "targetFileBytes must be at least 64 KiB, got {}",
                self.target_file_bytes
            )
        })?;
        check((2..=10).contains(&self.max_levels), || {
            format!(
                "maxLevels must be between 2 and 10, got {}",
                self.max_levels
            )
        })?;
        Ok(())
    }

    /// Target size of `level` (1-based for sizing; level 0 is sized by file count).
    pub fn level_target_bytes(&self, level: usize) -> u64 {
        let mut target = self.level_base_bytes;
        for _ in 1..level {
            target = target.saturating_mul(self.level_multiplier);
        }
        target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(Options::default().validate().is_ok());
    }

    #[test]
    fn bad_options_name_themselves() {
        let o = Options {
            block_size: 3,
            ..Options::default()
        };
        let e = o
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("blockSize"), "{e}");
        assert!(Durability::parse("fast").is_err());
    }
}
