//! Integration tests of runner-pipeline: one module per area, realistic fixtures under
//! `tests/fixtures/`.

use std::path::PathBuf;

use runner_pipeline::{LocalContext, Pipeline, RefType};

/// `LocalContext::from_checkout` against a real git repository.
mod checkout;
/// Loading files: `include: local`, YAML errors with file:line:column.
mod load;
/// The model: `extends`, `!reference`, `default`, hidden jobs, stages, warnings.
mod model;
/// The job payload: JSON shape of coordinator-api.md §6, variables, masking.
mod payload;
/// Planning: rules, `when`, selection, `parallel`, dependencies, order.
mod plan;
/// Serde mirror of the payload shape of coordinator-api.md §6, used by `payload`.
mod section6;
/// Validation GitLab does before any job runs: GitLab's messages with file:line.
mod validate;

/// The path of a fixture project.
pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The realistic web application pipeline.
pub(crate) fn webapp() -> Pipeline {
    Pipeline::load(fixture("webapp")).expect("the webapp fixture loads")
}

/// A context on branch `branch` of `acme/webapp`.
pub(crate) fn context(branch: &str) -> LocalContext {
    LocalContext {
        project_dir: fixture("webapp"),
        commit_sha: "3f2a9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b".into(),
        ref_name: branch.into(),
        ref_type: RefType::Branch,
        commit_message: "Add login page\n\nWith tests.\n".into(),
        default_branch: "main".into(),
        repo_url: "file:///work/webapp".into(),
        project_name: "webapp".into(),
        project_path: "acme/webapp".into(),
        project_namespace: "acme".into(),
        server_url: "https://gitlab.example.com".into(),
        pipeline_id: 901,
        job_token: "glcbt-local-token".into(),
        ..LocalContext::default()
    }
}

/// Parses an inline configuration; `include: local` files would be read from a fixture dir.
pub(crate) fn parse(yaml: &str) -> Pipeline {
    Pipeline::parse(fixture("webapp"), yaml).unwrap_or_else(|error| panic!("{error:#?}"))
}
