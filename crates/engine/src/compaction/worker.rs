//! Executes a compaction task: merges the inputs (newest first), keeps the newest version of each
//! key, drops or shrinks dead data as the task allows, and cuts the output into tables of about
//! `target_file_bytes` at key boundaries.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::iter::EntryIter;
use crate::sstable::{Table, TableBuilder, TableOptions};
use crate::types::{is_live, ValueKind};

pub struct Output {
    pub tables: Vec<Arc<Table>>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub entries_dropped: u64,
}

/// Writes what `input` yields into new tables. `new_table` returns the path and number of the next
/// output file. On error every table written so far is removed again.
pub fn write_tables(
    input: &mut dyn EntryIter,
    drop_dead: bool,
    now_ms: u64,
    target_file_bytes: u64,
    table_options: &TableOptions,
    mut new_table: impl FnMut() -> (std::path::PathBuf, u64),
) -> Result<Output> {
    let mut out = Output {
        tables: Vec::new(),
        bytes_read: 0,
        bytes_written: 0,
        entries_dropped: 0,
    };
    let result = write_tables_inner(
        input,
        drop_dead,
        now_ms,
        target_file_bytes,
        table_options,
        &mut new_table,
        &mut out,
    );
    match result {
        Ok(()) => Ok(out),
        Err(e) => {
            for t in &out.tables {
                let _ = std::fs::remove_file(t.path());
            }
            Err(e)
        }
    }
}

fn write_tables_inner(
    input: &mut dyn EntryIter,
    drop_dead: bool,
    now_ms: u64,
    target_file_bytes: u64,
    table_options: &TableOptions,
    new_table: &mut dyn FnMut() -> (std::path::PathBuf, u64),
    out: &mut Output,
) -> Result<()> {
    let mut builder: Option<(TableBuilder, std::path::PathBuf, u64)> = None;
    let mut last_key: Option<Vec<u8>> = None;
    while input.valid() {
        out.bytes_read += (input.key().len() + input.value().len()) as u64;
        if last_key.as_deref() == Some(input.key()) {
            // An older version of a key already written: no reader of the new files needs it.
            out.entries_dropped += 1;
            input.next()?;
            continue;
        }
        last_key = Some(input.key().to_vec());
        let live = is_live(input.kind(), input.expires_at(), now_ms);
        if !live && drop_dead {
            out.entries_dropped += 1;
            input.next()?;
            continue;
        }
        if builder
            .as_ref()
            .is_some_and(|(b, _, _)| b.estimated_size() >= target_file_bytes)
        {
            if let Some((b, path, number)) = builder.take() {
                finish(b, &path, number, out)?;
            }
        }
        if builder.is_none() {
            let (path, number) = new_table();
            builder = Some((
                TableBuilder::create(&path, table_options.clone())?,
                path,
                number,
            ));
        }
        if let Some((b, _, _)) = builder.as_mut() {
            if live {
                b.add(
                    input.key(),
                    input.seqno(),
                    ValueKind::Put,
                    input.expires_at(),
                    input.value(),
                )?;
            } else {
                // Still shadows older versions below, but its bytes are no longer needed.
                b.add(input.key(), input.seqno(), ValueKind::Delete, 0, &[])?;
            }
        }
        input.next()?;
    }
    if let Some((b, path, number)) = builder.take() {
        finish(b, &path, number, out)?;
    }
    Ok(())
}

fn finish(builder: TableBuilder, path: &Path, number: u64, out: &mut Output) -> Result<()> {
    let meta = builder.finish()?;
    out.bytes_written += meta.file_size;
    out.tables.push(Table::open(path, number)?);
    Ok(())
}
