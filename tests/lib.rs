//! End-to-end tests of gitlab-runner-rs.
//!
//! The tests live in `it/`; this library holds the helpers they share
//! (starting the binary, waiting for a fake coordinator's state).
