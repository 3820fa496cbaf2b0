//! `allowed_images`, `allowed_services`, `allowed_users` and `allowed_groups` (issue #16): a
//! disallowed image or user is refused before anything reaches the cluster, images with the
//! same lines as the Docker executor.

use runner_executor::{Cancellation, Image};
use runner_executor_k8s::Settings;

use crate::support::{Cluster, fast_settings, run};

const ADVICE: &str = "Please check runner's allowed_images configuration: \
                      https://docs.gitlab.com/runner/configuration/advanced-configuration/";

#[tokio::test]
async fn a_disallowed_image_is_refused_with_the_allow_list_lines() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        allowed_images: vec!["debian:*".to_owned(), "registry.example.com/**".to_owned()],
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let job = cluster.job().script(["echo must-not-run"]).build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(!done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text
            .contains("ERROR: The \"alpine:3.20\" image is not present on list of allowed images:"),
        "{}",
        done.text
    );
    assert!(
        done.text
            .contains("\n- debian:*\n- registry.example.com/**\n\n"),
        "{}",
        done.text
    );
    assert!(done.text.contains(ADVICE), "{}", done.text);
    assert!(
        done.message().contains("disallowed image"),
        "{}",
        done.message()
    );
    assert!(!done.text.contains("must-not-run"));
    assert!(
        cluster.fake.created_pods().is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn allowed_images_and_the_runners_own_pass_and_services_are_checked() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        allowed_images: vec!["alpine:*".to_owned()],
        allowed_services: vec!["postgres:*".to_owned()],
        ..fast_settings()
    };
    let executor = cluster.executor(settings.clone()).await;
    let job = cluster
        .job()
        .with(|job| {
            job.services = vec![Image {
                name: "postgres:16".to_owned(),
                ..Image::default()
            }]
        })
        .script(["echo ran"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);

    let job = cluster
        .job()
        .with(|job| {
            job.services = vec![Image {
                name: "redis:7".to_owned(),
                ..Image::default()
            }]
        })
        .script(["echo must-not-run"])
        .build();
    let done = run(&executor, job, Cancellation::default()).await;
    assert!(!done.outcome.is_success(), "{}", done.text);
    assert!(
        done.text
            .contains("ERROR: The \"redis:7\" image is not present on list of allowed services:"),
        "{}",
        done.text
    );
    assert!(done.text.contains("\n- postgres:*\n"), "{}", done.text);
    assert!(done.text.contains(ADVICE), "{}", done.text);
    assert_eq!(
        cluster.fake.created_pods().len(),
        1,
        "only the first job's pod"
    );
}

#[tokio::test]
async fn the_jobs_user_must_be_on_allowed_users_and_groups() {
    let cluster = Cluster::start().await;
    let settings = Settings {
        allowed_users: vec!["1000".to_owned()],
        allowed_groups: vec!["1000".to_owned()],
        ..fast_settings()
    };
    let executor = cluster.executor(settings).await;
    let job_as = |user: &str| {
        let user = user.to_owned();
        cluster
            .job()
            .with(move |job| {
                if let Some(image) = job.image.as_mut() {
                    image.kubernetes_user = user;
                }
            })
            .script(["echo ran"])
            .build()
    };

    let done = run(&executor, job_as("1000:1000"), Cancellation::default()).await;
    assert!(done.outcome.is_success(), "{}", done.text);
    let pod = &cluster.fake.created_pods()[0];
    let build = pod.spec.as_ref().unwrap().containers[0]
        .security_context
        .clone()
        .unwrap();
    assert_eq!(
        (build.run_as_user, build.run_as_group),
        (Some(1000), Some(1000))
    );

    let done = run(&executor, job_as("0"), Cancellation::default()).await;
    assert!(!done.outcome.is_success(), "{}", done.text);
    assert!(
        done.message()
            .contains("user \"0\" is not in the allowed list: [1000]"),
        "{}",
        done.message()
    );
    let done = run(&executor, job_as("1000:0"), Cancellation::default()).await;
    assert!(
        done.message()
            .contains("group \"0\" is not in the allowed list: [1000]"),
        "{}",
        done.message()
    );
    assert_eq!(
        cluster.fake.created_pods().len(),
        1,
        "refused jobs create nothing"
    );
}
