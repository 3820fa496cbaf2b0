//! Fuzzes the loader and the editor with arbitrary bytes.
//!
//! Invariants: nothing panics; every problem has a 1-based location inside the input; a
//! document that `toml_edit` accepts is reproduced byte for byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use runner_config::{ConfigDocument, load_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let line_count = text.lines().count().max(1) + 1;
    match load_str(text, "fuzz.toml") {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                assert!(warning.location().line() >= 1 && warning.location().line() <= line_count);
            }
        }
        Err(error) => {
            assert!(!error.problems().is_empty());
            for problem in error.problems() {
                assert!(problem.location().line() >= 1 && problem.location().line() <= line_count);
                assert!(problem.location().column() >= 1);
                let _ = problem.to_string();
            }
        }
    }
    if let Ok(document) = ConfigDocument::parse(text, "fuzz.toml") {
        assert_eq!(document.to_string(), text);
    }
});
