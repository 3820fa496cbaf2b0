//! Examples of linking the gitlab-runner-rs crates into a custom agent.
//!
//! Each example is a `[[example]]` of this package:
//! - `custom_agent`: polls a coordinator with `runner-api` and runs jobs with
//!   `runner-executor-shell` (`cargo run -p runner-examples --example custom_agent`).
//!
//! `monitoring/` holds a Grafana dashboard and Prometheus alert rules for the runner's
//! metrics; `pipeline/` is a small project whose `.gitlab-ci.yml` runs with
//! `gitlab-runner-rs exec shell`.
