//! Vault resolution (upstream-details.md §6.3–§6.6): per secret a JWT login, then a KV v1 or
//! v2 read and the field's value as text.
//!
//! Vault's API, which the requests follow:
//! - JWT login, `POST /v1/auth/<mount>/login` with `{"role", "jwt"}`, token in
//!   `auth.client_token`: <https://developer.hashicorp.com/vault/api-docs/auth/jwt#jwt-login>
//! - KV v2 read, `GET /v1/<mount>/data/<path>`, value in `data.data`:
//!   <https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version>
//! - KV v1 read, `GET /v1/<mount>/<path>`, value in `data`:
//!   <https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1#read-secret>
//! - `X-Vault-Token`, `X-Vault-Namespace` and the `{"errors": [...]}` error body:
//!   <https://developer.hashicorp.com/vault/api-docs#authentication>,
//!   <https://developer.hashicorp.com/vault/docs/enterprise/namespaces>,
//!   <https://developer.hashicorp.com/vault/api-docs#error-response>

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use crate::error::{Result, SecretsError};
use crate::http::{Request, send};
use crate::payload::{JobSecrets, JobVariables, SecretSource, VaultSecret};
use crate::secret::SecretValue;

/// How resolution behaves; the engine fills it from the runner's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    /// Deadline of each HTTP request. Default: 30 s.
    pub request_timeout: Duration,
    /// `FF_SECRET_RESOLVING_FAILS_IF_MISSING` (default true): a missing secret or field fails
    /// with `secret not found: <VAR>`; when false it becomes an empty value.
    pub fail_if_missing: bool,
    /// PEM CA certificates trusted besides the system's (upstream: `VAULT_CACERT` of the
    /// runner process, which the engine reads and passes here).
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            fail_if_missing: true,
            extra_ca_pem: None,
        }
    }
}

impl std::fmt::Debug for ResolveOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ResolveOptions")
            .field("request_timeout", &self.request_timeout)
            .field("fail_if_missing", &self.fail_if_missing)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .finish()
    }
}

/// A resolved secret: becomes the job variable `{key: name, value, masked: true, raw: true,
/// file}`, appended after the job's own variables so it overrides them (§6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSecret {
    /// The variable name.
    pub name: String,
    /// The value (a file's content when `file`).
    pub value: SecretValue,
    /// Expose as a file-type variable.
    pub file: bool,
    /// Always true: secret values are masked in the job log.
    pub masked: bool,
    /// Always true: the value is never `$`-expanded.
    pub raw: bool,
}

/// Resolves every Vault secret of `secrets`, in variable-name order, with a new login per
/// secret as upstream. Entries of other providers are skipped with a warning (upstream's
/// `Not resolved: no resolver that can handle the secret`; see
/// [`JobSecrets::unsupported`]). The first failure ends resolution.
pub async fn resolve(
    secrets: &JobSecrets,
    variables: &JobVariables,
    options: &ResolveOptions,
) -> Result<Vec<ResolvedSecret>> {
    let mut resolved = Vec::new();
    for definition in secrets.definitions() {
        let SecretSource::Vault(vault) = &definition.source else {
            tracing::warn!(
                variable = %definition.name,
                "Not resolved: no resolver that can handle the secret"
            );
            continue;
        };
        tracing::debug!(variable = %definition.name, "resolving secret with vault");
        let value = match resolve_vault(vault, variables, options).await? {
            Some(value) => value,
            None if options.fail_if_missing => {
                return Err(SecretsError::NotFound {
                    name: definition.name.clone(),
                });
            }
            None => String::new(),
        };
        resolved.push(ResolvedSecret {
            name: definition.name.clone(),
            value: SecretValue::new(value),
            file: definition.file,
            masked: true,
            raw: true,
        });
    }
    Ok(resolved)
}

impl JobSecrets {
    /// The variables whose provider this crate does not resolve, for the job log's
    /// `WARNING: Not resolved: no resolver that can handle the secret`.
    pub fn unsupported(&self) -> impl Iterator<Item = &str> {
        self.definitions()
            .iter()
            .filter(|definition| matches!(definition.source, SecretSource::Unsupported(_)))
            .map(|definition| definition.name.as_str())
    }
}

/// The login inputs after expansion.
struct Login {
    url: Url,
    namespace: String,
    auth_name: String,
    auth_path: String,
    data: BTreeMap<String, String>,
}

async fn resolve_vault(
    vault: &VaultSecret,
    variables: &JobVariables,
    options: &ResolveOptions,
) -> Result<Option<String>> {
    let login = login_inputs(vault, variables)?;
    if login.auth_name != "jwt" {
        return Err(SecretsError::UnknownAuthMethod {
            name: login.auth_name,
        });
    }
    let jwt = login.data.get("jwt").ok_or(SecretsError::MissingJwt)?;
    let mut body = serde_json::Map::new();
    body.insert("jwt".to_owned(), jwt.clone().into());
    if let Some(role) = login.data.get("role") {
        body.insert("role".to_owned(), role.clone().into());
    }
    let namespace_header = || {
        (!login.namespace.is_empty())
            .then(|| ("x-vault-namespace", login.namespace.clone()))
            .into_iter()
    };
    let login_url = api_url(&login.url, &["auth", &login.auth_path, "login"]);
    let answer = send(
        Request {
            method: http::Method::POST,
            url: &login_url,
            headers: namespace_header().collect(),
            body: Some(serde_json::Value::Object(body).to_string().into_bytes()),
        },
        options.request_timeout,
        options.extra_ca_pem.as_deref(),
    )
    .await;
    let scrub = |text: String| {
        if jwt.is_empty() {
            text
        } else {
            text.replace(jwt.as_str(), "[MASKED]")
        }
    };
    let (status, response) = answer.map_err(|detail| SecretsError::Login {
        status: None,
        detail: scrub(detail),
    })?;
    if !(200..300).contains(&status) {
        return Err(SecretsError::Login {
            status: Some(status),
            detail: scrub(api_error(status, &response)),
        });
    }
    let client_token = serde_json::from_slice::<serde_json::Value>(&response)
        .ok()
        .and_then(|json| {
            json.pointer("/auth/client_token")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .filter(|token| !token.is_empty())
        .ok_or(SecretsError::NoLoginResult)?;

    let engine_name = variables.expand(&vault.engine.name);
    let engine_path = variables.expand(&vault.engine.path);
    let secret_path = variables.expand(&vault.path);
    let field = variables.expand(&vault.field);
    let read_url = match engine_name.as_str() {
        "kv-v2" => api_url(&login.url, &[&engine_path, "data", &secret_path]),
        "kv-v1" | "generic" => api_url(&login.url, &[&engine_path, &secret_path]),
        _ => return Err(SecretsError::UnknownEngine { name: engine_name }),
    };
    let mut headers = vec![("x-vault-token", client_token.clone())];
    headers.extend(namespace_header());
    let answer = send(
        Request {
            method: http::Method::GET,
            url: &read_url,
            headers,
            body: None,
        },
        options.request_timeout,
        options.extra_ca_pem.as_deref(),
    )
    .await;
    let scrub_read = |text: String| scrub(text).replace(client_token.as_str(), "[MASKED]");
    let (status, response) = answer.map_err(|detail| SecretsError::Read {
        status: None,
        detail: scrub_read(detail),
    })?;
    // A 404 on a read is "no data" whatever its body (the Vault client's behaviour).
    if status == 404 {
        return Ok(None);
    }
    if !(200..300).contains(&status) {
        return Err(SecretsError::Read {
            status: Some(status),
            detail: scrub_read(api_error(status, &response)),
        });
    }
    let json: serde_json::Value =
        serde_json::from_slice(&response).unwrap_or(serde_json::Value::Null);
    let data = match engine_name.as_str() {
        "kv-v2" => match json.pointer("/data/data") {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::Object(data)) => data,
            Some(_) => {
                return Err(SecretsError::NotAnObject {
                    path: clean_path(&[&secret_path]),
                });
            }
        },
        _ => match json.get("data") {
            Some(serde_json::Value::Object(data)) => data,
            _ => return Ok(None),
        },
    };
    Ok(data
        .get(&field)
        .filter(|value| !value.is_null())
        .map(go_text))
}

fn login_inputs(vault: &VaultSecret, variables: &JobVariables) -> Result<Login> {
    let token_jwt = vault.token.as_deref().map(|token| {
        if token.contains('$') {
            variables.expand(token)
        } else {
            variables.get(token).unwrap_or_default().to_owned()
        }
    });
    let (url, namespace, auth_name, auth_path, mut data) = match &vault.server {
        Some(server) => (
            variables.expand(&server.url),
            variables.expand(&server.namespace),
            variables.expand(&server.auth.name),
            variables.expand(&server.auth.path),
            server
                .auth
                .data
                .iter()
                .map(|(key, value)| (key.clone(), variables.expand(value)))
                .collect::<BTreeMap<_, _>>(),
        ),
        None => {
            let get = |name: &str| variables.get(name).unwrap_or_default().to_owned();
            let auth_path = match get("VAULT_AUTH_PATH") {
                path if path.is_empty() => "jwt".to_owned(),
                path => path,
            };
            let mut data = BTreeMap::new();
            if let Some(role) = variables.get("VAULT_AUTH_ROLE") {
                data.insert("role".to_owned(), role.to_owned());
            }
            (
                get("VAULT_SERVER_URL"),
                get("VAULT_NAMESPACE"),
                "jwt".to_owned(),
                auth_path,
                data,
            )
        }
    };
    if let Some(jwt) = token_jwt {
        data.entry("jwt".to_owned()).or_insert(jwt);
    }
    let url = parse_server_url(&url)?;
    Ok(Login {
        url,
        namespace,
        auth_name,
        auth_path,
        data,
    })
}

fn parse_server_url(text: &str) -> Result<Url> {
    let invalid = |reason: &str| SecretsError::InvalidServerUrl {
        reason: reason.to_owned(),
    };
    if text.trim().is_empty() {
        return Err(invalid("empty Vault server URL"));
    }
    let url = Url::parse(text).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("the Vault server URL must be http(s)://host"));
    }
    Ok(url)
}

/// `<server>/v1/<segments joined and cleaned>`.
fn api_url(server: &Url, segments: &[&str]) -> Url {
    let mut url = server.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{base}/v1/{}", clean_path(segments)));
    url.set_query(None);
    url
}

/// Segments joined with `/`, then cleaned like Go's `path.Clean` without the leading `/`.
fn clean_path(segments: &[&str]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in segments.iter().flat_map(|segment| segment.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// `api error: status code <c>: <errors joined by ", ">`.
fn api_error(status: u16, body: &[u8]) -> String {
    let errors = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("errors").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .map(go_text)
        .collect::<Vec<_>>()
        .join(", ");
    format!("api error: status code {status}: {errors}")
}

/// A JSON value as Go's `%v` prints the decoded value: strings bare, numbers as their digits,
/// `map[k:v ...]` with sorted keys, `[a b]`, `<nil>`.
fn go_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "<nil>".to_owned(),
        serde_json::Value::Bool(flag) => flag.to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(go_text).collect::<Vec<_>>().join(" ")
            )
        }
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|left, right| left.0.cmp(right.0));
            let text = entries
                .iter()
                .map(|(key, value)| format!("{key}:{}", go_text(value)))
                .collect::<Vec<_>>()
                .join(" ");
            format!("map[{text}]")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_joined_and_cleaned() {
        let server = Url::parse("https://vault.example.com/prefix/").unwrap();
        assert_eq!(
            api_url(&server, &["auth", "/jwt/", "login"]).as_str(),
            "https://vault.example.com/prefix/v1/auth/jwt/login"
        );
        assert_eq!(clean_path(&["ops", "data", "a/./b/../c"]), "ops/data/a/c");
    }

    #[test]
    fn values_read_as_go_prints_them() {
        let value = serde_json::json!({"b": [1, "x", true], "a": {"k": 2.5}});
        assert_eq!(go_text(&value), "map[a:map[k:2.5] b:[1 x true]]");
    }

    #[test]
    fn api_errors_join_vault_messages() {
        assert_eq!(
            api_error(403, br#"{"errors":["permission denied","again"]}"#),
            "api error: status code 403: permission denied, again"
        );
        assert_eq!(api_error(502, b"<html>"), "api error: status code 502: ");
    }

    #[test]
    fn server_urls_are_checked() {
        assert!(matches!(
            parse_server_url(""),
            Err(SecretsError::InvalidServerUrl { .. })
        ));
        assert!(matches!(
            parse_server_url("ftp://vault"),
            Err(SecretsError::InvalidServerUrl { .. })
        ));
    }
}
