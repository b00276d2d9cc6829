//! Chooses the next compaction. Pure: it reads a summary of the levels and decides, so the choice
//! can be tested without files.

use crate::options::Options;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    pub number: u64,
    pub size: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    /// Smallest expiry in the file, 0 when none of its values expire.
    pub min_expiry: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    L0Files,
    LevelSize,
    ExpiredData,
    Manual,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub reason: Reason,
    /// (level, file numbers) of every input, newest level first.
    pub inputs: Vec<(usize, Vec<u64>)>,
    pub output_level: usize,
    /// True when no level below `output_level` overlaps the key range of all the inputs (the
    /// output-level files included), so tombstones and expired values can be dropped without
    /// resurrecting older versions.
    pub bottommost: bool,
}

fn overlaps(f: &FileSummary, lo: &[u8], hi: &[u8]) -> bool {
    f.smallest.as_slice() <= hi && f.largest.as_slice() >= lo
}

fn key_range<'a>(files: impl Iterator<Item = &'a FileSummary>) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut range: Option<(Vec<u8>, Vec<u8>)> = None;
    for f in files {
        range = Some(match range {
            None => (f.smallest.clone(), f.largest.clone()),
            Some((lo, hi)) => (lo.min(f.smallest.clone()), hi.max(f.largest.clone())),
        });
    }
    range
}

fn nothing_below(levels: &[Vec<FileSummary>], level: usize, lo: &[u8], hi: &[u8]) -> bool {
    levels
        .iter()
        .skip(level + 1)
        .all(|files| !files.iter().any(|f| overlaps(f, lo, hi)))
}

/// `levels[0]` newest first; deeper levels sorted by smallest key. `cursors[l]` is the largest key
/// of the last file compacted out of level l, so files of a level take turns.
pub fn pick(
    levels: &[Vec<FileSummary>],
    opts: &Options,
    cursors: &[Vec<u8>],
    now_ms: u64,
) -> Option<Task> {
    let max_level = levels.len().saturating_sub(1);
    let mut best: Option<(f64, usize)> = None;
    if let Some(l0) = levels.first() {
        let score = l0.len() as f64 / opts.l0_compaction_trigger as f64;
        if score >= 1.0 {
            best = Some((score, 0));
        }
    }
    for level in 1..max_level {
        let bytes: u64 = levels
            .get(level)
            .map(|fs| fs.iter().map(|f| f.size).sum())
            .unwrap_or(0);
        let score = bytes as f64 / opts.level_target_bytes(level) as f64;
        if score >= 1.0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, level));
        }
    }
    if let Some((_, level)) = best {
        return Some(level_task(levels, level, cursors));
    }
    expired_data_task(levels, now_ms)
}

fn level_task(levels: &[Vec<FileSummary>], level: usize, cursors: &[Vec<u8>]) -> Task {
    let empty = Vec::new();
    let files = levels.get(level).unwrap_or(&empty);
    let chosen: Vec<&FileSummary> = if level == 0 {
        files.iter().collect()
    } else {
        let cursor = cursors.get(level).map(Vec::as_slice).unwrap_or(&[]);
        let next = files
            .iter()
            .find(|f| cursor.is_empty() || f.smallest.as_slice() > cursor)
            .or_else(|| files.first());
        next.into_iter().collect()
    };
    let output_level = level + 1;
    let (lo, hi) = key_range(chosen.iter().copied()).unwrap_or_default();
    let below: Vec<&FileSummary> = levels
        .get(output_level)
        .map(|fs| fs.iter().filter(|f| overlaps(f, &lo, &hi)).collect())
        .unwrap_or_default();
    // The output holds every key of every input, and the output-level files pulled in can reach
    // past the chosen ones: a tombstone out there must stay if a deeper level holds its key. So
    // "bottommost" is judged over the whole inputs' range, not just the chosen files'.
    let (all_lo, all_hi) =
        key_range(chosen.iter().chain(below.iter()).copied()).unwrap_or_default();
    let reason = if level == 0 {
        Reason::L0Files
    } else {
        Reason::LevelSize
    };
    Task {
        reason,
        inputs: vec![
            (level, chosen.iter().map(|f| f.number).collect()),
            (output_level, below.iter().map(|f| f.number).collect()),
        ],
        output_level,
        bottommost: nothing_below(levels, output_level, &all_lo, &all_hi),
    }
}

/// A file holding values that have expired, with nothing below it: rewrite it in place to purge them.
fn expired_data_task(levels: &[Vec<FileSummary>], now_ms: u64) -> Option<Task> {
    for (level, files) in levels.iter().enumerate().skip(1) {
        for f in files {
            if f.min_expiry != 0
                && f.min_expiry <= now_ms
                && nothing_below(levels, level, &f.smallest, &f.largest)
            {
                return Some(Task {
                    reason: Reason::ExpiredData,
                    inputs: vec![(level, vec![f.number])],
                    output_level: level,
                    bottommost: true,
                });
            }
        }
    }
    None
}

/// Everything into one level: the deepest level holding data (at least level 1).
pub fn full(levels: &[Vec<FileSummary>]) -> Option<Task> {
    let inputs: Vec<(usize, Vec<u64>)> = levels
        .iter()
        .enumerate()
        .filter(|(_, fs)| !fs.is_empty())
        .map(|(l, fs)| (l, fs.iter().map(|f| f.number).collect()))
        .collect();
    let deepest = inputs.last().map(|(l, _)| *l)?;
    Some(Task {
        reason: Reason::Manual,
        inputs,
        output_level: deepest.max(1),
        bottommost: true,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    fn f(number: u64, size: u64, lo: &str, hi: &str) -> FileSummary {
        FileSummary {
            number,
            size,
            smallest: lo.into(),
            largest: hi.into(),
            min_expiry: 0,
        }
    }

    #[test]
    fn l0_trigger_pulls_overlapping_l1_files() {
        let opts = Options::default();
        let mut levels = vec![Vec::new(); 4];
        levels[0] = (0..4).map(|i| f(10 + i, 10, "b", "d")).collect();
        levels[1] = vec![f(1, 10, "a", "a"), f(2, 10, "c", "e"), f(3, 10, "x", "z")];
        let t = pick(&levels, &opts, &[], 0).expect("a task");
        assert_eq!(t.reason, Reason::L0Files);
        assert_eq!(t.inputs, vec![(0, vec![10, 11, 12, 13]), (1, vec![2])]);
        assert!(t.bottommost);
        levels[2] = vec![f(7, 10, "c", "c")];
        assert!(!pick(&levels, &opts, &[], 0).expect("a task").bottommost);
    }

    /// The output holds every key of the output-level files pulled in, and those can reach past the
    /// files that chose them: a tombstone there may only go if nothing deeper holds its key.
    #[test]
    fn bottommost_covers_the_pulled_in_files_too() {
        let opts = Options {
            l0_compaction_trigger: 1,
            ..Options::default()
        };
        let mut levels = vec![Vec::new(); 4];
        // L0 spans c..d; the L1 file it pulls in spans a..e; "b" (outside c..d) is in L2.
        levels[0] = vec![f(10, 10, "c", "d")];
        levels[1] = vec![f(2, 10, "a", "e")];
        levels[2] = vec![f(7, 10, "b", "b")];
        let t = pick(&levels, &opts, &[], 0).expect("a task");
        assert_eq!(t.inputs, vec![(0, vec![10]), (1, vec![2])]);
        assert!(!t.bottommost, "L2 holds a key the output covers");
        levels[2] = vec![f(7, 10, "f", "g")];
        assert!(pick(&levels, &opts, &[], 0).expect("a task").bottommost);

        // The same one level down: an oversized L1 file c..e pulls in L2's a..d; L3 holds "b".
        let opts = Options {
            level_base_bytes: 1 << 20,
            ..Options::default()
        };
        let mut levels = vec![Vec::new(); 5];
        levels[1] = vec![f(1, 2 << 20, "c", "e")];
        levels[2] = vec![f(2, 10, "a", "d")];
        levels[3] = vec![f(3, 10, "b", "b")];
        let t = pick(&levels, &opts, &[], 0).expect("a task");
        assert_eq!(t.inputs, vec![(1, vec![1]), (2, vec![2])]);
        assert!(!t.bottommost, "L3 holds a key the output covers");
    }

    #[test]
    fn oversized_level_compacts_round_robin() {
        let opts = Options {
            level_base_bytes: 1 << 20,
            ..Options::default()
        };
        let mut levels = vec![Vec::new(); 4];
        levels[1] = vec![f(1, 1 << 20, "a", "b"), f(2, 1 << 20, "c", "d")];
        let t = pick(&levels, &opts, &[], 0).expect("a task");
        assert_eq!(t.inputs[0], (1, vec![1]));
        let t = pick(&levels, &opts, &[Vec::new(), b"b".to_vec()], 0).expect("a task");
        assert_eq!(t.inputs[0], (1, vec![2]));
    }

    #[test]
    fn expired_data_at_the_bottom_is_purged_and_nothing_else_is_picked() {
        let opts = Options::default();
        let mut levels = vec![Vec::new(); 3];
        assert!(pick(&levels, &opts, &[], 100).is_none());
        levels[2] = vec![FileSummary {
            min_expiry: 50,
            ..f(5, 10, "a", "z")
        }];
        assert_eq!(pick(&levels, &opts, &[], 40), None);
        let t = pick(&levels, &opts, &[], 100).expect("a task");
        assert_eq!((t.reason, t.output_level), (Reason::ExpiredData, 2));
        assert!(full(&levels).is_some_and(|t| t.output_level == 2));
        assert!(full(&vec![Vec::new(); 3]).is_none());
    }
}
