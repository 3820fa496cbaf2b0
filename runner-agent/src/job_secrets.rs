//! The job's `secrets:` (upstream-details.md §6): resolved through `runner-secrets` (Vault)
//! after the spec is built and before the executor prepares anything, so a secret that cannot
//! be fetched fails the job before any user script runs. Resolved values become masked, raw
//! variables appended after the job's own (§6.6), so they are masked from here on.
//!
//! As upstream, the `Resolving secrets` section follows the log's `Running with` header: the
//! job runner writes the header first and tells the executor's writer it is written.

use std::time::Duration;

use runner_api::JobResponse;
use runner_core::FailureReason;
use runner_executor::{JobFailure, JobSpec, TraceWriter, Variable};
use runner_secrets::{FailureClass, JobSecrets, JobVariables, ResolveOptions, SecretSource};

/// `SECRETS_RETRIEVAL_ATTEMPTS` is clamped to 1..=10 (default 1).
const MAX_ATTEMPTS: u32 = 10;
/// The exponential backoff between attempts (`FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY`, on by
/// default) starts at 5 s and stops growing at 5 min; without it, 1 s growing to 5 s.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));
const LINEAR_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(5));

/// Resolves the secrets of `job` (a payload with `secrets`) into `spec.variables`, writing
/// upstream's section to `writer`.
pub(crate) async fn resolve_into(
    job: &JobResponse,
    spec: &mut JobSpec,
    writer: &mut TraceWriter,
) -> Result<(), JobFailure> {
    let secrets = JobSecrets::from_payload(&job.secrets).map_err(|error| failure(&error))?;
    let variables = JobVariables::from_pairs(
        spec.variables
            .iter()
            .map(|variable| (variable.key.as_str(), variable.value.as_str())),
    );
    let options = ResolveOptions {
        fail_if_missing: spec
            .feature_flag("FF_SECRET_RESOLVING_FAILS_IF_MISSING")
            .unwrap_or(true),
        extra_ca_pem: std::env::var_os("VAULT_CACERT").and_then(|path| std::fs::read(path).ok()),
        ..ResolveOptions::default()
    };
    let attempts = spec
        .variables
        .iter()
        .rev()
        .find(|variable| variable.key == "SECRETS_RETRIEVAL_ATTEMPTS")
        .and_then(|variable| variable.value.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_ATTEMPTS);
    let (mut delay, max_delay) = if spec
        .feature_flag("FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY")
        .unwrap_or(true)
    {
        BACKOFF
    } else {
        LINEAR_BACKOFF
    };
    let markers = spec.features.trace_sections;
    let mut attempt = 1;
    loop {
        writer
            .section_start("resolve_secrets", "Resolving secrets", markers)
            .await;
        for definition in secrets.definitions() {
            writer
                .info(&format!("Resolving secret \"{}\"...", definition.name))
                .await;
            match definition.source {
                SecretSource::Vault(_) => writer.info("Using \"vault\" secret resolver...").await,
                SecretSource::Unsupported(_) => {
                    writer
                        .warning("Not resolved: no resolver that can handle the secret")
                        .await;
                }
            }
        }
        let result = runner_secrets::resolve(&secrets, &variables, &options).await;
        writer.section_end("resolve_secrets", markers).await;
        match result {
            Ok(resolved) => {
                spec.variables
                    .extend(resolved.into_iter().map(|secret| Variable {
                        key: secret.name,
                        value: secret.value.into_inner(),
                        public: false,
                        file: secret.file,
                        masked: secret.masked,
                        raw: secret.raw,
                    }));
                return Ok(());
            }
            Err(error) if attempt >= attempts => return Err(failure(&error)),
            Err(error) => {
                tracing::warn!(job = spec.id, error = %error, "resolving secrets failed; retrying");
                writer.warning("Retrying...").await;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(max_delay);
                attempt += 1;
            }
        }
    }
}

/// The job's failure for `error`, classified as upstream (§6.7).
fn failure(error: &runner_secrets::SecretsError) -> JobFailure {
    let reason = match error.failure_class() {
        FailureClass::Configuration => FailureReason::RunnerConfigurationError,
        FailureClass::ExternalDependency => FailureReason::RunnerExternalDependencyFailure,
        FailureClass::System => FailureReason::RunnerSystemFailure,
    };
    JobFailure::new(reason, error.to_string())
}
