//! A test's world: a temp directory with driver scripts that log each call, and a runner for
//! jobs on a [`CustomExecutor`] using them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use runner_config::CustomConfig;
use runner_executor::test_util::TraceCapture;
use runner_executor::{Cancellation, JobSpec, JobSpecBuilder, Outcome, Variable, run_job};
use runner_executor_custom::{CustomExecutor, Settings};
use tempfile::TempDir;

/// A directory holding driver scripts, the calls log and the jobs' builds.
pub(crate) struct World {
    pub(crate) dir: TempDir,
}

/// A finished job: its outcome and its trace without ANSI codes.
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    pub(crate) text: String,
}

impl World {
    pub(crate) fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp dir");
        World { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where every driver script appends a line per call.
    pub(crate) fn calls_log(&self) -> PathBuf {
        self.path().join("calls.log")
    }

    /// The lines of the calls log.
    pub(crate) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.calls_log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Writes an executable driver script `name` that first logs `<name> <args>` and then runs
    /// `body` (bash).
    pub(crate) fn driver(&self, name: &str, body: &str) -> String {
        self.driver_file(name, name, body)
    }

    /// Like [`World::driver`], in file `file` (the defaults of [`World::config`] have their
    /// own files, so a test's own driver written before them is not replaced).
    fn driver_file(&self, file: &str, name: &str, body: &str) -> String {
        let path = self.path().join(file);
        let text = format!(
            "#!/usr/bin/env bash\necho \"{name} $*\" >> {log}\n{body}\n",
            log = self.calls_log().display()
        );
        std::fs::write(&path, text).expect("write driver");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod driver");
        path.to_string_lossy().into_owned()
    }

    /// A `run_exec` that runs the stage script with bash on this host.
    pub(crate) fn host_run(&self) -> String {
        self.driver_file("default-run", "run", "exec bash \"${@: -2:1}\"")
    }

    /// A section with `run_exec` = [`World::host_run`] and logging prepare and cleanup.
    pub(crate) fn config(&self) -> CustomConfig {
        CustomConfig {
            prepare_exec: self.driver_file("default-prepare", "prepare", ""),
            run_exec: self.host_run(),
            cleanup_exec: self.driver_file("default-cleanup", "cleanup", ""),
            ..CustomConfig::default()
        }
    }

    pub(crate) fn executor(&self, config: &CustomConfig) -> CustomExecutor {
        CustomExecutor::new(Some(Settings::from_config(config)), self.path().join("tmp"))
            .with_drain_grace(Duration::from_millis(200))
    }

    /// A job with `GIT_STRATEGY=none`, builds and cache under the world, a short retry delay.
    pub(crate) fn job(&self) -> JobSpecBuilder {
        let cache = self.path().join("cache").to_string_lossy().into_owned();
        JobSpec::builder(42, "glcbt-jobtoken-0123456789")
            .builds_dir(self.path().join("builds").to_string_lossy().into_owned())
            .variable(Variable::new("GIT_STRATEGY", "none"))
            .runner(move |runner| {
                runner.cache_dir = Some(cache);
                runner.prepare_retry_delay = Duration::from_millis(10);
            })
    }

    pub(crate) async fn run(&self, config: &CustomConfig, job: JobSpec) -> Finished {
        self.run_with(&self.executor(config), job, Cancellation::default())
            .await
    }

    pub(crate) async fn run_with(
        &self,
        executor: &CustomExecutor,
        job: JobSpec,
        cancel: Cancellation,
    ) -> Finished {
        let (trace, capture) = TraceCapture::for_job(&job);
        let outcome = run_job(executor, job, trace, cancel).await;
        let text = capture.text().await;
        Finished { outcome, text }
    }

    /// The per-job temporary directories still present.
    pub(crate) fn leftover_temp_dirs(&self) -> usize {
        std::fs::read_dir(self.path().join("tmp"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}

impl Finished {
    /// The failure reason's wire string, or `success`.
    pub(crate) fn reason(&self) -> &'static str {
        self.outcome
            .failure()
            .map_or("success", |f| f.reason.as_str())
    }

    pub(crate) fn exit_code(&self) -> Option<i32> {
        self.outcome.failure().and_then(|f| f.exit_code)
    }

    pub(crate) fn last_line(&self) -> &str {
        self.text.lines().last().unwrap_or("")
    }

    pub(crate) fn count(&self, needle: &str) -> usize {
        self.text.matches(needle).count()
    }
}

/// Polls until `path` exists (no fixed sleeps in assertions).
pub(crate) async fn wait_for_file(path: &Path) {
    while !path.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` is gone within a generous bound.
pub(crate) async fn dies(pid: i32) -> bool {
    for _ in 0..500 {
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Reads a pid a script wrote to `path`.
pub(crate) async fn read_pid(path: &Path) -> i32 {
    loop {
        wait_for_file(path).await;
        if let Ok(pid) = std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
