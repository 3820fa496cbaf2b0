//! Shared helpers: a fake cluster in a temp directory, an executor reaching it through a
//! kubeconfig file, and running a whole job with the generic driver.

use std::path::PathBuf;
use std::time::Duration;

use runner_executor::test_util::TraceCapture;
use runner_executor::{Cancellation, Image, JobSpec, JobSpecBuilder, Outcome, Variable, run_job};
use runner_executor_k8s::fake::FakeCluster;
use runner_executor_k8s::{ClusterAccess, KubernetesExecutor, Settings};
use tempfile::TempDir;

/// A fake cluster, its working directory and kubeconfig.
pub(crate) struct Cluster {
    pub(crate) fake: FakeCluster,
    pub(crate) dir: TempDir,
    pub(crate) kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts a fake API server and writes its kubeconfig.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = FakeCluster::start(dir.path()).await.expect("fake server");
        let kubeconfig = dir.path().join("kubeconfig");
        fake.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Self {
            fake,
            dir,
            kubeconfig,
        }
    }

    /// An executor with `settings`, connected through the kubeconfig file.
    pub(crate) async fn executor(&self, settings: Settings) -> KubernetesExecutor {
        let access = ClusterAccess::Kubeconfig {
            path: self.kubeconfig.clone(),
            context: None,
        };
        KubernetesExecutor::connect(&access, settings)
            .await
            .expect("connect")
    }

    /// A job whose builds directory lies in the cluster's temp dir (exec'd scripts run locally).
    pub(crate) fn job(&self) -> JobSpecBuilder {
        JobSpec::builder(42, "glcbt-jobtoken-0123456789")
            .project(7, "group/project")
            .builds_dir(
                self.dir
                    .path()
                    .join("builds")
                    .to_string_lossy()
                    .into_owned(),
            )
            .variable(Variable::new("GIT_STRATEGY", "none"))
            .runner(|r| {
                r.short_token = "abcd1234".to_owned();
                r.name = "fake-runner".to_owned();
                r.prepare_retry_delay = Duration::from_millis(10);
            })
            .with(|job| {
                job.image = Some(Image {
                    name: "alpine:3.20".to_owned(),
                    ..Image::default()
                })
            })
    }
}

/// Settings with short poll values so failure paths finish quickly.
pub(crate) fn fast_settings() -> Settings {
    Settings {
        namespace: "default".to_owned(),
        poll_interval: Duration::from_millis(20),
        poll_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_secs(5),
        cleanup_resources_timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

/// A finished job.
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    pub(crate) text: String,
}

impl Finished {
    /// The `Job failed...` message of a failed job.
    pub(crate) fn message(&self) -> String {
        self.outcome
            .failure()
            .map(|f| f.trace_line())
            .unwrap_or_default()
    }
}

/// Runs `job` to the end.
pub(crate) async fn run(
    executor: &KubernetesExecutor,
    job: JobSpec,
    cancel: Cancellation,
) -> Finished {
    let (trace, capture) = TraceCapture::for_job(&job);
    let outcome = run_job(executor, job, trace, cancel).await;
    let text = capture.text().await;
    Finished { outcome, text }
}
