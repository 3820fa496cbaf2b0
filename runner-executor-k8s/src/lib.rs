//! Kubernetes executor of gitlab-runner-rs, built on kube and k8s-openapi.
//!
//! [`KubernetesExecutor`] implements `runner_executor::Backend`: `prepare` plans the build pod
//! (namespace, names, pull policies, resources, security contexts, volumes, services) without
//! touching the cluster; the first stage creates the image-pull secret and the pod, then polls it
//! every `poll_interval` until it runs or `poll_timeout` passes (K1, K2); every stage runs in the
//! pod; `cleanup` always deletes the pod and the secret and reports failures in upstream's words (K3).
//!
//! **Transport: exec, not attach.** Each stage is one `pods/exec` WebSocket session (channel
//! protocol `v5.channel.k8s.io`) in the `build` or `helper` container running the detect-shell
//! program (`sh -c`, bash → sh → busybox, K10) with the stage script on stdin. Closing stdin sends
//! the v5 CLOSE frame, so the shell sees end of input while output keeps flowing; stdout and
//! stderr are relayed into the trace as they arrive, and the exit code is read from the channel-3
//! status (`Success` → 0, `NonZeroExitCode` → the `ExitCode` cause). This is upstream's "legacy
//! execution strategy"; it was chosen over upstream's default attach + `read-logs` helper protocol
//! because it needs no helper binary in the pod, has a single source of truth for the exit code,
//! and kube's exec support covers it completely. A session that ends without a status is never
//! read as success. While a stage runs the pod is fetched every `poll_interval`: an evicted,
//! deleted or broken pod fails the job with upstream's message (`pod "<ns>/<name>" is disrupted:
//! reason "...", message "..."`). Both feature flags of K10 are accepted; execution is always exec.
//!
//! An exec that fails *before* the upgrade with one of upstream's network errors (`error dialing
//! backend`, `connection refused`, ...) is retried `retry_limit` times (backoff from 500 ms up to
//! `retry_backoff_max`): the script never started, so nothing runs twice. kube's own retry of
//! 429/503/504 is switched off; every API call has the executor's own deadline instead, whose
//! expiry reads `context deadline exceeded` as in Go.
//!
//! Settings come from `runner-config`'s `[runners.kubernetes]` section through
//! [`Settings::from_config`] and [`ClusterAccess::from_config`]. The fake API server used by the
//! tests lives in the module `fake` (feature `test-util`).
//!
//! What it does not do (yet): talk to GitLab, read environment variables (the binary chooses
//! [`ClusterAccess::InCluster`] and passes values), the attach + `read-logs` strategy, retrying a
//! failed pull with the next pull policy, creating per-job namespaces, proxy Services,
//! PodDisruptionBudgets, pod warning events, `resource_availability_check_max_attempts`, the
//! `KUBERNETES_BEARER_TOKEN` overwrite, pod-level resources, `container_lifecycle`, `dns_config`,
//! `pod_spec` patches, `csi`/`nfs` volumes, or service health checks.
//!
//! `allowed_images` and `allowed_services` are enforced with the Docker executor's lines
//! (`runner_executor::allow_list`), `allowed_users` / `allowed_groups` on the job's
//! `image: kubernetes: user` (module `users`). The cache and artifact stages call our helper binary, which
//! the `init-permissions` init container copies from the helper image into the pod's scripts
//! directory (module `helper_binary`); a helper image without it fails the job.
//!
//! ```no_run
//! # async fn demo() -> Result<(), runner_executor_k8s::Error> {
//! use runner_executor_k8s::{ClusterAccess, KubernetesExecutor, Settings};
//! let access = ClusterAccess::Kubeconfig { path: "/home/runner/.kube/config".into(), context: None };
//! let settings = Settings { namespace: "ci".to_owned(), ..Settings::default() };
//! let executor = KubernetesExecutor::connect(&access, settings).await?;
//! // `executor` implements `runner_executor::Backend`, hence `Executor::run(job, trace, cancel)`.
//! # let _ = executor; Ok(()) }
//! ```

mod cleanup;
mod client;
mod config;
mod credentials;
mod error;
mod exec;
mod executor;
#[cfg(feature = "test-util")]
pub mod fake;
mod helper_binary;
mod manifest;
mod metadata;
mod names;
mod overwrites;
mod pod_status;
mod pull_policy;
mod resources;
mod security;
mod services;
mod settings;
mod shell;
mod stage;
mod start;
mod users;
mod volumes;

pub use client::ClusterAccess;
pub use error::{ApiError, Error, Result};
pub use executor::{KubernetesExecutor, Session};
pub use helper_binary::{
    DEFAULT_HELPER_IMAGE_REPOSITORY, HELPER_BINARY_PATH, default_helper_image_tag,
};
pub use settings::{
    ContainerSecurityContext, EmptyDirVolume, HostAlias, HostPathVolume, Mount, PodSecurityContext,
    Profile, ProjectedVolume, PvcVolume, Resources, Settings, Volumes,
};
