//! [`CustomSession`]: one preparation attempt's temporary directory, driver environment and
//! cleanup, which also happens when the session is dropped without one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use runner_executor::{CancellationToken, PreparedJob, TraceWriter};
use tokio_util::task::TaskTracker;

use crate::environment::runner_variables;
use crate::error::Error;
use crate::executor::Inner;
use crate::exit::{Mapped, map};
use crate::process::{self, Call, Sink};

/// State of one job on the custom executor, between `prepare` and `cleanup`.
pub struct CustomSession {
    inner: Arc<Inner>,
    /// `<tmp>`: working directory and `TMPDIR` of every call.
    pub(crate) tmp: PathBuf,
    /// The job's driver calls; cleanup waits for them.
    pub(crate) calls: TaskTracker,
    /// `job_env` of `config_exec`.
    pub(crate) job_env: Vec<(String, String)>,
    /// `CUSTOM_ENV_*` of the job's variables. Holds secrets.
    pub(crate) custom_env: Vec<(String, String)>,
    /// What `config_exec` decided.
    pub(crate) prepared: PreparedJob,
    cleaned: bool,
}

impl fmt::Debug for CustomSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The environment holds the job's masked variables: never print it.
        f.debug_struct("CustomSession")
            .field("tmp", &self.tmp)
            .field("prepared", &self.prepared)
            .finish_non_exhaustive()
    }
}

impl CustomSession {
    pub(crate) fn new(inner: Arc<Inner>, tmp: PathBuf) -> Self {
        Self {
            inner,
            tmp,
            calls: TaskTracker::new(),
            job_env: Vec::new(),
            custom_env: Vec::new(),
            prepared: PreparedJob::default(),
            cleaned: false,
        }
    }

    /// The job's temporary directory (`TMPDIR` of the driver calls).
    pub fn temp_dir(&self) -> &Path {
        &self.tmp
    }

    /// The environment added to the runner's own for `prepare_exec`, `run_exec` and
    /// `cleanup_exec` (§1.5): runner variables, then `job_env`, then `CUSTOM_ENV_*`.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let mut env = runner_variables(&self.tmp);
        env.extend(self.job_env.iter().cloned());
        env.extend(self.custom_env.iter().cloned());
        env
    }

    /// Writes a stage script to a new `<tmp>/script<digits>/script` (mode 0700).
    pub(crate) async fn write_script(&self, script: &str) -> Result<PathBuf, Error> {
        let dir = create_unique_dir(&self.tmp, "script").await?;
        let path = dir.join("script");
        let io_error = |source| Error::Io {
            path: path.clone(),
            source,
        };
        tokio::fs::write(&path, script).await.map_err(io_error)?;
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .await
            .map_err(io_error)?;
        Ok(path)
    }

    /// `cleanup_exec` (if set) on a fresh deadline, then removes `<tmp>`. A failure is a
    /// warning in the job log (or the runner's log without one); it never changes the job.
    pub(crate) async fn clean_up(&mut self, mut trace: Option<&mut TraceWriter>) {
        self.cleaned = true;
        // A preparation attempt that was given up may still be stopping its call.
        self.calls.close();
        self.calls.wait().await;
        let cleanup = self
            .inner
            .settings
            .as_ref()
            .and_then(|settings| settings.cleanup.as_ref().map(|command| (settings, command)));
        if let Some((settings, command)) = cleanup {
            let call = Call {
                program: command.program.clone(),
                args: command.args.clone(),
                env: self.env(),
                working_directory: self.tmp.clone(),
                timeout: command.timeout,
                graceful_kill: settings.graceful_kill_timeout,
                force_kill: settings.force_kill_timeout,
                stdout: Sink::Log,
                stderr: Sink::Log,
                kill_leftovers: false,
                drain_grace: self.inner.drain_grace,
            };
            let calls = TaskTracker::new();
            let result = process::run(
                call,
                trace.as_deref_mut(),
                &CancellationToken::new(),
                &calls,
            )
            .await
            .and_then(|finished| {
                match map(finished.status, &self.tmp.join("build_exit_code")) {
                    Mapped::Success => Ok(()),
                    Mapped::BuildFailure(exit_code) => Err(Error::BuildFailure { exit_code }),
                    Mapped::System(error) => Err(error),
                }
            });
            if let Err(error) = result {
                let message = format!("Cleanup script failed: {}", error_chain(&error));
                match trace {
                    Some(trace) => trace.warning(&message).await,
                    None => tracing::warn!("{message}"),
                }
            }
        }
        if let Err(error) = tokio::fs::remove_dir_all(&self.tmp).await {
            tracing::warn!(%error, dir = %self.tmp.display(), "could not remove the custom executor's job directory");
        }
    }
}

impl Drop for CustomSession {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // The job was dropped before its cleanup (the driver gave up on a preparation
        // attempt): the driver's cleanup still runs, owned by the executor's tracker.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(dir = %self.tmp.display(), "custom executor job dropped outside a runtime; cleanup_exec not run");
            return;
        };
        let mut orphan = CustomSession {
            inner: Arc::clone(&self.inner),
            tmp: std::mem::take(&mut self.tmp),
            calls: self.calls.clone(),
            job_env: std::mem::take(&mut self.job_env),
            custom_env: std::mem::take(&mut self.custom_env),
            prepared: std::mem::take(&mut self.prepared),
            cleaned: false,
        };
        self.cleaned = true;
        let tasks = self.inner.tasks.clone();
        tasks.spawn_on(async move { orphan.clean_up(None).await }, &runtime);
    }
}

/// Creates `<root>/custom-executor<digits>`.
pub(crate) async fn create_temp_dir(root: &Path) -> Result<PathBuf, Error> {
    create_unique_dir(root, "custom-executor").await
}

async fn create_unique_dir(root: &Path, prefix: &str) -> Result<PathBuf, Error> {
    let mut last_error = None;
    for _ in 0..16 {
        let digits: u32 = rand::rng().random_range(0..1_000_000_000);
        let path = root.join(format!("{prefix}{digits}"));
        match tokio::fs::create_dir(&path).await {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                last_error = Some(error);
            }
            Err(source) => return Err(Error::Io { path, source }),
        }
    }
    Err(Error::Io {
        path: root.join(format!("{prefix}*")),
        source: last_error.unwrap_or_else(|| std::io::Error::other("no free name")),
    })
}

/// `error: source: source...`, like Go's wrapped errors.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
