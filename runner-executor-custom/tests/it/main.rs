//! Integration tests of the custom executor with real driver scripts (bash on this host).

// Writing driver scripts and running jobs through them.
mod support;
// Call order, arguments, environment and config_exec output.
mod protocol;
// Exit codes, failure mapping and preparation retries.
mod failures;
// Timeouts, cancellation, the kill sequence and leftover processes.
mod stopping;
