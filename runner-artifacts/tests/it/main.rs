//! Integration tests of runner-artifacts: real files, real git, HTTP over loopback, and a
//! real S3-compatible server (`moto_server`), GCS and Azure emulators (`gcp-storage-emulator`,
//! Azurite); the tests that need those servers are ignored unless asked for.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected failures, like the tests"
)]

// Path selection: globs, exclude, untracked, outside paths.
mod selection;
// Artifact upload and download through runner-api.
mod artifacts;
// Cache planning (keys, policy, fallbacks) and the local cache.
mod cache;
// The S3 cache against a loopback object store and moto_server.
mod s3;
// IAM credentials: the chain against a loopback IMDSv2 fake and moto's STS.
mod iam;
// The moto_server fixture.
mod moto;
// The GCS and Azure caches against gcp-storage-emulator and Azurite.
mod cloud;
// Archive formats and safe extraction.
mod roundtrip;
// Helpers shared by the modules.
mod support;
