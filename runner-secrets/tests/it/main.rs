//! Integration tests of runner-secrets: resolution over HTTP against the fake Vault on
//! loopback.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected failures, like the tests"
)]

// Vault: JWT login, KV v1/v2 reads, namespaces, upstream's error messages.
mod vault;
// HTTPS to Vault: a private CA through `ResolveOptions::extra_ca_pem`.
mod tls;
