//! The job payload's `secrets` (coordinator-api.md §6.12, upstream-details.md §6.1) decoded
//! into typed definitions, and the job variables their fields expand against (§6.2).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::error::SecretsError;

/// The provider keys GitLab may send that this crate does not resolve.
const OTHER_PROVIDERS: [&str; 4] = [
    "gcp_secret_manager",
    "azure_key_vault",
    "aws_secrets_manager",
    "gitlab_secrets_manager",
];

/// A job's `secrets`, in variable-name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobSecrets {
    definitions: Vec<SecretDefinition>,
}

/// One entry of `secrets`: the variable it defines and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDefinition {
    /// The variable name (the map key).
    pub name: String,
    /// `file`: expose as a file-type variable; **true** when absent, as upstream.
    pub file: bool,
    /// The provider.
    pub source: SecretSource,
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// HashiCorp Vault.
    Vault(Box<VaultSecret>),
    /// A provider this crate does not resolve (upstream: `Not resolved: no resolver that can
    /// handle the secret`, and the job goes on); holds the provider key, if any.
    Unsupported(Option<String>),
}

/// The `vault` object, before `$VAR` expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VaultSecret {
    /// `server`: address, namespace and authentication. When GitLab leaves it out, it is
    /// taken from the job variables `VAULT_SERVER_URL`, `VAULT_AUTH_PATH` (default `jwt`),
    /// `VAULT_AUTH_ROLE` and `VAULT_NAMESPACE`, and the JWT from `token`.
    pub server: Option<VaultServer>,
    /// `engine`: `{name, path}`; `kv-v2`, `kv-v1` or `generic`.
    pub engine: VaultEngine,
    /// `path`: the secret's path inside the engine.
    pub path: String,
    /// `field`: the key inside the secret's data.
    pub field: String,
    /// `token`: the ID-token variable holding the JWT (`$VAULT_ID_TOKEN` or its name), for
    /// payloads without `server.auth.data.jwt`.
    pub token: Option<String>,
}

/// `vault.server`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VaultServer {
    /// `url`.
    pub url: String,
    /// `namespace` (Vault Enterprise), sent as `X-Vault-Namespace`.
    pub namespace: String,
    /// `auth`.
    pub auth: VaultAuth,
}

/// `vault.server.auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VaultAuth {
    /// `name`: only `jwt` is implemented, as upstream.
    pub name: String,
    /// `path`: the auth mount.
    pub path: String,
    /// `data`: `jwt` (required) and `role`; values as text.
    #[serde(deserialize_with = "text_map")]
    pub data: BTreeMap<String, String>,
}

/// `vault.engine`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VaultEngine {
    /// `name`.
    pub name: String,
    /// `path`: the engine's mount.
    pub path: String,
}

impl JobSecrets {
    /// Decodes the payload's `secrets` map (`runner_api::JobResponse::secrets`). A provider
    /// object that does not decode is an error naming the variable, never quoting a value.
    pub fn from_payload(
        secrets: &BTreeMap<String, serde_json::Value>,
    ) -> Result<Self, SecretsError> {
        let mut definitions = Vec::with_capacity(secrets.len());
        for (name, value) in secrets {
            let file = value
                .get("file")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true);
            let source = match value.get("vault") {
                Some(vault) if !vault.is_null() => {
                    let mut secret = VaultSecret::deserialize(vault).map_err(|error| {
                        SecretsError::InvalidDefinition {
                            name: name.clone(),
                            reason: value_free(&error.to_string()),
                        }
                    })?;
                    // `token` may also sit next to `vault`, beside `file`.
                    if secret.token.is_none() {
                        secret.token = value
                            .get("token")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned);
                    }
                    SecretSource::Vault(Box::new(secret))
                }
                _ => SecretSource::Unsupported(
                    OTHER_PROVIDERS
                        .iter()
                        .find(|provider| value.get(**provider).is_some_and(|v| !v.is_null()))
                        .map(|provider| (*provider).to_owned()),
                ),
            };
            definitions.push(SecretDefinition {
                name: name.clone(),
                file,
                source,
            });
        }
        Ok(Self { definitions })
    }

    /// The definitions, by variable name.
    pub fn definitions(&self) -> &[SecretDefinition] {
        &self.definitions
    }

    /// Whether there is nothing to resolve.
    pub fn is_empty(&self) -> bool {
        self.definitions.is_empty()
    }
}

/// The job's variables as the expansion of secret fields sees them: last definition wins.
#[derive(Debug, Clone, Default)]
pub struct JobVariables {
    values: HashMap<String, String>,
}

impl JobVariables {
    /// From `(key, value)` pairs in payload order, e.g.
    /// `job.variables.iter().map(|v| (v.key.as_str(), v.value.as_str()))`.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut values = HashMap::new();
        for (key, value) in pairs {
            values.insert(key.to_owned(), value.to_owned());
        }
        Self { values }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// `$NAME` and `${NAME}` replaced by their values (empty when unset), once, with the job
    /// variables' expansion rule (`runner_core::expand_variables`).
    pub fn expand(&self, text: &str) -> String {
        runner_core::expand_variables(text, |name| self.get(name))
    }
}

/// serde's messages quote the offending value (`invalid type: string "hunter2"`); keep the
/// part before any quote so a secret never reaches a log.
fn value_free(message: &str) -> String {
    match message.find(['"', '`']) {
        Some(position) => message[..position].trim_end().to_owned(),
        None => message.to_owned(),
    }
}

/// `auth.data` values as text: strings as they are, anything else as its JSON text.
fn text_map<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(deserializer)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (key, text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_go() {
        let variables = JobVariables::from_pairs([("A", "1"), ("B_2", "two"), ("A", "last")]);
        assert_eq!(variables.expand("$A/${B_2}/$C/$/${"), "last/two//$/${");
    }

    #[test]
    fn decoding_defaults_file_and_skips_other_providers() {
        let payload: BTreeMap<String, serde_json::Value> = serde_json::from_value(
            serde_json::json!({
                "DB": {"vault": {"engine": {"name": "kv-v2", "path": "ops"}, "path": "p", "field": "f"}},
                "GCP": {"gcp_secret_manager": {"name": "x"}, "file": false},
                "ODD": {"file": false}
            }),
        )
        .unwrap();
        let secrets = JobSecrets::from_payload(&payload).unwrap();
        let definitions = secrets.definitions();
        assert_eq!(definitions[0].name, "DB");
        assert!(definitions[0].file);
        assert!(matches!(definitions[0].source, SecretSource::Vault(_)));
        assert_eq!(
            definitions[1].source,
            SecretSource::Unsupported(Some("gcp_secret_manager".into()))
        );
        assert!(!definitions[1].file);
        assert_eq!(definitions[2].source, SecretSource::Unsupported(None));
    }

    #[test]
    fn decoding_errors_name_the_variable_without_values() {
        let payload: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({"DB": {"vault": {"path": ["hunter2"]}}}))
                .unwrap();
        let error = JobSecrets::from_payload(&payload).unwrap_err().to_string();
        assert!(error.contains("DB"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
