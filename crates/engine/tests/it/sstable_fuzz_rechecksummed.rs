//! Garbage that passes the checksums (bytes changed and the block's checksum recomputed, as a
//! buggy writer would produce) still never makes the reader panic: every decoder bounds-checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use crate::common::{build, collect, sample_versions, V};
use proptest::prelude::*;
use ringkv_engine::sstable::{BlockHandle, Table, TableOptions, FOOTER_SIZE};

struct Original {
    versions: Vec<V>,
    bytes: Vec<u8>,
    /// Data blocks, then index, filter, properties: (handle, trailer type byte).
    blocks: Vec<(BlockHandle, u8)>,
    footer_offset: usize,
}

fn original() -> &'static Original {
    static ORIGINAL: OnceLock<Original> = OnceLock::new();
    ORIGINAL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let versions = sample_versions(120);
        let opts = TableOptions {
            block_size: 300,
            restart_interval: 3,
            bloom_bits_per_key: 10,
        };
        let (path, _) = build(dir.path(), "t.sst", opts, &versions);
        let table = Table::open(&path, 1).unwrap();
        let layout = table.layout();
        let mut blocks: Vec<(BlockHandle, u8)> = table
            .data_block_handles()
            .unwrap()
            .into_iter()
            .map(|h| (h, 1))
            .collect();
        blocks.extend([
            (layout.index, 2),
            (layout.filter, 3),
            (layout.properties, 4),
        ]);
        Original {
            versions,
            bytes: std::fs::read(&path).unwrap(),
            blocks,
            footer_offset: layout.footer_offset as usize,
        }
    })
}

/// Recomputes the trailer checksum of `h` (documented in sstable/mod.rs: CRC32C of payload + type).
fn reseal_block(bytes: &mut [u8], h: BlockHandle, block_type: u8) {
    let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[start..end]), &[block_type]);
    bytes[end + 1..end + 5].copy_from_slice(&crc.to_le_bytes());
}

/// Recomputes the footer checksum: CRC32C of its first 52 bytes, stored at +52.
fn reseal_footer(bytes: &mut [u8], footer: usize) {
    let crc = crc32c::crc32c(&bytes[footer..footer + 52]);
    bytes[footer + 52..footer + 56].copy_from_slice(&crc.to_le_bytes());
}

fn exercise(path: &std::path::Path, versions: &[V]) {
    let Ok(table) = Table::open(path, 1) else {
        return;
    };
    for v in versions {
        let _ = table.get(&v.key, v.seqno);
        let _ = table.get(&v.key, u64::MAX);
    }
    let _ = table.get(b"", u64::MAX);
    let _ = table.get(b"\xff\xff\xff", 0);
    let _ = table.iter().and_then(|mut it| collect(&mut it));
    for v in versions.iter().step_by(5) {
        let _ = table.iter_from(&v.key).and_then(|mut it| collect(&mut it));
    }
    let _ = table.data_block_handles();
    let _ = table.verify();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn resealed_garbage_never_panics(
        block in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..5),
        footer_flips in prop::collection::vec((0usize..52, 1u8..=255), 0..2),
    ) {
        let orig = original();
        let mut bytes = orig.bytes.clone();
        let (h, block_type) = orig.blocks[block.index(orig.blocks.len())];
        if h.size > 0 {
            for (at, mask) in &flips {
                bytes[h.offset as usize + at.index(h.size as usize)] ^= mask;
            }
            reseal_block(&mut bytes, h, block_type);
        }
        for (at, mask) in &footer_flips {
            bytes[orig.footer_offset + at] ^= mask;
        }
        reseal_footer(&mut bytes, orig.footer_offset);
        prop_assert_eq!(bytes.len() - orig.footer_offset, FOOTER_SIZE);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage.sst");
        std::fs::write(&path, &bytes).unwrap();
        exercise(&path, &orig.versions);
    }
}
