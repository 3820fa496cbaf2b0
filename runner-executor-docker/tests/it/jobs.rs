//! Jobs end to end on the engine: success, exit codes, services by alias, dns, memory limit.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use runner_executor::{CancellationToken, FailureReason, Image, Variable};
use runner_executor_docker::{
    ContainerOptions, DockerExecutor, DockerSettings, RUNNER_ID_LABEL, ServiceSettings,
};

use crate::support::{BASH_IMAGE, docker, job, leftovers, run, run_with, settings, short_token};

#[tokio::test]
#[ignore = "needs docker"]
async fn echo_job_succeeds_and_leaves_nothing() {
    let token = short_token();
    let executor = DockerExecutor::new(settings());
    let (outcome, trace) = run(
        &executor,
        job(&token, &["echo hello-from-docker"]).build(),
        None,
    )
    .await;
    assert!(outcome.is_success(), "{outcome:?}\n{trace}");
    assert!(
        trace.contains("Using Docker executor with image gitlab-runner-rs-test/bash:latest ..."),
        "{trace}"
    );
    assert!(trace.contains("\nhello-from-docker\n"), "{trace}");
    assert!(trace.contains("Job succeeded"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn a_job_without_git_or_transfers_runs_in_the_build_container_alone() {
    let token = short_token();
    let executor = DockerExecutor::new(settings());
    let done = CancellationToken::new();
    let job_run = async {
        let result = run(
            &executor,
            job(
                &token,
                &["echo from-stderr >&2", "echo from-stdout", "sleep 1"],
            )
            .build(),
            None,
        )
        .await;
        done.cancel();
        result
    };
    // Every container of the job that exists while it runs, by its type label.
    let watch = async {
        let docker = docker().await;
        let label = format!("{RUNNER_ID_LABEL}={token}");
        let filters: HashMap<&str, Vec<&str>> = [("label", vec![label.as_str()])].into();
        let mut kinds = std::collections::BTreeSet::new();
        while !done.is_cancelled() {
            let list = docker
                .list_containers(Some(
                    ListContainersOptionsBuilder::default()
                        .all(true)
                        .filters(&filters)
                        .build(),
                ))
                .await
                .expect("list");
            kinds.extend(list.into_iter().filter_map(|c| {
                c.labels
                    .and_then(|l| l.get("com.gitlab.gitlab-runner.type").cloned())
            }));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        kinds
    };
    let ((outcome, trace), kinds) = tokio::join!(job_run, watch);
    assert!(outcome.is_success(), "{outcome:?}\n{trace}");
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["build"]);
    // prepare_script, get_sources and cleanup ran there too, with both streams captured.
    assert!(trace.contains("Running on runner-"), "{trace}");
    assert!(trace.contains("Skipping Git repository setup"), "{trace}");
    assert!(trace.contains("\nfrom-stderr\n"), "{trace}");
    assert!(trace.contains("\nfrom-stdout\n"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn a_background_process_does_not_hold_the_stage() {
    let token = short_token();
    let executor = DockerExecutor::new(settings());
    let started = std::time::Instant::now();
    let (outcome, trace) = run(
        &executor,
        job(&token, &["sleep 120 &", "echo left-running"])
            .after_script(["echo after-ran"])
            .build(),
        None,
    )
    .await;
    assert!(outcome.is_success(), "{outcome:?}\n{trace}");
    assert!(trace.contains("\nleft-running\n"), "{trace}");
    assert!(trace.contains("\nafter-ran\n"), "{trace}");
    // Not a timing assertion on speed: the job must not have waited for the sleep.
    assert!(started.elapsed() < std::time::Duration::from_secs(100));
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn failing_script_reports_its_exit_code() {
    let token = short_token();
    let executor = DockerExecutor::new(settings());
    let (outcome, trace) = run(
        &executor,
        job(&token, &["echo before", "exit 3", "echo never"]).build(),
        None,
    )
    .await;
    let failure = outcome.failure().expect("job fails");
    assert_eq!(failure.message, "exit code 3", "{trace}");
    assert_eq!(failure.exit_code, Some(3));
    assert_eq!(failure.reason, FailureReason::ScriptFailure);
    assert!(trace.contains("ERROR: Job failed: exit code 3"), "{trace}");
    assert!(!trace.contains("\nnever\n"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn files_survive_between_script_and_after_script() {
    let token = short_token();
    let executor = DockerExecutor::new(settings());
    let spec = job(&token, &["echo kept > /tmp/marker"])
        .after_script(["cat /tmp/marker"])
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    assert!(outcome.is_success(), "{trace}");
    assert!(trace.contains("\nkept\n"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

/// `busybox httpd` serving /etc, with the job's `entrypoint` and `command` (the seed's
/// `docker:dind` + `--mtu=1450` shape: arguments go to the entrypoint).
fn web_service(alias: &str, port: u16) -> Image {
    Image {
        name: BASH_IMAGE.to_owned(),
        alias: alias.to_owned(),
        entrypoint: vec!["busybox".to_owned()],
        command: ["httpd", "-f", "-p", &port.to_string(), "-h", "/etc"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        // The test image exposes no port: name the one the health check dials.
        variables: vec![Variable::new("HEALTHCHECK_TCP_PORT", port.to_string())],
        ..Image::default()
    }
}

#[tokio::test]
#[ignore = "needs docker"]
async fn services_are_reachable_by_alias() {
    let token = short_token();
    let settings = DockerSettings {
        services: vec![ServiceSettings {
            name: BASH_IMAGE.to_owned(),
            alias: "config-web".to_owned(),
            command: ["busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            environment: vec!["HEALTHCHECK_TCP_PORT=8080".to_owned()],
            ..ServiceSettings::default()
        }],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let fetch = |host: &str| {
        format!(
            "for i in $(seq 1 100); do wget -q -O /tmp/{host} http://{host}/passwd && break; sleep 0.1; done; grep -q root:x:0:0 /tmp/{host} && echo reached-{host}"
        )
    };
    let script = [fetch("config-web:8080"), fetch("job-api:8081")];
    let spec = job(
        &token,
        &script.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .with(|job| job.services.push(web_service("job-api", 8081)))
    .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    // Scenario 49: both services are waited for, and both answer.
    assert!(
        trace.contains("Waiting for services to be up and running (timeout 30 seconds)..."),
        "{trace}"
    );
    assert!(!trace.contains("probably didn't start properly"), "{trace}");
    assert!(trace.contains("reached-config-web:8080"), "{trace}");
    assert!(trace.contains("reached-job-api:8081"), "{trace}");
    assert!(outcome.is_success(), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn dns_setting_reaches_every_container() {
    let token = short_token();
    let settings = DockerSettings {
        dns: vec!["10.11.12.13".to_owned()],
        dns_search: vec!["corp.example".to_owned()],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let spec = job(
        &token,
        &["cat /etc/resolv.conf", "echo resolv-printed", "sleep 300"],
    )
    .with(|job| {
        job.services.push(web_service("web", 8080));
        // A cache stage needs the helper container (only such stages start one).
        job.transfer.restore_cache = vec!["echo restoring".to_owned()];
    })
    .build();
    let (cancel, marker_seen, inspected) = (
        CancellationToken::new(),
        CancellationToken::new(),
        CancellationToken::new(),
    );
    let done = CancellationToken::new();
    let job_run = async {
        let result = run_with(
            &executor,
            spec,
            cancel.clone(),
            Some(("resolv-printed", marker_seen.clone())),
        )
        .await;
        done.cancel();
        result
    };
    // The job is canceled once the script printed resolv.conf and the containers were inspected.
    let canceler = async {
        tokio::select! {
            () = async { marker_seen.cancelled().await; inspected.cancelled().await; } => cancel.cancel(),
            () = done.cancelled() => {}
        }
    };
    // Once build, predefined and the service run, inspect them all, then cancel the job.
    let check = async {
        let docker = docker().await;
        let label = format!("{RUNNER_ID_LABEL}={token}");
        let filters: HashMap<&str, Vec<&str>> = [("label", vec![label.as_str()])].into();
        while !done.is_cancelled() {
            let list = docker
                .list_containers(Some(
                    ListContainersOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .expect("list");
            if list.len() >= 3 {
                let mut dns = Vec::new();
                for container in list {
                    let id = container.id.unwrap_or_default();
                    let inspected = docker
                        .inspect_container(&id, None::<InspectContainerOptions>)
                        .await
                        .expect("inspect");
                    let kind = inspected
                        .config
                        .and_then(|c| c.labels)
                        .and_then(|l| l.get("com.gitlab.gitlab-runner.type").cloned())
                        .unwrap_or_default();
                    let host = inspected.host_config.unwrap_or_default();
                    dns.push((
                        kind,
                        host.dns.unwrap_or_default(),
                        host.network_mode.unwrap_or_default(),
                    ));
                }
                inspected.cancel();
                return dns;
            }
            tokio::task::yield_now().await;
        }
        Vec::new()
    };
    let ((outcome, trace), dns, ()) = tokio::join!(job_run, check, canceler);
    assert!(!outcome.is_success());
    assert_eq!(dns.len(), 3, "{trace}");
    for (kind, servers, network_mode) in &dns {
        if kind == "predefined" {
            // The helper shares the build container's namespace, hence its resolv.conf.
            assert!(network_mode.starts_with("container:"), "{dns:?}");
        } else {
            assert_eq!(servers, &vec!["10.11.12.13".to_owned()], "{dns:?}");
        }
    }
    // On a user-defined network Docker's resolver forwards to the configured servers; the
    // search domain is visible in the file either way.
    assert!(trace.contains("search corp.example"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn dns_is_visible_in_resolv_conf_without_services() {
    let token = short_token();
    let settings = DockerSettings {
        dns: vec!["10.11.12.13".to_owned()],
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let (outcome, trace) = run(
        &executor,
        job(&token, &["cat /etc/resolv.conf"]).build(),
        None,
    )
    .await;
    assert!(outcome.is_success(), "{trace}");
    assert!(trace.contains("nameserver 10.11.12.13"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn memory_and_cpu_limits_are_applied() {
    let token = short_token();
    let settings = DockerSettings {
        memory: Some("64m".to_owned()),
        cpus: Some("1/2".to_owned()),
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let script = [
        "echo memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)",
        "echo cpu=$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)",
    ];
    let (outcome, trace) = run(&executor, job(&token, &script).build(), None).await;
    assert!(outcome.is_success(), "{trace}");
    assert!(trace.contains("memory=67108864"), "{trace}");
    assert!(trace.contains("cpu=50000"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn pass_through_options_shape_the_build_container() {
    let token = short_token();
    let settings = DockerSettings {
        build_options: ContainerOptions {
            ulimits: [("nofile".to_owned(), "1024:2048".to_owned())].into(),
            tmpfs: [("/scratch".to_owned(), "rw,size=1m".to_owned())].into(),
            sysctls: [("net.core.somaxconn".to_owned(), "1234".to_owned())].into(),
            log_options: [("max-size".to_owned(), "1m".to_owned())].into(),
            ..ContainerOptions::default()
        },
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let script = [
        "echo nofile=$(ulimit -Sn):$(ulimit -Hn)",
        "grep -q ' /scratch tmpfs ' /proc/mounts && echo scratch-is-tmpfs",
        "echo somaxconn=$(cat /proc/sys/net/core/somaxconn)",
    ];
    let (outcome, trace) = run(&executor, job(&token, &script).build(), None).await;
    assert!(outcome.is_success(), "{trace}");
    assert!(trace.contains("nofile=1024:2048"), "{trace}");
    assert!(trace.contains("scratch-is-tmpfs"), "{trace}");
    assert!(trace.contains("somaxconn=1234"), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}

#[tokio::test]
#[ignore = "needs docker"]
async fn a_service_that_never_listens_is_reported_and_the_job_goes_on() {
    // Scenario 50: a service whose port never answers, with a 5 s wait.
    let token = short_token();
    let settings = DockerSettings {
        wait_for_services_timeout: Some(Duration::from_secs(5)),
        ..settings()
    };
    let executor = DockerExecutor::new(settings);
    let spec = job(&token, &["echo script-ran"])
        .with(|job| {
            job.services.push(Image {
                name: BASH_IMAGE.to_owned(),
                alias: "dead".to_owned(),
                command: vec![
                    "sh".to_owned(),
                    "-c".to_owned(),
                    "echo dead-service-log; sleep 600".to_owned(),
                ],
                variables: vec![Variable::new("HEALTHCHECK_TCP_PORT", "1234")],
                ..Image::default()
            });
        })
        .build();
    let (outcome, trace) = run(&executor, spec, None).await;
    assert!(
        trace.contains("Waiting for services to be up and running (timeout 5 seconds)..."),
        "{trace}"
    );
    assert!(trace.contains("*** WARNING:"), "{trace}");
    assert!(trace.contains("probably didn't start properly."), "{trace}");
    assert!(trace.contains("Health check error:"), "{trace}");
    assert!(trace.contains("-wait-for-service\" timeout"), "{trace}");
    assert!(trace.contains("Health check container logs:"), "{trace}");
    assert!(trace.contains("dialing "), "{trace}");
    assert!(trace.contains("Service container logs:"), "{trace}");
    assert!(trace.contains("dead-service-log"), "{trace}");
    assert!(trace.contains("script-ran"), "{trace}");
    assert!(outcome.is_success(), "{trace}");
    assert_eq!(leftovers(&token).await, (0, 0, 0));
}
