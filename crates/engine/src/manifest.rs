//! The manifest: which SSTables are live, at which level, plus the counters that must survive a
//! restart. It is rewritten whole on every change through `fsutil::write_file_atomic` (temp file,
//! fsync, rename, fsync directory), so a crash at any point leaves either the old or the new set of
//! files, never a mixture. The file set is small (hundreds of entries), so a rewrite is cheap.
//!
//! Layout: `magic "RKVMANIF" | format u32 LE | payload_len u32 LE | crc32c(payload) u32 LE | payload`,
//! payload: `next_file_number u64 | last_seqno u64 | log_number u64 | table_count u32 |
//! (level u8 | file_number u64 | file_size u64)*`, all little-endian.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil::write_file_atomic;

const MAGIC: &[u8; 8] = b"RKVMANIF";
const FORMAT: u32 = 1;
pub const FILE_NAME: &str = "MANIFEST";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRef {
    pub level: u8,
    pub file_number: u64,
    pub file_size: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub next_file_number: u64,
    /// Highest sequence number in any SSTable; the WAL replays what came after.
    pub last_seqno: u64,
    /// WAL segments numbered below this are fully in SSTables and may be deleted.
    pub log_number: u64,
    pub tables: Vec<TableRef>,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

pub fn table_path(dir: &Path, file_number: u64) -> PathBuf {
    dir.join(format!("{file_number:06}.sst"))
}

impl Manifest {
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(28 + self.tables.len() * 17);
        payload.extend_from_slice(&self.next_file_number.to_le_bytes());
        payload.extend_from_slice(&self.last_seqno.to_le_bytes());
        payload.extend_from_slice(&self.log_number.to_le_bytes());
        payload.extend_from_slice(&(self.tables.len() as u32).to_le_bytes());
        for t in &self.tables {
            payload.push(t.level);
            payload.extend_from_slice(&t.file_number.to_le_bytes());
            payload.extend_from_slice(&t.file_size.to_le_bytes());
        }
        let mut out = Vec::with_capacity(payload.len() + 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    pub fn decode(file: &Path, bytes: &[u8]) -> Result<Manifest> {
        let bad = |offset: usize, reason: &str| Error::corruption(file, offset as u64, reason);
        let header = bytes
            .get(..20)
            .ok_or_else(|| bad(0, "manifest shorter than its header"))?;
        if &header[..8] != MAGIC {
            return Err(bad(0, "bad manifest magic"));
        }
        let word = |at: usize| -> u32 {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[at..at + 4]);
            u32::from_le_bytes(b)
        };
        let format = word(8);
        if format != FORMAT {
            return Err(bad(
                8,
                &format!("unsupported manifest format {format} (this build reads {FORMAT})"),
            ));
        }
        let len = word(12) as usize;
        let crc = word(16);
        let payload = bytes
            .get(20..)
            .filter(|p| p.len() == len)
            .ok_or_else(|| bad(12, "manifest length mismatch"))?;
        if crc32c::crc32c(payload) != crc {
            return Err(bad(16, "manifest checksum mismatch"));
        }
        let mut pos = 0usize;
        let u64_at = |pos: &mut usize| -> Result<u64> {
            let s = payload
                .get(*pos..*pos + 8)
                .ok_or_else(|| bad(20 + *pos, "truncated manifest"))?;
            *pos += 8;
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            Ok(u64::from_le_bytes(b))
        };
        let next_file_number = u64_at(&mut pos)?;
        let last_seqno = u64_at(&mut pos)?;
        let log_number = u64_at(&mut pos)?;
        let count_bytes = payload
            .get(pos..pos + 4)
            .ok_or_else(|| bad(20 + pos, "truncated manifest"))?;
        let count = u32::from_le_bytes([
            count_bytes[0],
            count_bytes[1],
            count_bytes[2],
            count_bytes[3],
        ]) as usize;
        pos += 4;
        if payload.len() != pos + count * 17 {
            return Err(bad(
                20 + pos,
                "manifest table count does not match its length",
            ));
        }
        let mut tables = Vec::with_capacity(count);
        for _ in 0..count {
            let level = payload
                .get(pos)
                .copied()
                .ok_or_else(|| bad(20 + pos, "truncated manifest"))?;
            pos += 1;
            let file_number = u64_at(&mut pos)?;
            let file_size = u64_at(&mut pos)?;
            tables.push(TableRef {
                level,
                file_number,
                file_size,
            });
        }
        Ok(Manifest {
            next_file_number,
            last_seqno,
            log_number,
            tables,
        })
    }

    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let p = path(dir);
        match std::fs::read(&p) {
            Ok(bytes) => Manifest::decode(&p, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    pub fn store(&self, dir: &Path) -> Result<()> {
        write_file_atomic(&path(dir), &self.encode())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            next_file_number: 42,
            last_seqno: 1000,
            log_number: 40,
            tables: vec![
                TableRef {
                    level: 0,
                    file_number: 39,
                    file_size: 4096,
                },
                TableRef {
                    level: 2,
                    file_number: 12,
                    file_size: 1 << 30,
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(Manifest::decode(Path::new("M"), &m.encode()).unwrap(), m);
    }

    #[test]
    fn every_flipped_bit_and_truncation_is_detected() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(Manifest::decode(Path::new("M"), &b)
                    .unwrap_err()
                    .is_corruption());
            }
            assert!(Manifest::decode(Path::new("M"), &bytes[..i])
                .unwrap_err()
                .is_corruption());
        }
    }
}
