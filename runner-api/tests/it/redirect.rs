//! §1.4: redirects are followed within an attempt (up to 10); 307/308 re-send the body,
//! 301/302/303 turn a POST into a GET; credentials never go to another host (§18.2 quirk 12,
//! Beyond).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use runner_api::fake::Endpoint;
use runner_api::{ArtifactUpload, ClientBuilder, Error, JobRequestOutcome, Token};

use crate::support::*;

/// A server on loopback that answers every request with `status` and `Location: <target>`
/// (its own address when `target` is `None`); counts the requests it answered.
async fn redirector(status: u16, target: Option<String>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let location = Arc::new(target.unwrap_or_else(|| format!("http://{address}/again")));
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&answered);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            let location = Arc::clone(&location);
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let counter = Arc::clone(&counter);
                let location = Arc::clone(&location);
                async move {
                    // Read the body as a real server would before answering.
                    let _ = request.into_body().collect().await;
                    counter.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .status(status)
                            .header("location", location.as_str())
                            .body(Full::new(Bytes::new()))
                            .unwrap(),
                    )
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (address, answered)
}

/// A client whose base URL is the redirector, which sends everything on to the fake.
fn client_via(redirector: SocketAddr) -> runner_api::Client {
    ClientBuilder::new(format!("http://{redirector}/"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_308_job_request_reaches_the_target_with_its_body_and_token() {
    let fake = fake().await;
    let (redirector, answered) = redirector(
        308,
        Some(format!(
            "http://127.0.0.1:{}/api/v4/jobs/request",
            fake.address().port()
        )),
    )
    .await;
    let client = client_via(redirector);
    let outcome = client.request_job(job_request(&fake)).await.unwrap();
    assert!(matches!(outcome, JobRequestOutcome::NoJob));
    assert_eq!(answered.load(Ordering::SeqCst), 1);
    let requests = fake.requests_to(Endpoint::RequestJob);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        body_json(&requests[0])["token"].as_str(),
        Some(fake.runner_token().as_str())
    );
    // Same host, another port: the credential header still goes along.
    assert!(requests[0].headers.contains_key("runner-token"));
}

#[tokio::test]
async fn a_307_upload_resends_the_whole_archive() {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let token = Token::new(fake.job(job_id).unwrap().token);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("archive.zip");
    let content: Vec<u8> = (0..200_000u32).map(|index| (index % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let (redirector, answered) = redirector(
        307,
        Some(format!(
            "http://127.0.0.1:{}/api/v4/jobs/{job_id}/artifacts",
            fake.address().port()
        )),
    )
    .await;
    let client = client_via(redirector);
    client
        .upload_artifacts(
            job_id,
            &token,
            &ArtifactUpload {
                path,
                name: "artifacts".into(),
                ..ArtifactUpload::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(answered.load(Ordering::SeqCst), 1);
    let stored = &fake.job(job_id).unwrap().artifacts;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, content);
}

#[tokio::test]
async fn a_303_turns_the_post_into_a_get_without_body() {
    let fake = fake().await;
    let (redirector, _) = redirector(
        303,
        Some(format!(
            "http://127.0.0.1:{}/api/v4/jobs/request",
            fake.address().port()
        )),
    )
    .await;
    let client = client_via(redirector);
    // The fake only serves POST there, so the request fails; what it received is the point.
    let _ = client.request_job(job_request(&fake)).await;
    let requests = fake.requests();
    let last = requests
        .last()
        .expect("the fake received the redirected request");
    assert_eq!(last.method, "GET");
    assert!(last.body.is_empty());
    assert!(!last.headers.contains_key("content-type"));
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_host() {
    let fake = fake().await;
    // "localhost" is another host name than the client's 127.0.0.1, on the same machine.
    let (redirector, _) = redirector(
        308,
        Some(format!(
            "http://localhost:{}/api/v4/jobs/request",
            fake.address().port()
        )),
    )
    .await;
    let client = client_via(redirector);
    let _ = client.request_job(job_request(&fake)).await;
    let requests = fake.requests();
    let last = requests
        .last()
        .expect("the fake received the redirected request");
    assert_eq!(last.method, "POST");
    assert!(
        !last.headers.contains_key("runner-token"),
        "{:?}",
        last.headers
    );
}

#[tokio::test]
async fn more_than_ten_redirects_is_an_error_naming_the_url() {
    let fake = fake().await;
    let (looping, answered) = redirector(307, None).await;
    let client = client_via(looping);
    let error = client.request_job(job_request(&fake)).await.unwrap_err();
    assert!(matches!(error, Error::Redirect { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("http://{looping}/again")),
        "{error}"
    );
    // The request itself and ten redirects, in one attempt (a redirect loop is not retried).
    assert_eq!(answered.load(Ordering::SeqCst), 11);
}
