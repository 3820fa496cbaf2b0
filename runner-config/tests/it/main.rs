//! Integration tests of runner-config: one binary, one module per area.

/// Realistic configuration files (tests/corpus) load with the expected values.
mod corpus;
/// Comment-preserving edits, the register layout and the written file's mode.
mod edit;
/// Invalid files: every problem reported with file, line, column and key.
mod invalid;
/// The one-process-per-file lock.
mod lock;
/// Change detection and reload of a configuration file.
mod reload;
/// Property tests: model round trips and byte-preserving edits.
mod roundtrip;
/// Warnings: unknown keys, case-insensitive keys, suspicious values.
mod warnings;

use std::path::PathBuf;

/// The path of a corpus file.
pub(crate) fn corpus_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(name)
}
