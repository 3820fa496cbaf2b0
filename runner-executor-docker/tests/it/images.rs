//! Images: pull policies against the local engine and the loopback registry.

use runner_executor::{FailureReason, Image};
use runner_executor_docker::{DockerExecutor, DockerSettings};

use crate::support::{BASH_IMAGE, job, leftovers, run, settings, short_token};

const REGISTRY_IMAGE: &str = "127.0.0.1:5000/gitlab-runner-rs-test/bash:latest";

fn job_image(name: &str, pull_policy: &[&str]) -> Image {
    Image {
        name: name.to_owned(),
        pull_policy: pull_policy.iter().map(|p| (*p).to_owned()).collect(),
        ..Image::default()
    }
}

#[tokio::test]
#[ignore = "needs docker"]
async fn disallowed_pull_policy_fails_with_the_seed_message_and_no_retry() {
    let token = short_token();
    let settings = DockerSettings {
        pull_policy: vec!["if-not-present".to_owned()],
        allowed_pull_policies: vec!["if-not-present".to_owned(), "never".to_owned()],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let spec = job(&token, &["echo never"])
        .with(|j| j.image = Some(job_image(BASH_IMAGE, &["always"])))
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    let failure = outcome.failure().expect("job fails");
    assert_eq!(
        failure.message,
        "invalid pull policy for image 'gitlab-runner-rs-test/bash:latest': pull_policy ([always]) defined in \
         GitLab pipeline config is not one of the allowed_pull_policies ([if-not-present never])"
    );
    assert_eq!(failure.reason, FailureReason::RunnerConfigurationError);
    assert!(!trace.contains("Preparation failed"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn disallowed_image_and_service_are_refused_with_upstreams_lines() {
    // Scenario 48: the image listing, three preparation attempts, then a system failure.
    let token = short_token();
    let executor = DockerExecutor::new(DockerSettings {
        allowed_images: vec!["alpine:*".to_owned()],
        ..settings()
    });
    let spec = job(&token, &["echo never"])
        .with(|j| j.image = Some(job_image("ruby:3", &[])))
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    let failure = outcome.failure().expect("job fails");
    assert_eq!(failure.message, "disallowed image");
    assert_eq!(failure.reason, FailureReason::RunnerSystemFailure);
    assert_eq!(
        trace
            .matches("The \"ruby:3\" image is not present on list of allowed images:")
            .count(),
        3,
        "{trace}"
    );
    assert!(trace.contains("\n- alpine:*\n"), "{trace}");
    assert!(trace.contains("Please check runner's allowed_images configuration: https://docs.gitlab.com/runner/configuration/advanced-configuration/"), "{trace}");
    assert_eq!(
        trace
            .matches("Preparation failed: disallowed image")
            .count(),
        3,
        "{trace}"
    );
    assert!(
        trace.contains("Job failed (system failure): disallowed image"),
        "{trace}"
    );
    assert!(!trace.contains("echo never"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));

    // The runner's default image is allowed whatever the list says; a job service is not.
    let executor = DockerExecutor::new(DockerSettings {
        allowed_images: vec!["alpine:*".to_owned()],
        allowed_services: vec!["postgres:*".to_owned()],
        ..settings()
    });
    let spec = job(&token, &["echo never"])
        .with(|j| {
            j.image = Some(job_image(BASH_IMAGE, &[]));
            j.services.push(job_image("redis:7", &[]));
        })
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    assert_eq!(
        outcome.failure().expect("job fails").message,
        "disallowed image"
    );
    assert!(
        trace.contains("The \"redis:7\" image is not present on list of allowed services:"),
        "{trace}"
    );
    assert!(!trace.contains("list of allowed images"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn never_policy_with_a_missing_image_fails_clearly() {
    let token = short_token();
    let settings = DockerSettings {
        pull_policy: vec!["never".to_owned()],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let spec = job(&token, &["echo never"])
        .with(|j| j.image = Some(job_image("gitlab-runner-rs-test/missing:latest", &[])))
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    let failure = outcome.failure().expect("job fails");
    assert_eq!(
        failure.message,
        "failed to pull image \"gitlab-runner-rs-test/missing:latest\" with specified policies [never]: \
         Error: No such image: gitlab-runner-rs-test/missing:latest"
    );
    assert_eq!(failure.reason, FailureReason::RunnerConfigurationError);
    assert!(trace.contains("Using effective pull policy of [never] for container gitlab-runner-rs-test/missing:latest"), "{trace}");
    assert!(!trace.contains("Preparation failed"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn always_pulls_from_the_registry() {
    let token = short_token();
    let settings = DockerSettings {
        pull_policy: vec!["always".to_owned()],
        image: Some(REGISTRY_IMAGE.to_owned()),
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let (outcome, trace) = run(&executor, job(&token, &["echo pulled-ok"]).build(), None).await;
    assert!(outcome.is_success(), "{trace}");
    assert!(
        trace.contains(&format!("Pulling docker image {REGISTRY_IMAGE} ...")),
        "{trace}"
    );
    assert!(trace.contains("with digest sha256:"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn missing_image_in_the_registry_falls_back_to_the_next_policy() {
    let token = short_token();
    let settings = DockerSettings {
        pull_policy: vec!["always".to_owned(), "if-not-present".to_owned()],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let spec = job(&token, &["echo fallback-ok"])
        .with(|j| {
            j.image = Some(job_image(
                "127.0.0.1:5000/gitlab-runner-rs-test/absent:latest",
                &[],
            ))
        })
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    let failure = outcome.failure().expect("job fails");
    assert!(
        trace.contains("Failed to pull image with policy \"always\""),
        "{trace}"
    );
    assert!(
        trace.contains("Attempt #2: Trying \"if-not-present\" pull policy"),
        "{trace}"
    );
    assert!(
        failure.message.starts_with(
            "failed to pull image \"127.0.0.1:5000/gitlab-runner-rs-test/absent:latest\" with specified policies [always if-not-present]: "
        ),
        "{}",
        failure.message
    );
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}
