//! Job secrets for gitlab-runner-rs: the job payload's `secrets` resolved from HashiCorp
//! Vault as the official runner does (upstream-details.md §6): per secret a JWT login
//! (`POST /v1/auth/<path>/login` with `{role, jwt}`, `X-Vault-Namespace`), then a KV v2
//! (`/v1/<engine>/data/<path>`, `data.data`) or KV v1 / generic (`/v1/<engine>/<path>`,
//! `data`) read, and the field's value as a masked, raw variable.
//!
//! What this crate does *not* do: run anything, write files, print job-log lines or read the
//! environment. The engine decides where values go (§6.6) and prints the section. Only the
//! `jwt` auth method and the `kv-v2`, `kv-v1` and `generic` engines exist, as upstream;
//! GCP, Azure, AWS and GitLab secrets managers are reported as unsupported.
//!
//! # How an engine calls it
//!
//! After the `Running with gitlab-runner` header and before the executor prepares, when the
//! payload's `secrets` is not empty, inside section `resolve_secrets`:
//!
//! 1. `JobSecrets::from_payload(&job.secrets)` (`runner_api::JobResponse::secrets`);
//! 2. `JobVariables::from_pairs(job.variables.iter().map(|v| (v.key.as_str(), v.value.as_str())))`;
//! 3. print `Resolving secrets`, and `WARNING: Not resolved: no resolver that can handle the
//!    secret` for each of [`JobSecrets::unsupported`];
//! 4. [`resolve`] with [`ResolveOptions`] (`fail_if_missing` from
//!    `FF_SECRET_RESOLVING_FAILS_IF_MISSING`, the CA bundle of `VAULT_CACERT`), retried
//!    `SECRETS_RETRIEVAL_ATTEMPTS` times;
//! 5. append each [`ResolvedSecret`] after the job's variables (`masked`, `raw`, `file`), so
//!    masking covers them from then on;
//! 6. on error fail the job with `ERROR: Job failed: <error>` when
//!    [`SecretsError::is_configuration`], else `ERROR: Job failed (system failure): <error>`.
//!
//! `info.features.vault_secrets` must stay `false` until an engine does this: GitLab then
//! sends `secrets:` jobs to the runner.
//!
//! ```
//! use std::collections::BTreeMap;
//! use runner_secrets::{JobSecrets, JobVariables, ResolveOptions, fake::FakeVault, resolve};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let vault = FakeVault::start().await?;
//! vault.allow_login("jwt", "production", "id-token-jwt");
//! vault.put_kv2("ops", "production/db", serde_json::json!({"password": "pa$$"}));
//!
//! let payload: BTreeMap<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
//!     "DATABASE_PASSWORD": {
//!         "vault": {
//!             "server": {"url": vault.url(), "auth": {"name": "jwt", "path": "jwt",
//!                        "data": {"jwt": "$VAULT_ID_TOKEN", "role": "production"}}},
//!             "engine": {"name": "kv-v2", "path": "ops"},
//!             "path": "production/db",
//!             "field": "password"
//!         },
//!         "file": false
//!     }
//! }))?;
//! let secrets = JobSecrets::from_payload(&payload)?;
//! let variables = JobVariables::from_pairs([("VAULT_ID_TOKEN", "id-token-jwt")]);
//! let resolved = resolve(&secrets, &variables, &ResolveOptions::default()).await?;
//! assert_eq!(resolved[0].name, "DATABASE_PASSWORD");
//! assert_eq!(resolved[0].value.expose(), "pa$$");
//! assert!(resolved[0].masked && !resolved[0].file);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

mod error;
#[cfg(feature = "test-util")]
pub mod fake;
mod http;
mod payload;
mod secret;
mod vault;

pub use error::{FailureClass, Result, SecretsError};
pub use payload::{
    JobSecrets, JobVariables, SecretDefinition, SecretSource, VaultAuth, VaultEngine, VaultSecret,
    VaultServer,
};
pub use secret::SecretValue;
pub use vault::{ResolveOptions, ResolvedSecret, resolve};
