//! Docker executor of gitlab-runner-rs, built on bollard.
//!
//! [`DockerExecutor`] implements `runner_executor::Backend`: `runner_executor::run_job` drives it
//! through upstream's stages, and this crate supplies the containers. Start from
//! [`DockerSettings::from_config`] (the `[runners.docker]` section of `runner-config`, or
//! [`docker_executor`] for a whole `[[runners]]` entry), build a [`DockerExecutor`], and call
//! [`sweep_leftovers`] (or [`sweep_docker_leftovers`]) once at start-up.
//!
//! What it deliberately does *not* do: talk to GitLab, read the process environment outside
//! [`from_config`'s](docker_executor) injected reader (`DOCKER_HOST`, `DOCKER_AUTH_CONFIG`), or
//! expose bollard types.
//!
//! # Design (copied into ARCHITECTURE.md)
//!
//! **Preparation** (`Backend::prepare`, retried by the driver as upstream: `Preparation failed:
//! <cause>` / `Will be retried in 3s ...`, unless the error is classified): connect and negotiate
//! the API version ([`Engine`]); resolve the image and its effective pull policies (job list ∩
//! `allowed_pull_policies`, D4); create the per-job network when the job has services or
//! `FF_NETWORK_PER_BUILD` is on (otherwise the default bridge or `network_mode`, as upstream);
//! create cache and builds volumes; pull the build image; start the services on the network under
//! their aliases (D5). The build and helper containers are only planned: they are
//! created at the first stage that needs them, so their failures read `prepare environment:
//! <cause>`.
//!
//! **Running a stage: through the attached stdin of long-running containers.** Each stage
//! environment (build, and helper a.k.a. `predefined`) is one container whose main process is
//! the image's entrypoint (the job's `entrypoint` when given) exec'ing upstream's detect-shell,
//! which reads commands from the container's stdin. The runner attaches to that stdin and the
//! output before the container starts and keeps the attachment for the whole job. A stage is a
//! child of the same shell given the stage script as a here-document, followed by a line that
//! prints `<nonce>:<exit status>`; everything before that marker is the stage's output (stderr
//! joined to stdout, so their order holds), found by `stage_end::StageEndScanner` however the
//! engine frames it. The nonce is fresh and random per stage, so a job cannot end a stage early
//! by printing something; the main shell reads the whole here-document whatever the child does,
//! so a stage that exits early leaves nothing behind for the next. Compared with upstream
//! (attach, then stop and restart the container for every stage) and with an `exec` per stage
//! (two API round trips and an inspect, ~45 ms each), a stage costs one child shell: an
//! `echo ok` job starts one container and measures 1.08–1.10× a bare `docker run --rm`
//! (benches/job_overhead.rs). Files written
//! outside the builds volume survive between stages as upstream's restarts do. The trade-off:
//! variables an entrypoint sets for its child are seen by the main shell and so by the stages
//! (as upstream's attach does). A stopped stage (cancel, timeout) gets SIGTERM for every
//! process but PID 1 through an exec'd kill script; after `stop_grace` the container is
//! force-removed and re-created for the next stage (after_script after a graceful cancel runs
//! in a fresh container, as upstream).
//!
//! Helper stages that need neither git nor the helper binary (`prepare_script`, `get_sources`
//! with `GIT_STRATEGY=none`, `cleanup_file_variables`: `StageScript::needs_helper_tools`) run in
//! the build container while no helper container exists, so the helper container is only
//! created for a job that fetches sources or moves cache or artifacts. It joins the build
//! container's network namespace (`container:<build>`): one network sandbox per job instead of
//! two, the same host name, `/etc/hosts` and `/etc/resolv.conf` (so `dns` reaches it, D2); it is
//! re-created whenever the build container is.
//!
//! **Helper container.** Its image is resolved only when a stage first needs the container (or a
//! service needs a health check), so a job that never fetches sources or moves cache or
//! artifacts runs on a daemon without any helper image. `helper_image` when set (pulled
//! `if-not-present`); otherwise our own image, [`default_helper_image`]
//! (`gitlab-runner-rs-helper:<arch>-v<version>`, tagged like upstream's helper): taken from the
//! daemon if present, else loaded from `gitlab-runner-rs-helper-<arch>.docker.tar[.gz]` in the
//! first of `helper_archive_dirs` that has it ([`helper_archive_dirs`]: next to the binary, then
//! `/usr/lib/gitlab-runner-rs/helper-images`, `/usr/share/gitlab-runner-rs/helper-images`), as
//! upstream loads its prebuilt archives, else pulled with a warning that says how to provide it.
//! When `helper_binary` is set, that file (the runner's own executable, statically linked in
//! release builds) is streamed as a one-file tar archive to [`HELPER_BINARY_PATH`] in the created
//! container before it starts (`PUT /containers/{id}/archive`): no host path is handed to the
//! daemon, so a runner in a container with the host's socket, a remote daemon and
//! Docker-in-Docker work alike, and the binary in the container is always the one running the
//! job, whatever the image carries (upstream's Alpine helper images included). The copy is skipped
//! when the image's [`HELPER_BINARY_LABEL`] is the binary's sha256 (our images built from the same
//! binary, e.g. the runner image and the helper archive it ships): it is most of a cache job's
//! overhead otherwise.
//!
//! **Nothing leaks (D6).** Every container, temporary volume and network is recorded before the
//! call that creates it. `Backend::cleanup` removes them on its own task and deadline
//! (`cleanup_timeout`, 5 min) whatever happened to the job. A session dropped without cleanup (the
//! driver drops `prepare` on cancel or timeout) hands its list to a task on the executor's
//! tracker ([`DockerExecutor::wait_for_background_cleanups`]). Objects carry upstream's labels
//! (`com.gitlab.gitlab-runner.*`, §7.7), so [`sweep_leftovers`] removes what a runner killed with
//! SIGKILL left behind. Reusable cache volumes are kept by design.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use runner_executor::{Executor, JobSpec, TraceWriter};
//! use runner_executor_docker::{DockerExecutor, DockerSettings, Engine, sweep_leftovers};
//!
//! let settings = DockerSettings {
//!     image: Some("gitlab-runner-rs-test/bash:latest".to_owned()),
//!     helper_image: Some("gitlab-runner-rs-test/helper:latest".to_owned()),
//!     pull_policy: vec!["if-not-present".to_owned()],
//!     ..DockerSettings::default()
//! };
//! sweep_leftovers(&Engine::connect(&settings).await?, "abcdefghi", None).await?;
//! let executor = DockerExecutor::new(settings);
//! let job = JobSpec::builder(1, "token").script(["echo ok"]).build();
//! let (sender, _receiver) = tokio::sync::mpsc::channel(64);
//! let trace = TraceWriter::builder(sender).job(&job).build();
//! let outcome = executor.run(job, trace, Default::default()).await?;
//! assert!(outcome.is_success());
//! # Ok(())
//! # }
//! ```

mod allowed;
mod auth;
mod containers;
mod engine;
mod error;
mod exec;
mod executor;
mod from_config;
mod helper;
mod names;
mod policy;
mod prepare;
mod pull;
mod resources;
mod service_health;
mod session;
mod settings;
mod stage_channel;
mod stage_end;
mod sweep;
mod units;

pub use engine::Engine;
pub use error::{Error, Result};
pub use executor::DockerExecutor;
pub use from_config::{docker_executor, process_env, sweep_docker_leftovers};
pub use helper::{
    HELPER_BINARY_LABEL, HELPER_BINARY_PATH, HELPER_IMAGE_REPOSITORY, default_helper_image,
    helper_archive_dirs,
};
pub use names::{MANAGED_LABEL, REUSABLE_LABEL, RUNNER_ID_LABEL, SYSTEM_ID_LABEL};
pub use policy::PullPolicy;
pub use session::DockerSession;
pub use settings::{
    ContainerOptions, DEFAULT_HOST, DockerSettings, RegistryAuth, RegistryCredential,
    ServiceSettings,
};
pub use sweep::{SweepReport, sweep_leftovers};
