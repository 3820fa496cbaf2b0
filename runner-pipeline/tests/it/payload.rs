//! The job payload: the JSON shape of coordinator-api.md §6, field by field, decoded into a
//! mirror of §6; variable precedence, expansion and masking.

use std::collections::HashMap;

use runner_pipeline::{LocalContext, PlannedJob, expand_all};
use serde_json::{Value, json};

use crate::section6::JobPayload;

use crate::{context, webapp};

fn planned(ctx: &LocalContext, name: &str) -> PlannedJob {
    let plan = webapp().plan(ctx, &[name.to_owned()]).expect("plans");
    plan.jobs()[0].clone()
}

fn decode(payload: Value) -> JobPayload {
    serde_json::from_value(payload)
        .unwrap_or_else(|error| panic!("payload decodes per §6: {error}"))
}

#[test]
fn build_payload_matches_section_6_field_by_field() {
    let ctx = context("main");
    let payload = planned(&ctx, "build").to_job_payload(
        &ctx,
        4711,
        &HashMap::from([("prepare".to_owned(), 4700)]),
    );
    let decoded = decode(payload.clone());
    assert_eq!(decoded.id, 4711);
    assert_eq!(decoded.token, "glcbt-local-token");
    assert!(decoded.allow_git_fetch);

    let info = &decoded.job_info;
    assert_eq!(
        (info.name.as_str(), info.stage.as_str(), info.pipeline_id),
        ("build", "build", 901)
    );
    assert_eq!(
        (info.project_name.as_str(), info.project_full_path.as_str()),
        ("webapp", "acme/webapp")
    );
    assert_eq!(info.project_jobs_running_on_instance_runners_count, "0");
    assert_eq!(
        (info.project_id, info.namespace_id, info.root_namespace_id),
        (0, 0, 0)
    );
    assert_eq!(
        (
            info.organization_id,
            info.user_id,
            info.queue_size,
            info.queue_depth
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (info.instance_id.as_str(), info.instance_uuid.as_str()),
        ("", "")
    );
    assert!(info.time_in_queue_seconds.abs() < f64::EPSILON);

    let git = &decoded.git_info;
    assert_eq!(git.repo_url, "file:///work/webapp");
    assert_eq!(git.repo_object_format, "sha1");
    assert_eq!(
        (git.ref_name.as_str(), git.ref_type.as_str()),
        ("main", "branch")
    );
    assert_eq!(git.sha, "3f2a9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b");
    assert_eq!(git.before_sha, "0".repeat(40));
    assert_eq!(git.refspecs, ["+refs/heads/main:refs/remotes/origin/main"]);
    // GIT_DEPTH in the YAML becomes git_info.depth, as the server does.
    assert_eq!(git.depth, 10);
    assert_eq!(git.protected, Some(false));

    assert_eq!(decoded.runner_info.timeout, 1800);

    assert_eq!(
        decoded.steps.len(),
        1,
        "no after_script step without after_script"
    );
    let step = &decoded.steps[0];
    assert_eq!(step.name, "script");
    assert_eq!(
        step.script,
        [
            "npm ci --cache .npm",
            "npm run build",
            "echo \"BUILD_ID=$CI_JOB_ID\" > build.env"
        ]
    );
    assert_eq!(
        (step.timeout, step.when.as_str(), step.allow_failure),
        (1800, "on_success", false)
    );

    let image = decoded.image.as_ref().expect("image");
    assert_eq!(image.name, "node:${NODE_VERSION}-alpine");
    assert!(
        image.entrypoint.is_empty()
            && image.pull_policy.is_empty()
            && image.executor_opts.is_none()
    );
    assert!(decoded.services.is_empty());

    assert_eq!(decoded.artifacts.len(), 2);
    let archive = &decoded.artifacts[0];
    assert_eq!(archive.name, "dist-$CI_COMMIT_REF_SLUG");
    assert_eq!(
        (archive.paths.as_slice(), archive.exclude.as_slice()),
        (&["dist/".to_owned()][..], &["dist/**/*.map".to_owned()][..])
    );
    assert_eq!(
        (
            archive.when.as_str(),
            archive.artifact_type.as_str(),
            archive.artifact_format.as_str()
        ),
        ("on_success", "archive", "zip")
    );
    assert_eq!(archive.expire_in, "1 week");
    assert!(!archive.untracked);
    let dotenv = &decoded.artifacts[1];
    assert_eq!(
        (
            dotenv.name.as_str(),
            dotenv.artifact_type.as_str(),
            dotenv.artifact_format.as_str()
        ),
        ("dotenv", "dotenv", "gzip")
    );
    assert_eq!(
        (dotenv.paths.as_slice(), dotenv.when.as_str()),
        (&["build.env".to_owned()][..], "always")
    );

    let cache = &decoded.cache[0];
    assert_eq!(cache.key, "npm-$CI_COMMIT_REF_SLUG");
    assert_eq!(
        (cache.policy.as_str(), cache.when.as_str(), cache.untracked),
        ("pull-push", "on_success", false)
    );
    assert_eq!(
        (cache.paths.as_slice(), cache.fallback_keys.as_slice()),
        (&[".npm/".to_owned()][..], &["npm-main".to_owned()][..])
    );

    let dependency = &decoded.dependencies[0];
    assert_eq!(
        (
            dependency.id,
            dependency.name.as_str(),
            dependency.token.as_str()
        ),
        (4700, "prepare", "glcbt-local-token")
    );
    assert_eq!(
        (
            dependency.artifacts_file.filename.as_str(),
            dependency.artifacts_file.size
        ),
        ("artifacts.zip", 0)
    );
    assert!(decoded.features.trace_sections);
}

#[test]
fn services_after_script_and_reports_of_other_jobs() {
    let ctx = context("main");
    let unit = decode(planned(&ctx, "unit").to_job_payload(&ctx, 1, &HashMap::new()));
    assert_eq!(unit.services.len(), 2);
    assert_eq!(unit.services[0].name, "postgres:16");
    assert_eq!(
        (
            unit.services[1].name.as_str(),
            unit.services[1].alias.as_str()
        ),
        ("redis:7", "cache")
    );
    assert!(
        unit.services[1].command.is_empty()
            && unit.services[0].ports.is_empty()
            && unit.services[0].variables.is_empty()
    );
    let junit = &unit.artifacts[0];
    assert_eq!(
        (
            junit.artifact_type.as_str(),
            junit.artifact_format.as_str(),
            junit.when.as_str()
        ),
        ("junit", "gzip", "always")
    );
    // Dependencies are listed only for jobs the caller gives an id for.
    assert!(unit.dependencies.is_empty());

    let deploy = decode(planned(&ctx, "deploy").to_job_payload(
        &ctx,
        2,
        &HashMap::from([("build".to_owned(), 1)]),
    ));
    let after = &deploy.steps[1];
    assert_eq!(
        (
            after.name.as_str(),
            after.when.as_str(),
            after.allow_failure
        ),
        ("after_script", "always", true)
    );
    assert_eq!(after.script, ["echo cleanup"]);
    assert_eq!(deploy.dependencies.len(), 1);
    let environment: Vec<(&str, &str)> = deploy
        .variables
        .iter()
        .filter(|v| v.key.starts_with("CI_ENVIRONMENT_"))
        .map(|v| (v.key.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        environment,
        [
            ("CI_ENVIRONMENT_NAME", "staging"),
            ("CI_ENVIRONMENT_SLUG", "staging"),
            ("CI_ENVIRONMENT_ACTION", "start"),
            ("CI_ENVIRONMENT_TIER", "staging"),
            ("CI_ENVIRONMENT_URL", "https://staging.example.com")
        ]
    );
}

#[test]
fn image_options_and_service_variables_are_carried() {
    let pipeline = crate::parse(
        "job:\n  script: x\n  image: {name: 'golang:1.24', entrypoint: [''], pull_policy: [always, if-not-present], \
         docker: {platform: linux/amd64, user: '1000'}}\n  services:\n    - name: postgres:16\n      alias: db,pg\n      \
         command: [postgres, -c, fsync=off]\n      entrypoint: [docker-entrypoint.sh]\n      variables: {POSTGRES_PASSWORD: pw}\n",
    );
    let ctx = context("main");
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let payload = plan.jobs()[0].to_job_payload(&ctx, 1, &HashMap::new());
    assert_eq!(
        payload["image"],
        json!({"name": "golang:1.24", "entrypoint": [""], "pull_policy": ["always", "if-not-present"],
               "executor_opts": {"docker": {"platform": "linux/amd64", "user": "1000"}}})
    );
    assert_eq!(
        payload["services"][0],
        json!({"name": "postgres:16", "alias": "db,pg", "command": ["postgres", "-c", "fsync=off"],
               "entrypoint": ["docker-entrypoint.sh"],
               "variables": [{"key": "POSTGRES_PASSWORD", "value": "pw", "public": true, "file": false, "masked": false, "raw": false}]})
    );
    decode(payload);
}

#[test]
fn predefined_variables_are_set_as_gitlab_does() {
    let ctx = context("feature/Login-Page");
    let variables = planned(&ctx, "lint").variables(&ctx, 77);
    let value = |key: &str| {
        variables
            .iter()
            .find(|v| v.key == key)
            .map(|v| v.value.as_str())
    };
    for (key, expected) in [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_COMMIT_SHA", "3f2a9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"),
        ("CI_COMMIT_SHORT_SHA", "3f2a9c1d"),
        ("CI_COMMIT_REF_NAME", "feature/Login-Page"),
        ("CI_COMMIT_REF_SLUG", "feature-login-page"),
        ("CI_COMMIT_BRANCH", "feature/Login-Page"),
        (
            "CI_COMMIT_BEFORE_SHA",
            "0000000000000000000000000000000000000000",
        ),
        ("CI_COMMIT_TITLE", "Add login page"),
        ("CI_COMMIT_MESSAGE", "Add login page\n\nWith tests.\n"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_PROJECT_NAME", "webapp"),
        ("CI_PROJECT_PATH", "acme/webapp"),
        ("CI_PROJECT_NAMESPACE", "acme"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/acme/webapp"),
        ("CI_PIPELINE_ID", "901"),
        ("CI_PIPELINE_IID", "901"),
        ("CI_PIPELINE_SOURCE", "local"),
        ("CI_JOB_NAME", "lint"),
        ("CI_JOB_NAME_SLUG", "lint"),
        ("CI_JOB_STAGE", "test"),
        ("CI_JOB_ID", "77"),
        (
            "CI_JOB_URL",
            "https://gitlab.example.com/acme/webapp/-/jobs/77",
        ),
        ("CI_SERVER_URL", "https://gitlab.example.com"),
        ("CI_SERVER_HOST", "gitlab.example.com"),
        ("CI_SERVER_PORT", "443"),
        ("CI_JOB_TOKEN", "glcbt-local-token"),
    ] {
        assert_eq!(value(key), Some(expected), "{key}");
    }
    assert_eq!(value("CI_COMMIT_TAG"), None);
    assert_eq!(value("CI_NODE_INDEX"), None);
}

#[test]
fn variable_precedence_is_predefined_global_job_rules_user() {
    let pipeline = crate::parse(
        "variables: {CI_PROJECT_NAME: from-global, G: global, J: global, R: global, U: global}\n\
         job:\n  script: x\n  variables: {J: job, R: job, U: job}\n  rules:\n    - variables: {R: rule, U: rule}\n",
    );
    let mut ctx = context("main");
    ctx.variables = vec![
        ("U".into(), "user".into()),
        ("CI_JOB_NAME".into(), "user-name".into()),
    ];
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let variables = plan.jobs()[0].variables(&ctx, 1);
    let values = |key: &str| {
        variables
            .iter()
            .filter(|v| v.key == key)
            .map(|v| v.value.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(values("CI_PROJECT_NAME"), ["from-global"]);
    assert_eq!(values("G"), ["global"]);
    assert_eq!(values("J"), ["job"]);
    assert_eq!(values("R"), ["rule"]);
    assert_eq!(values("U"), ["user"]);
    assert_eq!(values("CI_JOB_NAME"), ["user-name"]);
}

#[test]
fn values_stay_unexpanded_in_the_payload_and_expand_like_the_runner() {
    let ctx = context("main");
    let variables = planned(&ctx, "unit").variables(&ctx, 1);
    let raw = |key: &str| {
        variables
            .iter()
            .find(|v| v.key == key)
            .map(|v| v.value.clone())
    };
    assert_eq!(
        raw("DATABASE_URL").as_deref(),
        Some("postgres://postgres:$POSTGRES_PASSWORD@postgres/test")
    );
    let expanded = expand_all(&variables);
    assert_eq!(
        expanded["DATABASE_URL"],
        "postgres://postgres:secret@postgres/test"
    );
    assert_eq!(expanded["IMAGE_TAG"], "app:3f2a9c1d");
    let pipeline = crate::parse(
        "variables:\n  LITERAL: {value: '$HOME/x', expand: false}\njob: {script: x}\n",
    );
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let literal = plan.jobs()[0]
        .variables(&ctx, 1)
        .into_iter()
        .find(|v| v.key == "LITERAL")
        .expect("LITERAL");
    assert!(literal.raw && literal.public && !literal.masked);
    assert_eq!(expand_all(&[literal])["LITERAL"], "$HOME/x");
}

#[test]
fn masked_user_variables_are_marked_masked_and_secret() {
    let mut ctx = context("main");
    ctx.add_var_file("DEPLOY_TOKEN=s3cr3t-value\nREGION=eu\n")
        .expect("var file");
    ctx.variables.push(("API_KEY".into(), "k3y".into()));
    ctx.masked = vec!["DEPLOY_TOKEN".into(), "API_KEY".into()];
    let payload = decode(planned(&ctx, "build").to_job_payload(&ctx, 3, &HashMap::new()));
    let find = |key: &str| payload.variables.iter().find(|v| v.key == key).expect(key);
    for key in ["DEPLOY_TOKEN", "API_KEY", "CI_JOB_TOKEN"] {
        assert!(find(key).masked && !find(key).public, "{key}");
    }
    assert!(!find("REGION").masked && !find("REGION").public);
    assert!(find("NODE_VERSION").public && !find("NODE_VERSION").masked);
    // Masked values never show in Debug output.
    let planned_debug = format!("{:?}", planned(&ctx, "build").variables(&ctx, 3));
    assert!(!planned_debug.contains("s3cr3t-value") && planned_debug.contains("REGION"));
}

#[test]
fn environment_variables_come_from_the_expanded_name() {
    let pipeline = crate::parse(
        "variables: {APP: Web}\n\
         review:\n  script: x\n  environment:\n    name: review/$APP-$CI_COMMIT_REF_SLUG\n    \
         url: https://$CI_COMMIT_REF_SLUG.example.com\n    action: prepare\n\
         prod:\n  script: x\n  environment: {name: live, deployment_tier: other}\n",
    );
    let ctx = context("feature/login");
    let plan = pipeline.plan(&ctx, &[]).expect("plans");
    let environment = |name: &str| -> Vec<(String, String)> {
        plan.jobs()
            .iter()
            .find(|job| job.name() == name)
            .expect("planned")
            .variables(&ctx, 1)
            .into_iter()
            .filter(|v| v.key.starts_with("CI_ENVIRONMENT_"))
            .map(|v| (v.key, v.value))
            .collect()
    };
    let review = environment("review");
    let value = |list: &[(String, String)], key: &str| {
        list.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        value(&review, "CI_ENVIRONMENT_NAME"),
        "review/Web-feature-login"
    );
    // Changed by slugging: 17 characters, a dash and a 6-character suffix.
    let slug = value(&review, "CI_ENVIRONMENT_SLUG");
    assert!(slug.starts_with("review-web-featur-"), "{slug}");
    assert_eq!(slug.len(), 24, "{slug}");
    assert_eq!(value(&review, "CI_ENVIRONMENT_ACTION"), "prepare");
    assert_eq!(value(&review, "CI_ENVIRONMENT_TIER"), "development");
    assert_eq!(
        value(&review, "CI_ENVIRONMENT_URL"),
        "https://feature-login.example.com"
    );
    let prod = environment("prod");
    assert_eq!(value(&prod, "CI_ENVIRONMENT_SLUG"), "live");
    assert_eq!(value(&prod, "CI_ENVIRONMENT_TIER"), "other");
    assert_eq!(value(&prod, "CI_ENVIRONMENT_ACTION"), "start");
}
