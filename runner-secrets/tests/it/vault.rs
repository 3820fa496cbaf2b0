//! Resolution against the fake Vault: request shapes, KV v1 and v2, file flags, namespaces,
//! missing secrets, refused logins, and no secret in any error text.

use std::collections::BTreeMap;

use runner_secrets::fake::FakeVault;
use runner_secrets::{
    FailureClass, JobSecrets, JobVariables, ResolveOptions, ResolvedSecret, SecretsError, resolve,
};
use serde_json::{Value, json};

const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.job-id-token.signature";

fn variables() -> JobVariables {
    JobVariables::from_pairs([("VAULT_ID_TOKEN", JWT), ("CI_ENV", "production")])
}

/// A payload with one Vault secret `DATABASE_PASSWORD` as GitLab sends it.
fn payload(vault: &FakeVault, engine: &str, extra: Value) -> BTreeMap<String, Value> {
    let mut secret = json!({
        "vault": {
            "server": {
                "url": vault.url(),
                "namespace": "",
                "auth": {"name": "jwt", "path": "jwt",
                         "data": {"jwt": "$VAULT_ID_TOKEN", "role": "myproject-${CI_ENV}"}}
            },
            "engine": {"name": engine, "path": "ops"},
            "path": "${CI_ENV}/db",
            "field": "password"
        }
    });
    merge(&mut secret, extra);
    serde_json::from_value(json!({ "DATABASE_PASSWORD": secret })).unwrap()
}

fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(target), Value::Object(extra)) = (target, extra) {
        for (key, value) in extra {
            match target.get_mut(&key) {
                Some(existing) if existing.is_object() && value.is_object() => {
                    merge(existing, value);
                }
                _ => {
                    target.insert(key, value);
                }
            }
        }
    }
}

async fn run(
    payload: &BTreeMap<String, Value>,
    variables: &JobVariables,
    options: &ResolveOptions,
) -> Result<Vec<ResolvedSecret>, SecretsError> {
    resolve(&JobSecrets::from_payload(payload)?, variables, options).await
}

/// How resolving `payload` fails, with the job's variables and the default options.
async fn failure(payload: &BTreeMap<String, Value>) -> SecretsError {
    run(payload, &variables(), &ResolveOptions::default())
        .await
        .unwrap_err()
}

async fn vault() -> FakeVault {
    let vault = FakeVault::start().await.unwrap();
    vault.allow_login("jwt", "myproject-production", JWT);
    vault
}

#[tokio::test]
async fn kv_v2_read_logs_in_with_the_jwt_and_reads_data_data() {
    let vault = vault().await;
    vault.put_kv2(
        "ops",
        "production/db",
        json!({"password": "pa$$", "user": "app"}),
    );
    let resolved = run(
        &payload(&vault, "kv-v2", json!({})),
        &variables(),
        &ResolveOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(resolved.len(), 1);
    let secret = &resolved[0];
    assert_eq!(secret.name, "DATABASE_PASSWORD");
    assert_eq!(secret.value.expose(), "pa$$");
    assert!(secret.file, "file is the default");
    assert!(secret.masked && secret.raw);
    assert!(!format!("{resolved:?}").contains("pa$$"));

    let requests = vault.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/auth/jwt/login")
    );
    assert_eq!(
        requests[0].body,
        Some(json!({"jwt": JWT, "role": "myproject-production"}))
    );
    assert_eq!(requests[0].vault_token, None);
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("GET", "/v1/ops/data/production/db")
    );
    assert_eq!(requests[1].vault_token.as_deref(), Some("hvs.fake-token-1"));
    assert_eq!(requests[1].namespace, None);
}

#[tokio::test]
async fn kv_v1_and_generic_read_data_and_honour_the_file_flag() {
    let vault = vault().await;
    vault.put_kv1("ops", "production/db", json!({"password": 1234}));
    for engine in ["kv-v1", "generic"] {
        let resolved = run(
            &payload(&vault, engine, json!({"file": false})),
            &variables(),
            &ResolveOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(resolved[0].value.expose(), "1234");
        assert!(!resolved[0].file);
    }
    let reads: Vec<String> = vault
        .requests()
        .into_iter()
        .filter(|request| request.method == "GET")
        .map(|request| request.path)
        .collect();
    assert_eq!(reads, ["/v1/ops/production/db", "/v1/ops/production/db"]);
}

#[tokio::test]
async fn namespace_is_sent_on_login_and_read() {
    let vault = vault().await;
    vault.require_namespace("team-a");
    vault.put_kv2("ops", "production/db", json!({"password": "x"}));
    let with_namespace = payload(
        &vault,
        "kv-v2",
        json!({"vault": {"server": {"namespace": "team-a"}}}),
    );
    run(&with_namespace, &variables(), &ResolveOptions::default())
        .await
        .unwrap();
    assert!(
        vault
            .requests()
            .iter()
            .all(|request| request.namespace.as_deref() == Some("team-a"))
    );

    let error = failure(&payload(&vault, "kv-v2", json!({}))).await;
    assert!(error.to_string().starts_with(
        "resolving secrets: initializing Vault service: preparing authenticated client: authenticating Vault client: writing to Vault: api error: status code 400: "
    ), "{error}");
}

#[tokio::test]
async fn missing_secret_or_field_is_secret_not_found() {
    let vault = vault().await;
    let error = failure(&payload(&vault, "kv-v2", json!({}))).await;
    assert_eq!(
        error.to_string(),
        "resolving secrets: secret not found: DATABASE_PASSWORD"
    );
    assert_eq!(error.failure_class(), FailureClass::System);

    vault.put_kv2("ops", "production/db", json!({"other": "x"}));
    let error = failure(&payload(&vault, "kv-v2", json!({}))).await;
    assert!(matches!(error, SecretsError::NotFound { .. }), "{error}");

    // FF_SECRET_RESOLVING_FAILS_IF_MISSING=false: an empty value instead.
    let options = ResolveOptions {
        fail_if_missing: false,
        ..ResolveOptions::default()
    };
    let resolved = run(&payload(&vault, "kv-v2", json!({})), &variables(), &options)
        .await
        .unwrap();
    assert_eq!(resolved[0].value.expose(), "");
}

#[tokio::test]
async fn kv_v2_data_that_is_not_an_object_is_upstreams_error() {
    let vault = vault().await;
    vault.put_raw("ops/data/production/db", json!({"data": {"data": "flat"}}));
    let error = failure(&payload(&vault, "kv-v2", json!({}))).await;
    assert_eq!(
        error.to_string(),
        "resolving secrets: reading secret: data for key production/db cannot be coerced to 'map[string]any'"
    );
}

#[tokio::test]
async fn refused_logins_are_configuration_errors_with_vaults_messages() {
    let vault = vault().await;
    let wrong_role = payload(
        &vault,
        "kv-v2",
        json!({"vault": {"server": {"auth": {"data": {"role": "wrong"}}}}}),
    );
    let error = failure(&wrong_role).await;
    assert_eq!(
        error.to_string(),
        "resolving secrets: initializing Vault service: preparing authenticated client: authenticating Vault client: writing to Vault: api error: status code 400: role \"wrong\" could not be found"
    );
    assert!(error.is_configuration());

    // upstream-details.md §6.9, vector 3.
    let other_token = JobVariables::from_pairs([
        ("VAULT_ID_TOKEN", "another.jwt.value"),
        ("CI_ENV", "production"),
    ]);
    let error = run(
        &payload(&vault, "kv-v2", json!({})),
        &other_token,
        &ResolveOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "resolving secrets: initializing Vault service: preparing authenticated client: authenticating Vault client: writing to Vault: api error: status code 403: permission denied"
    );
    assert_eq!(error.failure_class(), FailureClass::Configuration);
}

#[tokio::test]
async fn errors_never_contain_the_jwt_or_secret_values() {
    let vault = vault().await;
    vault.put_kv2("ops", "production/db", json!({"password": "hunter2-value"}));
    // A Vault error that echoes what it got (here the role, set to the JWT) is scrubbed.
    let echoing = payload(
        &vault,
        "kv-v2",
        json!({"vault": {"server": {"auth": {"data": {"role": "$VAULT_ID_TOKEN"}}}}}),
    );
    let error = failure(&echoing).await;
    let text = format!("{error} {error:?}");
    assert!(!text.contains(JWT), "{text}");
    assert!(text.contains("[MASKED]"), "{text}");

    // Unreachable Vault: the transport error names the URL, not the body.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let unreachable = payload(
        &vault,
        "kv-v2",
        json!({"vault": {"server": {"url": format!("http://{address}")}}}),
    );
    let error = failure(&unreachable).await;
    let text = format!("{error} {error:?}");
    assert!(
        text.contains(&format!("POST http://{address}/v1/auth/jwt/login")),
        "{text}"
    );
    assert!(
        !text.contains(JWT) && !text.contains("hunter2-value"),
        "{text}"
    );
    assert_eq!(error.failure_class(), FailureClass::System);

    // A field of the wrong secret: the error names the variable only.
    let wrong_field = payload(&vault, "kv-v2", json!({"vault": {"field": "nope"}}));
    let error = failure(&wrong_field).await;
    assert!(!format!("{error} {error:?}").contains("hunter2-value"));
}

#[tokio::test]
async fn configuration_errors_keep_upstreams_words() {
    let vault = vault().await;
    let check = |extra: Value, expected: &'static str| {
        let payload = payload(&vault, "kv-v2", extra);
        async move {
            let error = failure(&payload).await;
            assert_eq!(error.to_string(), expected);
        }
    };
    check(
        json!({"vault": {"server": {"auth": {"name": "approle"}}}}),
        "resolving secrets: initializing Vault service: preparing authenticated client: initializing auth method factory: factory for auth method \"approle\" is not registered",
    )
    .await;
    let mut no_jwt = payload(&vault, "kv-v2", json!({}));
    if let Some(data) = no_jwt
        .get_mut("DATABASE_PASSWORD")
        .and_then(|secret| secret.pointer_mut("/vault/server/auth/data"))
        .and_then(Value::as_object_mut)
    {
        data.remove("jwt");
    }
    let error = failure(&no_jwt).await;
    assert_eq!(
        error.to_string(),
        "resolving secrets: initializing Vault service: preparing authenticated client: initializing auth method adapter: filtering auth method configuration: missing required auth method configuration key \"jwt\""
    );
    check(
        json!({"vault": {"engine": {"name": "kv-v3"}}}),
        "resolving secrets: requesting SecretEngine factory: factory for secret engine \"kv-v3\" is not registered",
    )
    .await;
}

#[tokio::test]
async fn server_settings_fall_back_to_vault_variables_and_the_token_key() {
    let vault = FakeVault::start().await.unwrap();
    vault.allow_login("gitlab", "ci-role", JWT);
    vault.require_namespace("ns1");
    vault.put_kv2("secret", "app", json!({"token": "abc"}));
    let payload: BTreeMap<String, Value> = serde_json::from_value(json!({
        "APP_TOKEN": {
            "vault": {"engine": {"name": "kv-v2", "path": "secret"}, "path": "app", "field": "token"},
            "token": "$MY_ID_TOKEN"
        }
    }))
    .unwrap();
    // `token` sits next to `vault` in some payloads and inside it in others: accept both.
    let mut inside = payload.clone();
    if let Some(secret) = inside.get_mut("APP_TOKEN") {
        let token = secret["token"].clone();
        secret["vault"]["token"] = token;
    }
    let url = vault.url();
    let variables = JobVariables::from_pairs([
        ("VAULT_SERVER_URL", url.as_str()),
        ("VAULT_AUTH_PATH", "gitlab"),
        ("VAULT_AUTH_ROLE", "ci-role"),
        ("VAULT_NAMESPACE", "ns1"),
        ("MY_ID_TOKEN", JWT),
    ]);
    for payload in [&payload, &inside] {
        let resolved = run(payload, &variables, &ResolveOptions::default())
            .await
            .unwrap();
        assert_eq!(resolved[0].value.expose(), "abc");
    }
    let login = &vault.requests()[0];
    assert_eq!(login.path, "/v1/auth/gitlab/login");
    assert_eq!(login.body, Some(json!({"jwt": JWT, "role": "ci-role"})));
}

#[tokio::test]
async fn other_providers_are_skipped() {
    let vault = vault().await;
    vault.put_kv2("ops", "production/db", json!({"password": "x"}));
    let mut payload = payload(&vault, "kv-v2", json!({}));
    payload.insert(
        "GCP_SECRET".into(),
        json!({"gcp_secret_manager": {"name": "n", "version": "1"}}),
    );
    let secrets = JobSecrets::from_payload(&payload).unwrap();
    assert_eq!(secrets.unsupported().collect::<Vec<_>>(), ["GCP_SECRET"]);
    let resolved = resolve(&secrets, &variables(), &ResolveOptions::default())
        .await
        .unwrap();
    assert_eq!(
        resolved
            .iter()
            .map(|secret| secret.name.as_str())
            .collect::<Vec<_>>(),
        ["DATABASE_PASSWORD"]
    );
}
