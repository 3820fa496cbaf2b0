//! Integration tests of the Docker executor against a real engine (`scripts/setup-docker.sh`
//! installs and starts it and builds the local images). Tests that need the engine are
//! `#[ignore = "needs docker"]`.

// Support: settings, running a job, counting a runner's objects on the engine.
mod support;
// Jobs end to end: success, exit codes, services by alias, dns, resource limits.
mod jobs;
// Images: pull policies, allowed_pull_policies, missing images, the loopback registry.
mod images;
// Nothing leaks: cancellation, timeout, sweep of a killed runner's objects; connection errors.
mod lifecycle;
// Sources: git in the helper container, the checkout in the build container.
mod sources;
