//! Integration tests of runner-config: one binary, one module per area.

/// Corpus files from the spec and the seeds load with the expected values.
mod corpus;
/// Corpus files of deployments: Helm, Docker with S3, several runners, other executors.
mod corpus_deployments;
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

use std::collections::BTreeMap;
use std::path::PathBuf;

use runner_config::{LoadError, Loaded, WarningKind, load, load_template};

/// The path of a corpus file.
pub(crate) fn corpus_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// Loads a corpus file, failing on any problem and on any unknown key.
pub(crate) fn load_corpus(name: &str) -> Loaded {
    check_known_keys(name, load(corpus_path(name)))
}

/// Loads a corpus file that shows only part of a `[[runners]]` entry (no `url`), as a
/// `register --template-config` file does; otherwise as [`load_corpus`].
pub(crate) fn load_corpus_fragment(name: &str) -> Loaded {
    let error = load(corpus_path(name)).expect_err("a fragment without url is no config");
    assert_eq!(error.problems()[0].key(), "runners[0].url", "{error}");
    check_known_keys(name, load_template(corpus_path(name)))
}

fn check_known_keys(name: &str, loaded: Result<Loaded, LoadError>) -> Loaded {
    let loaded = loaded.unwrap_or_else(|error| panic!("{error}"));
    let unknown: Vec<String> = loaded
        .warnings
        .iter()
        .filter(|warning| warning.kind() == WarningKind::UnknownKey)
        .map(ToString::to_string)
        .collect();
    assert!(unknown.is_empty(), "{name}: unknown keys {unknown:#?}");
    loaded
}

pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}
