//! runner-pipeline: turns a project's `.gitlab-ci.yml` into the job payloads GitLab's
//! coordinator would send to a runner, so pipeline jobs can run locally without GitLab
//! (`gitlab-runner-rs exec`).
//!
//! It reads the configuration and its `include: local` files, resolves `extends`,
//! `!reference` tags and `default`, evaluates `workflow:rules`, `rules` and `when` against
//! GitLab's predefined variables, plans the jobs in stage order (expanding `parallel`), and
//! renders each planned job as the JSON of coordinator-api.md §6.
//! Every unknown or unsupported keyword becomes a [`Warning`] naming the job and the keyword;
//! a YAML syntax error names the file, line and column ([`Error::Yaml`]). What GitLab would
//! refuse before creating the pipeline (undefined or later-stage `needs`, a need that rules
//! exclude, `dependencies` outside `needs`, keywords of the wrong type...) is an
//! [`Error::Validation`] whose [`Problem`]s carry GitLab's message and `file:line`.
//!
//! It deliberately does **not** run anything and talks to no server: executing the payloads,
//! passing artifacts between jobs and printing traces is the binary's job. It reads no
//! environment variables; the only process it starts is `git`: in
//! [`LocalContext::from_checkout`] to describe the checkout, and while planning when a rule
//! uses `rules:changes`.
//!
//! Start from [`Pipeline`]: [`Pipeline::load`] (or [`Pipeline::parse`]), then
//! [`Pipeline::plan`] with a [`LocalContext`], then [`PlannedJob::to_job_payload`] for each job.
//!
//! ```
//! use std::collections::HashMap;
//! use runner_pipeline::{LocalContext, Pipeline, When};
//!
//! let yaml = r#"
//! stages: [build, test]
//! variables:
//!   GREETING: hello
//! .base:
//!   image: alpine:3.20
//!   before_script: [echo "$GREETING"]
//! build:
//!   extends: .base
//!   stage: build
//!   script: make
//!   artifacts: {paths: [bin/]}
//! test:
//!   extends: .base
//!   script: [make test]
//!   rules:
//!     - if: $CI_COMMIT_BRANCH == "main"
//! "#;
//! let pipeline = Pipeline::parse("/tmp/project", yaml)?;
//! let ctx = LocalContext {
//!     commit_sha: "3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d3f2a9c1d".into(),
//!     ref_name: "main".into(),
//!     ..LocalContext::default()
//! };
//! let plan = pipeline.plan(&ctx, &[])?;
//! let names: Vec<&str> = plan.jobs().iter().map(|job| job.name()).collect();
//! assert_eq!(names, ["build", "test"]);
//! assert_eq!(plan.jobs()[1].when(), When::OnSuccess);
//! assert_eq!(plan.jobs()[1].dependencies(), ["build"]);
//!
//! let payload = plan.jobs()[1].to_job_payload(&ctx, 2, &HashMap::from([("build".to_owned(), 1)]));
//! assert_eq!(payload["steps"][0]["script"][0], "echo \"$GREETING\"");
//! assert_eq!(payload["image"]["name"], "alpine:3.20");
//! assert_eq!(payload["dependencies"][0]["id"], 1);
//! # Ok::<(), runner_pipeline::Error>(())
//! ```

mod artifacts;
mod context;
mod duration;
mod environment;
mod error;
mod expr;
mod extends;
mod files;
mod image;
mod job;
mod lenient;
mod load;
mod matrix;
mod payload;
mod pipeline;
mod plan;
mod predefined;
mod reference;
mod rules;
mod schedule;
mod source;
mod validate;
mod variables;
mod warning;
mod when;
mod yaml;

pub use context::{LocalContext, RefType};
pub use error::{Error, Problem, Result};
pub use payload::DEFAULT_TIMEOUT_SECONDS;
pub use pipeline::Pipeline;
pub use plan::{Plan, PlannedJob, SkipReason, SkippedJob};
pub use variables::{Variable, expand, expand_all};
pub use warning::Warning;
pub use when::When;
