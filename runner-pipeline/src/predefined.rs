//! Predefined variables, as GitLab sets them, for those that can be known locally.

use crate::context::{LocalContext, RefType};
use crate::variables::Variable;

/// The job-specific facts predefined variables need.
pub(crate) struct JobFacts<'a> {
    pub(crate) name: &'a str,
    pub(crate) stage: &'a str,
    /// Unknown while rules are evaluated, as on GitLab.
    pub(crate) id: Option<i64>,
    /// `(index, total)` for `parallel` jobs, 1-based.
    pub(crate) node: Option<(u32, u32)>,
    pub(crate) manual: bool,
}

/// GitLab's all-zero SHA, used as `CI_COMMIT_BEFORE_SHA` when there is no previous push.
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// The predefined variables of a job, in GitLab's order of groups (server, project, pipeline,
/// commit, job).
pub(crate) fn predefined(ctx: &LocalContext, job: &JobFacts<'_>) -> Vec<Variable> {
    let server_url = non_empty(&ctx.server_url, "http://localhost")
        .trim_end_matches('/')
        .to_owned();
    let (protocol, host_port) = server_url
        .split_once("://")
        .unwrap_or(("http", server_url.as_str()));
    let (host, port) = match host_port.split_once(':') {
        Some((host, port)) => (host.to_owned(), port.to_owned()),
        None => (
            host_port.to_owned(),
            if protocol == "https" { "443" } else { "80" }.to_owned(),
        ),
    };
    let project_url = format!("{server_url}/{}", ctx.project_path);
    let pipeline_id = ctx.pipeline_id.to_string();
    let (title, description) = match ctx.commit_message.trim_end().split_once('\n') {
        Some((title, rest)) => (title.to_owned(), rest.trim_start_matches('\n').to_owned()),
        None => (ctx.commit_message.trim_end().to_owned(), String::new()),
    };
    let short_sha: String = ctx.commit_sha.chars().take(8).collect();
    let root_namespace = ctx
        .project_namespace
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut list: Vec<(&str, String)> = vec![
        ("CI", "true".into()),
        ("GITLAB_CI", "true".into()),
        ("CI_SERVER_URL", server_url.clone()),
        ("CI_SERVER_HOST", host),
        ("CI_SERVER_PORT", port),
        ("CI_SERVER_PROTOCOL", protocol.to_owned()),
        ("CI_SERVER_NAME", "GitLab".into()),
        ("CI_API_V4_URL", format!("{server_url}/api/v4")),
        ("CI_PROJECT_NAME", ctx.project_name.clone()),
        ("CI_PROJECT_TITLE", ctx.project_name.clone()),
        ("CI_PROJECT_PATH", ctx.project_path.clone()),
        ("CI_PROJECT_PATH_SLUG", slug(&ctx.project_path)),
        ("CI_PROJECT_NAMESPACE", ctx.project_namespace.clone()),
        ("CI_PROJECT_ROOT_NAMESPACE", root_namespace),
        ("CI_PROJECT_URL", project_url.clone()),
        ("CI_PROJECT_VISIBILITY", "private".into()),
        ("CI_REPOSITORY_URL", ctx.repo_url.clone()),
        (
            "CI_DEFAULT_BRANCH",
            non_empty(&ctx.default_branch, "main").to_owned(),
        ),
        (
            "CI_CONFIG_PATH",
            non_empty(&ctx.config_path, ".gitlab-ci.yml").to_owned(),
        ),
        ("CI_PIPELINE_ID", pipeline_id.clone()),
        ("CI_PIPELINE_IID", pipeline_id.clone()),
        ("CI_PIPELINE_SOURCE", "local".into()),
        (
            "CI_PIPELINE_URL",
            format!("{project_url}/-/pipelines/{pipeline_id}"),
        ),
        ("CI_COMMIT_SHA", ctx.commit_sha.clone()),
        ("CI_COMMIT_SHORT_SHA", short_sha),
        (
            "CI_COMMIT_BEFORE_SHA",
            non_empty(&ctx.before_sha, ZERO_SHA).to_owned(),
        ),
        ("CI_COMMIT_REF_NAME", ctx.ref_name.clone()),
        ("CI_COMMIT_REF_SLUG", slug(&ctx.ref_name)),
        ("CI_COMMIT_REF_PROTECTED", "false".into()),
        ("CI_COMMIT_MESSAGE", ctx.commit_message.clone()),
        ("CI_COMMIT_TITLE", title),
        ("CI_COMMIT_DESCRIPTION", description),
    ];
    match ctx.ref_type {
        RefType::Branch => list.push(("CI_COMMIT_BRANCH", ctx.ref_name.clone())),
        RefType::Tag => list.push(("CI_COMMIT_TAG", ctx.ref_name.clone())),
    }
    list.push(("CI_JOB_NAME", job.name.to_owned()));
    list.push(("CI_JOB_NAME_SLUG", slug(job.name)));
    list.push(("CI_JOB_STAGE", job.stage.to_owned()));
    if let Some(id) = job.id {
        list.push(("CI_JOB_ID", id.to_string()));
        list.push(("CI_JOB_URL", format!("{project_url}/-/jobs/{id}")));
    }
    if job.manual {
        list.push(("CI_JOB_MANUAL", "true".into()));
    }
    if let Some((index, total)) = job.node {
        list.push(("CI_NODE_INDEX", index.to_string()));
        list.push(("CI_NODE_TOTAL", total.to_string()));
    }
    let mut variables: Vec<Variable> = list
        .into_iter()
        .map(|(key, value)| Variable::public(key, value))
        .collect();
    if job.id.is_some() {
        // The job token comes first in GitLab's list, and is the one secret it always sends.
        variables.insert(
            0,
            Variable {
                key: "CI_JOB_TOKEN".into(),
                value: ctx.job_token.clone(),
                public: false,
                file: false,
                masked: true,
                raw: false,
            },
        );
    }
    variables
}

/// GitLab's slug: lowercased, every character outside `a-z0-9` replaced by `-`, at most 63
/// bytes, no leading or trailing `-`.
pub(crate) fn slug(text: &str) -> String {
    let replaced: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let shortened: String = replaced.chars().take(63).collect();
    shortened.trim_matches('-').to_owned()
}

fn non_empty<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(slug(input), expected, "{input}");
    }

    #[test]
    fn slugs() {
        check("feature/Add_Login", "feature-add-login");
        check("-v1.2.3-", "v1-2-3");
        check("rspec 1/3", "rspec-1-3");
        check(&"a".repeat(70), &"a".repeat(63));
    }

    #[test]
    fn branch_and_tag_variables() {
        let mut ctx = LocalContext {
            ref_name: "v1.0".into(),
            ref_type: RefType::Tag,
            commit_message: "Title\n\nBody text\n".into(),
            ..LocalContext::default()
        };
        let facts = JobFacts {
            name: "a",
            stage: "test",
            id: Some(7),
            node: None,
            manual: false,
        };
        let find = |vars: &[Variable], key: &str| {
            vars.iter().find(|v| v.key == key).map(|v| v.value.clone())
        };
        let vars = predefined(&ctx, &facts);
        assert_eq!(find(&vars, "CI_COMMIT_TAG").as_deref(), Some("v1.0"));
        assert_eq!(find(&vars, "CI_COMMIT_BRANCH"), None);
        assert_eq!(find(&vars, "CI_COMMIT_TITLE").as_deref(), Some("Title"));
        assert_eq!(
            find(&vars, "CI_COMMIT_DESCRIPTION").as_deref(),
            Some("Body text")
        );
        assert_eq!(find(&vars, "CI_SERVER_HOST").as_deref(), Some("localhost"));
        assert!(vars[0].masked && vars[0].key == "CI_JOB_TOKEN");
        ctx.ref_type = RefType::Branch;
        assert_eq!(
            find(&predefined(&ctx, &facts), "CI_COMMIT_BRANCH").as_deref(),
            Some("v1.0")
        );
    }
}
