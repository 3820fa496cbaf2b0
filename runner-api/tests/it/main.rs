//! Integration tests of runner-api against the fake coordinator and gitlab-runner-mock.
//! Tests named `vector_NN_*` implement test vector NN of the coordinator spec (§17).

// clippy's allow-unwrap-in-tests does not reach the helpers of an integration test binary.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic on unexpected results"
)]

// Shared setup: fake, client, runner info.
mod support;
// §17 vectors 1–4: URL, headers, proxies.
mod transport;
// §17 vectors 5–18: the HTTP retry layer, wait schedules under a paused clock.
mod retry;
// §17 vectors 19–28: job requests, long polling, commit.
mod job_request;
// §17 vectors 29–45: trace PATCH, keep-alive, final update, cancellation.
mod trace;
// §17 vectors 55–59: artifacts upload and download.
mod artifacts;
// §17 vectors 61–66: register, verify, unregister, reset token.
mod registration;
// §1.4: redirects within an attempt, bodies re-sent, credentials kept to the host.
mod redirect;
// TLS: tls-ca-file and client certificates against a rustls terminator.
mod tls;
// Contract tests against the independent gitlab-runner-mock crate.
mod contract;
// Property tests: any split of a trace reassembles exactly at the fake.
mod trace_split;
