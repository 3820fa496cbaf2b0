//! Vectors 1–4 and proxies.

use runner_api::fake::Endpoint;
use runner_api::{ClientBuilder, JobRequestOutcome, ProxySettings};

use crate::support::*;

#[tokio::test]
async fn vector_01_ci_suffix_and_slashes_are_normalised() {
    let fake = fake().await;
    let client = ClientBuilder::new(format!("{}ci///", fake.url()))
        .build()
        .unwrap();
    assert_eq!(client.base_url().as_str(), format!("{}api/v4/", fake.url()));
    let outcome = client.request_job(job_request(&fake)).await.unwrap();
    assert!(matches!(outcome, JobRequestOutcome::NoJob));
    assert_eq!(fake.requests()[0].path_and_query, "/api/v4/jobs/request");
}

#[tokio::test]
async fn vector_03_poll_headers() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    client.request_job(job_request(&fake)).await.unwrap();
    client.request_job(job_request(&fake)).await.unwrap();
    let requests = fake.requests_to(Endpoint::RequestJob);
    let mut ids = Vec::new();
    for request in &requests {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert!(
            header("user-agent").starts_with("gitlab-runner"),
            "{}",
            header("user-agent")
        );
        assert_eq!(
            header("runner-token"),
            body_json(request)["token"].as_str().unwrap()
        );
        assert_eq!(header("accept"), "application/json");
        assert_eq!(header("content-type"), "application/json");
        let id = header("x-request-id");
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)),
            "{id}"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn user_agent_names_runner_version_and_platform() {
    let fake = fake().await;
    let (client, _) = client(&fake);
    client.request_job(job_request(&fake)).await.unwrap();
    let agent = fake.requests()[0].headers["user-agent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(agent, runner_api::user_agent());
}

/// A forward proxy for plain HTTP: records the request line and relays to `target`.
async fn forward_proxy(
    target: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (lines, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 4096];
                let read = inbound.read(&mut head).await.unwrap();
                let text = String::from_utf8_lossy(&head[..read]).to_string();
                lines
                    .send(text.lines().next().unwrap_or("").to_owned())
                    .unwrap();
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                outbound.write_all(&head[..read]).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (address, receiver)
}

#[tokio::test]
async fn http_proxy_receives_absolute_form_requests() {
    let fake = fake().await;
    let (proxy, mut lines) = forward_proxy(fake.address()).await;
    let settings = ProxySettings::from_lookup(|name| {
        (name == "http_proxy").then(|| format!("http://{proxy}"))
    });
    let url = format!("http://gitlab.test:{}/", fake.address().port());
    let client = ClientBuilder::new(url).proxy(settings).build().unwrap();
    let outcome = client.request_job(job_request(&fake)).await.unwrap();
    assert!(matches!(outcome, JobRequestOutcome::NoJob));
    let line = lines.recv().await.unwrap();
    assert_eq!(
        line,
        format!(
            "POST http://gitlab.test:{}/api/v4/jobs/request HTTP/1.1",
            fake.address().port()
        )
    );
}

#[tokio::test]
async fn no_proxy_and_loopback_bypass_the_proxy() {
    let fake = fake().await;
    let settings = ProxySettings {
        http: Some("http://127.0.0.1:9".to_owned()),
        https: None,
        no_proxy: None,
    };
    let client = ClientBuilder::new(fake.url())
        .proxy(settings)
        .build()
        .unwrap();
    assert!(client.request_job(job_request(&fake)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_hanging_coordinator_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let (connection, _) = listener.accept().await.unwrap();
        // Accept and never answer.
        std::future::pending::<()>().await;
        drop(connection);
    });
    let fake = fake().await;
    let client = ClientBuilder::new(format!("http://{address}/"))
        .long_poll_timeout(std::time::Duration::from_secs(90))
        .build()
        .unwrap();
    let error = client.request_job(job_request(&fake)).await.unwrap_err();
    assert!(
        matches!(error, runner_api::Error::Timeout { after, .. } if after == std::time::Duration::from_secs(90)),
        "{error}"
    );
    assert!(error.is_retryable());
    holder.abort();
}

#[tokio::test]
async fn fake_serves_static_files_under_repo() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("project.git/info")).unwrap();
    std::fs::write(
        directory.path().join("project.git/info/refs"),
        "abc\trefs/heads/main\n",
    )
    .unwrap();
    let fake = fake_with(runner_api::fake::FakeConfig {
        static_dir: Some(directory.path().to_owned()),
        ..runner_api::fake::FakeConfig::default()
    })
    .await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let get = |path: &str| client.get(format!("{}{path}", fake.url()).parse().unwrap());
    let response = get("repo/project.git/info/refs").await.unwrap();
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"abc\trefs/heads/main\n");
    assert_eq!(get("repo/../etc/passwd").await.unwrap().status(), 404);
    assert_eq!(fake.request_count(Endpoint::Repo), 2);
}
