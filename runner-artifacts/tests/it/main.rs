//! Integration tests of runner-artifacts: real files, real git, HTTP over loopback, and a
//! real S3-compatible server (`moto_server`, ignored unless installed).

#![expect(clippy::unwrap_used, reason = "test helpers panic on unexpected failures, like the tests")]

// Path selection: globs, exclude, untracked, outside paths.
mod selection;
// Artifact upload and download through runner-api.
mod artifacts;
// Cache planning, local cache, pre-signed S3 round trips.
mod cache;
// The moto_server fixture.
mod moto;
// Archive formats and safe extraction.
mod roundtrip;
// Helpers shared by the modules.
mod support;
