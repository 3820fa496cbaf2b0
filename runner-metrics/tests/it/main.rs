//! Integration tests of runner-metrics: one binary, one module per area. Every test serves a
//! real registry on a loopback socket and reads it back over HTTP.

// Helpers shared by the modules: the server harness and a raw HTTP/1.1 client.
mod common;
// A strict parser of the text formats; every scrape goes through it.

// Metric values after recorded events: API statuses and requests, jobs.
mod scrape;
// The catalogue of families, pre-initialised series, version and process metrics.
mod families;
// Content negotiation of /metrics: OpenMetrics, gzip, methods.
mod negotiation;
// The other endpoints: /debug/jobs/list, /debug/process/state, /health/ready, 404s.
mod endpoints;
// Binding every listen_address form, failures, the exposure warning, rebind and shutdown.
mod binding;
// CPU profiles from /debug/pprof/profile decode as profile.proto.
mod pprof;
// HTTPS with client-certificate verification.
mod tls;
