//! `Table::open` refuses a file whose index, filter, properties or footer is damaged, a truncated
//! file and a file that is not a table at all, with `Error::Corruption` naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::common::{assert_corruption_in, build, sample_versions};
use ringkv_engine::sstable::{BlockHandle, Table, TableLayout, TableOptions, FOOTER_SIZE, MAGIC};

fn good_table(dir: &Path) -> (PathBuf, TableLayout, Vec<u8>) {
    let opts = TableOptions {
        block_size: 256,
        restart_interval: 8,
        bloom_bits_per_key: 10,
    };
    let (path, _) = build(dir, "good.sst", opts, &sample_versions(200));
    let layout = Table::open(&path, 1).unwrap().layout();
    let bytes = std::fs::read(&path).unwrap();
    (path, layout, bytes)
}

fn open_err(path: &Path) -> ringkv_engine::Error {
    match Table::open(path, 9) {
        Ok(_) => panic!("{} opened despite damage", path.display()),
        Err(e) => e,
    }
}

/// Flips each of `spots` in its own copy of `bytes`; every copy must fail to open with corruption
/// located in `expect`.
fn flips_fail_open(
    dir: &Path,
    bytes: &[u8],
    name: &str,
    spots: &[u64],
    expect: std::ops::Range<u64>,
) {
    for &at in spots {
        for mask in [0x01u8, 0x80] {
            let mut bad = bytes.to_vec();
            bad[at as usize] ^= mask;
            let path = dir.join(format!("{name}-{at}-{mask}.sst"));
            std::fs::write(&path, &bad).unwrap();
            let err = open_err(&path);
            assert_corruption_in(&err, &path, expect.clone());
        }
    }
}

fn spots_in(h: BlockHandle) -> Vec<u64> {
    let end = h.end_with_trailer().unwrap();
    let mut spots: Vec<u64> = (h.offset..end)
        .step_by(((end - h.offset) / 16).max(1) as usize)
        .collect();
    // The trailer: type byte and every checksum byte.
    spots.extend(h.offset + h.size..end);
    spots.sort_unstable();
    spots.dedup();
    spots
}

#[test]
fn damaged_index_filter_or_properties_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_, layout, bytes) = good_table(dir.path());
    for (name, h) in [
        ("index", layout.index),
        ("filter", layout.filter),
        ("properties", layout.properties),
    ] {
        assert!(h.size > 0, "{name} block is empty");
        flips_fail_open(
            dir.path(),
            &bytes,
            name,
            &spots_in(h),
            h.offset..h.end_with_trailer().unwrap(),
        );
    }
}

#[test]
fn damaged_footer_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_, layout, bytes) = good_table(dir.path());
    let footer = layout.footer_offset..bytes.len() as u64;
    assert_eq!(footer.end - footer.start, FOOTER_SIZE as u64);
    flips_fail_open(
        dir.path(),
        &bytes,
        "footer",
        &footer.clone().collect::<Vec<_>>(),
        footer,
    );
}

#[test]
fn truncation_at_any_offset_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, bytes) = good_table(dir.path());
    let path = dir.path().join("cut.sst");
    for len in 0..bytes.len() {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let err = open_err(&path);
        assert_corruption_in(&err, &path, 0..len.max(1) as u64);
    }
}

#[test]
fn appended_bytes_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, bytes) = good_table(dir.path());
    let path = dir.path().join("long.sst");
    let mut long = bytes.clone();
    long.extend_from_slice(&[0u8; 100]);
    std::fs::write(&path, &long).unwrap();
    assert!(open_err(&path).is_corruption());
    // Even a second copy of the footer at the new end does not pass: the handles no longer tile.
    let mut doubled = bytes.clone();
    doubled.extend_from_slice(&bytes[bytes.len() - FOOTER_SIZE..]);
    std::fs::write(&path, &doubled).unwrap();
    assert!(open_err(&path).is_corruption());
}

#[test]
fn random_bytes_fail_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (n, len) in [0usize, 1, 10, 63, 64, 65, 200, 4096, 100_000]
        .into_iter()
        .enumerate()
    {
        for with_magic in [false, true] {
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if with_magic && len >= 8 {
                // Get past the magic check to exercise the checksum and the handle checks.
                let at = len - 8;
                bytes[at..].copy_from_slice(&MAGIC);
            }
            let path = dir.path().join(format!("random-{n}-{with_magic}.sst"));
            std::fs::write(&path, &bytes).unwrap();
            let err = open_err(&path);
            assert_corruption_in(&err, &path, 0..len.max(1) as u64);
        }
    }
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.sst");
    match Table::open(&path, 1) {
        Err(ringkv_engine::Error::Io { path: Some(p), .. }) => assert_eq!(p, path),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
