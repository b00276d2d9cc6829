//! A builder creates a new file and leaves either a complete, durable table or no file at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ringkv_engine::sstable::{Table, TableBuilder, TableIter, TableOptions};
use ringkv_engine::{Error, ValueKind};

#[test]
fn create_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    std::fs::write(&path, b"someone else's").unwrap();
    match TableBuilder::create(&path, TableOptions::default()) {
        Err(Error::Io {
            path: Some(p),
            source,
        }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
        }
        other => panic!("expected AlreadyExists, got {:?}", other.err()),
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
}

#[test]
fn bad_options_are_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        TableOptions {
            block_size: 0,
            ..TableOptions::default()
        },
        TableOptions {
            restart_interval: 0,
            ..TableOptions::default()
        },
        TableOptions {
            bloom_bits_per_key: 1000,
            ..TableOptions::default()
        },
    ];
    for (i, opts) in bad.into_iter().enumerate() {
        let path = dir.path().join(format!("{i}.sst"));
        assert!(matches!(
            TableBuilder::create(&path, opts),
            Err(Error::InvalidArgument(_))
        ));
        assert!(!path.exists());
    }
}

#[test]
fn an_empty_table_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let b = TableBuilder::create(&path, TableOptions::default()).unwrap();
    assert!(matches!(b.finish(), Err(Error::InvalidArgument(_))));
    assert!(!path.exists());
}

#[test]
fn abandon_and_drop_remove_the_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let opts = TableOptions {
        block_size: 64,
        ..TableOptions::default()
    };

    let mut b = TableBuilder::create(&path, opts.clone()).unwrap();
    for i in 0u32..1000 {
        b.add(&i.to_be_bytes(), 1, ValueKind::Put, 0, b"value")
            .unwrap();
    }
    assert!(path.exists());
    b.abandon().unwrap();
    assert!(!path.exists());

    let mut b = TableBuilder::create(&path, opts).unwrap();
    b.add(b"k", 1, ValueKind::Put, 0, b"v").unwrap();
    drop(b);
    assert!(!path.exists());
}

#[test]
fn estimated_size_tracks_the_final_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let mut b = TableBuilder::create(&path, TableOptions::default()).unwrap();
    let mut last = 0;
    for i in 0u32..20_000 {
        b.add(
            format!("key{i:08}").as_bytes(),
            1,
            ValueKind::Put,
            0,
            &[7u8; 50],
        )
        .unwrap();
        let est = b.estimated_size();
        assert!(est >= last, "estimate went backwards");
        last = est;
    }
    assert_eq!(b.entries(), 20_000);
    let meta = b.finish().unwrap();
    let ratio = last as f64 / meta.file_size as f64;
    assert!(
        (0.9..1.1).contains(&ratio),
        "estimate {last} vs actual {}",
        meta.file_size
    );
}

#[test]
fn tables_and_iterators_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Table>();
    send::<TableIter>();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sst");
    let mut b = TableBuilder::create(
        &path,
        TableOptions {
            block_size: 128,
            ..TableOptions::default()
        },
    )
    .unwrap();
    for i in 0u32..5000 {
        b.add(
            &i.to_be_bytes(),
            u64::from(i),
            ValueKind::Put,
            0,
            &i.to_le_bytes(),
        )
        .unwrap();
    }
    b.finish().unwrap();
    let table = Table::open(&path, 1).unwrap();
    // Several threads race to check the same blocks for the first time.
    std::thread::scope(|s| {
        for t in 0u32..4 {
            let table = &table;
            s.spawn(move || {
                for i in (t..5000).step_by(3) {
                    assert_eq!(
                        table
                            .get(&i.to_be_bytes(), u64::MAX)
                            .unwrap()
                            .unwrap()
                            .value,
                        i.to_le_bytes()
                    );
                }
            });
        }
    });
    let it = table.iter().unwrap();
    let n = std::thread::spawn(move || {
        let mut it = it;
        let mut n = 0;
        while ringkv_engine::iter::EntryIter::valid(&it) {
            n += 1;
            ringkv_engine::iter::EntryIter::next(&mut it).unwrap();
        }
        n
    })
    .join()
    .unwrap();
    assert_eq!(n, 5000);
}
