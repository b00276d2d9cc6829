//! The engine's integration tests, one module per behaviour, compiled into one test binary
//! (one link instead of one per file keeps `cargo test` fast).

mod behaviour;
mod common;
mod crash;
mod model;
mod sstable_big_entries;
mod sstable_bloom_fpr;
mod sstable_builder_lifecycle;
mod sstable_corrupt_data_block;
mod sstable_corrupt_metadata;
mod sstable_fuzz_mutation;
mod sstable_fuzz_rechecksummed;
mod sstable_get_latency;
mod sstable_model;
mod sstable_out_of_order;
mod wal_corruption;
mod wal_group_commit;
mod wal_proptest;
mod wal_recovery;
mod wal_recycling;
mod wal_round_trip;
