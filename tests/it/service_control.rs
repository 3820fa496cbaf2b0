//! The service commands (cli.md 10, F6) on a machine without systemd: the init script is
//! installed under a temporary system root (`GITLAB_RUNNER_RS_SERVICE_ROOT`), then really
//! started, checked, stopped and removed, with the runner talking to the fake coordinator.

use std::path::Path;
use std::time::Duration;

use runner_api::fake::Endpoint;
use runner_e2e::{Finished, Workspace, run_with_env};

const NAME: &str = "rs-e2e-service";

async fn service(workspace: &Workspace, root: &Path, args: &[&str]) -> Finished {
    run_with_env(
        workspace.path(),
        args,
        &[("GITLAB_RUNNER_RS_SERVICE_ROOT", &root.to_string_lossy())],
    )
    .await
}

/// The last line of `text`: the service commands' own output follows the log's
/// `Runtime platform` line on stderr.
fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or("")
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[tokio::test]
async fn status_of_a_service_that_is_not_installed() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let root = workspace.path().join("system");
    let done = service(&workspace, &root, &["status", "-n", NAME]).await;
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert_eq!(
        last_line(&done.stderr),
        format!("{NAME}: the service is not installed")
    );
    assert!(
        done.stdout.lines().all(|line| !line.contains(NAME)),
        "{done:?}"
    );
}

#[tokio::test]
async fn install_checks_its_user_flags() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let root = workspace.path().join("system");
    let both = service(
        &workspace,
        &root,
        &["install", "-n", NAME, "--user", "a", "--init-user", "b"],
    )
    .await;
    assert_eq!(both.status.code(), Some(1));
    assert!(
        both.stderr
            .contains("FATAL: Only one of 'user' or 'init-user' can be specified."),
        "{both:?}"
    );
    if is_root() {
        let neither = service(&workspace, &root, &["install", "-n", NAME]).await;
        assert_eq!(neither.status.code(), Some(1));
        assert!(
            neither
                .stderr
                .contains("FATAL: Please specify user that will run gitlab-runner service"),
            "{neither:?}"
        );
    }
    assert!(!root.join("etc/init.d").join(NAME).exists());
}

#[tokio::test]
async fn an_installed_service_starts_runs_stops_and_uninstalls() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let root = workspace.path().join("system");
    let config = workspace.write_config("concurrent = 1\ncheck_interval = 1", &[""]);
    let config = config.to_string_lossy().into_owned();
    let directory = workspace.path().to_string_lossy().into_owned();
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map_or_else(|| "root".to_owned(), |user| user.name);
    let install = [
        "install", "-n", NAME, "-c", &config, "-d", &directory, "--user", &user,
    ];
    let installed = service(&workspace, &root, &install).await;
    assert!(installed.status.success(), "{installed:?}");
    let script = root.join("etc/init.d").join(NAME);
    let text = std::fs::read_to_string(&script).expect("the init script");
    assert!(text.contains(&format!("'--config' '{config}'")), "{text}");
    assert!(text.contains(&format!("'--service' '{NAME}'")), "{text}");
    assert!(
        root.join("etc/rc2.d").join(format!("S50{NAME}")).exists(),
        "start link at boot"
    );

    let again = service(&workspace, &root, &install).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        again
            .stderr
            .contains(&format!("Init already exists: {}", script.display())),
        "{again:?}"
    );

    let started = service(&workspace, &root, &["start", "-n", NAME]).await;
    assert!(started.status.success(), "{started:?}");
    // The service is the real runner: it asks the coordinator for jobs.
    assert!(
        workspace
            .coordinator
            .wait_for_requests(Endpoint::RequestJob, 1, Duration::from_secs(60))
            .await,
        "the started service never asked for a job; its log: {}",
        std::fs::read_to_string(root.join(format!("var/log/{NAME}.err"))).unwrap_or_default()
    );
    let running = service(&workspace, &root, &["status", "-n", NAME]).await;
    assert_eq!(running.status.code(), Some(0), "{running:?}");
    assert_eq!(
        running.stdout.trim_end(),
        format!("{NAME}: Service is running")
    );
    // Which user shell jobs run as (the `--user` of the installed `run`), on stderr.
    assert!(
        running
            .stderr
            .contains("Shell executor jobs run as this user")
            && running.stderr.contains(&user),
        "{running:?}"
    );

    let stopped = service(&workspace, &root, &["stop", "-n", NAME]).await;
    assert!(stopped.status.success(), "{stopped:?}");
    let after_stop = service(&workspace, &root, &["status", "-n", NAME]).await;
    assert_eq!(after_stop.status.code(), Some(1));
    assert_eq!(
        last_line(&after_stop.stderr),
        format!("{NAME}: Service has stopped")
    );

    let removed = service(&workspace, &root, &["uninstall", "-n", NAME]).await;
    assert!(removed.status.success(), "{removed:?}");
    assert!(!script.exists());
    assert!(!root.join("etc/rc2.d").join(format!("S50{NAME}")).exists());
    let gone = service(&workspace, &root, &["status", "-n", NAME]).await;
    assert_eq!(
        last_line(&gone.stderr),
        format!("{NAME}: the service is not installed")
    );
}

#[tokio::test]
async fn install_creates_a_missing_config_file_with_the_defaults() {
    let workspace = Workspace::start(Duration::from_secs(1)).await;
    let root = workspace.path().join("system");
    let config = workspace.path().join("new/config.toml");
    let installed = service(
        &workspace,
        &root,
        &[
            "install",
            "-n",
            NAME,
            "-c",
            &config.to_string_lossy(),
            "--user",
            "nobody",
        ],
    )
    .await;
    assert!(installed.status.success(), "{installed:?}");
    let text = std::fs::read_to_string(&config).expect("the config file was created");
    assert!(text.contains("concurrent = 1"), "{text}");
}
