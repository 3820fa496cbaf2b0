//! Vectors 61–66: register, verify, unregister and token reset.

use runner_api::fake::{Endpoint, Fault};
use runner_api::wire::RegisterRunnerRequest;
use runner_api::{Error, Token};

use crate::support::*;

#[tokio::test]
async fn vector_61_glrt_token_registers_through_verify() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    let token = Token::new(fake.runner_token());
    let runner = client
        .verify_runner(&token, SYSTEM_ID, &info())
        .await
        .unwrap();
    assert_eq!(runner.id, 12345);
    assert_eq!(runner.token_expires_at, None);
    let request = &fake.requests_to(Endpoint::Verify)[0];
    assert_eq!(request.path_and_query, "/api/v4/runners/verify");
    let body = body_json(request);
    assert_eq!(body["system_id"], SYSTEM_ID);
    assert_eq!(body["info"]["features"]["cancel_gracefully"], true);
    assert_eq!(fake.request_count(Endpoint::Register), 0);
}

#[tokio::test]
async fn vector_62_plain_text_verify_is_repeated_and_yields_id_zero() {
    let fake = fake().await;
    let mut fault = Fault::status(200).header("content-type", "text/plain");
    fault.body = "200".to_owned();
    fake.inject_fault(Endpoint::Verify, 2, fault);
    let (client, _) = client(&fake);
    let runner = client
        .verify_runner(&Token::new(fake.runner_token()), SYSTEM_ID, &info())
        .await
        .unwrap();
    assert_eq!(runner.id, 0);
    let requests = fake.requests_to(Endpoint::Verify);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn vector_63_forbidden_verify_asks_to_re_register() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    let error = client
        .verify_runner(&Token::new("glrt-removed"), SYSTEM_ID, &info())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::InvalidRunnerToken {
            endpoint: "verify_runner"
        }
    ));
    assert!(
        error
            .to_string()
            .contains("invalid or expired, or the runner was removed"),
        "{error}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn legacy_registration_with_a_registration_token() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    let request = RegisterRunnerRequest {
        description: "runner".into(),
        run_untagged: true,
        ..RegisterRunnerRequest::default()
    };
    let runner = client
        .register_runner(&Token::new(fake.registration_token()), request.clone())
        .await
        .unwrap();
    assert_eq!(runner.token.expose(), fake.runner_token());
    let body = body_json(&fake.requests_to(Endpoint::Register)[0]);
    assert_eq!(body["description"], "runner");
    assert_eq!(body["paused"], false);
    let error = client
        .register_runner(&Token::new("GR1348941wrong"), request)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::Forbidden {
            endpoint: "register_runner",
            ..
        }
    ));
}

#[tokio::test]
async fn vector_64_registration_limit_message_is_rendered() {
    let fake = fake().await;
    let message = serde_json::json!({"message": {"runner_projects.base": ["Maximum number of ci registered project runners (3) exceeded"]}});
    fake.inject_fault(Endpoint::Register, 1, Fault::status(400).json(&message));
    let (client, _) = client(&fake);
    let error = client
        .register_runner(
            &Token::new(fake.registration_token()),
            RegisterRunnerRequest::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "register_runner: 400 Bad Request (runner_projects.base: Maximum number of ci registered project runners (3) exceeded)"
    );
}

#[tokio::test]
async fn vector_65_reset_token_sends_no_runner_token_header() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    let old = Token::new(fake.runner_token());
    let rotated = client.reset_token(&old).await.unwrap();
    assert_eq!(rotated.token.expose(), fake.runner_token());
    assert_ne!(rotated.token, old);
    let request = &fake.requests_to(Endpoint::ResetToken)[0];
    assert!(request.headers.get("runner-token").is_none());
    assert_eq!(
        body_json(request),
        serde_json::json!({"token": old.expose()})
    );
}

#[tokio::test]
async fn vector_66_unregister_glrt_runner_deletes_the_manager() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    let token = Token::new(fake.runner_token());
    client.unregister(&token, SYSTEM_ID).await.unwrap();
    let request = &fake.requests_to(Endpoint::UnregisterManager)[0];
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.path_and_query, "/api/v4/runners/managers");
    assert_eq!(
        body_json(request),
        serde_json::json!({"token": token.expose(), "system_id": SYSTEM_ID})
    );
    assert!(
        client
            .unregister_runner(&Token::new("legacy-wrong"))
            .await
            .unwrap_err()
            .is_auth()
    );
}
