//! Group commit: concurrent durable writers share fdatasyncs, and every acknowledged record is
//! in the log.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Barrier;

use crate::common::replay;
use ringkv_engine::wal::{self, WalWriter};

#[test]
fn sixty_four_concurrent_syncs_share_fdatasyncs() {
    // On the target directory's file system rather than /tmp, which may be a tmpfs where an
    // fdatasync costs nothing and there would be nothing to share.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let w = WalWriter::create(dir.path(), 1, 0).unwrap();
    let before = w.fsync_count();
    let threads = 64;
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (w, barrier) = (&w, &barrier);
            s.spawn(move || {
                barrier.wait();
                let lsn = w.append(format!("writer {t:02}").as_bytes()).unwrap();
                w.sync_to(lsn).unwrap();
                assert!(w.synced_lsn() >= lsn);
            });
        }
    });
    let fsyncs = w.fsync_count() - before;
    eprintln!("64 durable appends took {fsyncs} fdatasyncs");
    assert!(fsyncs >= 1);
    assert!(
        fsyncs < 32,
        "{fsyncs} fdatasyncs for 64 writers: group commit is not sharing them"
    );
    assert_eq!(w.synced_lsn(), w.appended_lsn());
    drop(w);

    let (seen, r) = replay(&wal::segment_path(dir.path(), 1));
    let o = r.unwrap();
    assert_eq!(o.torn_tail, None);
    let got: BTreeSet<String> = seen
        .into_iter()
        .map(|p| String::from_utf8(p).unwrap())
        .collect();
    let want: BTreeSet<String> = (0..threads).map(|t| format!("writer {t:02}")).collect();
    assert_eq!(got, want);
}
