//! Examples of linking the gitlab-runner-rs crates into a custom agent.
//!
//! Each example is a `[[example]]` of this package; run one with
//! `cargo run -p runner-examples --example <name>`.
