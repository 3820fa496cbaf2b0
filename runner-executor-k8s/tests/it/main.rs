//! Integration tests of the Kubernetes executor against the fake API server (real HTTP and
//! WebSocket on loopback, reached through a kubeconfig file; exec'd scripts run in local bash).

// Shared helpers: a fake cluster per test, fast settings, running a job, reading its trace.
mod support;
// Whole jobs: output and exit codes arrive, the v4 fallback never reads a lost status as success.
mod job;
// Preparation and runtime failures: K1 poll timeout, K2 API errors, eviction mid-job.
mod failures;
// Cleanup: K3 messages, 404 is fine, cancellation deletes the pod and the secret.
mod cleanup;
// The manifest the fake received: seed security contexts and volumes, services, labels, K9.
mod manifest;
// Cluster access: host and bearer token, kubeconfig errors, a config.toml section end to end.
mod access;
// Our helper binary: installed by the init container, used by cache and artifact stages.
mod helper;
// allowed_images / allowed_services with the Docker executor's lines.
mod allowed;
// Generated pods and deploy/kubernetes against the real Kubernetes schemas.
mod schemas;
