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

/// What a SOCKS5 client asked the proxy for.
#[derive(Debug, PartialEq)]
struct SocksConnect {
    /// Username and password, when the client authenticated.
    credentials: Option<(String, String)>,
    /// The host as sent (a name stays a name: the proxy resolves it).
    host: String,
    port: u16,
}

/// A SOCKS5 proxy (RFC 1928, RFC 1929): asks for username/password when `require_auth`,
/// records each CONNECT, and connects every name to 127.0.0.1.
async fn socks5_proxy(
    require_auth: bool,
) -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<SocksConnect>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (connects, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let connects = connects.clone();
            tokio::spawn(async move {
                let mut header = [0u8; 2];
                inbound.read_exact(&mut header).await.unwrap();
                assert_eq!(header[0], 5, "SOCKS version");
                let mut methods = vec![0u8; usize::from(header[1])];
                inbound.read_exact(&mut methods).await.unwrap();
                let mut credentials = None;
                if require_auth {
                    assert!(methods.contains(&2), "offers username/password");
                    inbound.write_all(&[5, 2]).await.unwrap();
                    let mut version_and_length = [0u8; 2];
                    inbound.read_exact(&mut version_and_length).await.unwrap();
                    let mut user = vec![0u8; usize::from(version_and_length[1])];
                    inbound.read_exact(&mut user).await.unwrap();
                    let password_length = inbound.read_u8().await.unwrap();
                    let mut password = vec![0u8; usize::from(password_length)];
                    inbound.read_exact(&mut password).await.unwrap();
                    credentials = Some((
                        String::from_utf8(user).unwrap(),
                        String::from_utf8(password).unwrap(),
                    ));
                    inbound.write_all(&[1, 0]).await.unwrap();
                } else {
                    inbound.write_all(&[5, 0]).await.unwrap();
                }
                let mut request = [0u8; 4];
                inbound.read_exact(&mut request).await.unwrap();
                assert_eq!(request[..3], [5, 1, 0], "CONNECT");
                let host = match request[3] {
                    1 => {
                        let mut octets = [0u8; 4];
                        inbound.read_exact(&mut octets).await.unwrap();
                        std::net::Ipv4Addr::from(octets).to_string()
                    }
                    3 => {
                        let length = inbound.read_u8().await.unwrap();
                        let mut name = vec![0u8; usize::from(length)];
                        inbound.read_exact(&mut name).await.unwrap();
                        String::from_utf8(name).unwrap()
                    }
                    other => panic!("address type {other}"),
                };
                let port = inbound.read_u16().await.unwrap();
                connects
                    .send(SocksConnect {
                        credentials,
                        host,
                        port,
                    })
                    .unwrap();
                let mut outbound = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                inbound
                    .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (address, receiver)
}

#[tokio::test]
async fn socks5_proxy_carries_requests_and_resolves_the_host_name() {
    let fake = fake().await;
    let (proxy, mut connects) = socks5_proxy(false).await;
    let settings = ProxySettings::from_lookup(|name| {
        (name == "http_proxy").then(|| format!("socks5://{proxy}"))
    });
    let url = format!("http://gitlab.test:{}/", fake.address().port());
    let client = ClientBuilder::new(url).proxy(settings).build().unwrap();
    let outcome = client.request_job(job_request(&fake)).await.unwrap();
    assert!(matches!(outcome, JobRequestOutcome::NoJob));
    assert_eq!(
        connects.recv().await.unwrap(),
        SocksConnect {
            credentials: None,
            host: "gitlab.test".to_owned(),
            port: fake.address().port(),
        }
    );
    // Through a tunnel the request keeps its origin form.
    assert_eq!(fake.requests()[0].path_and_query, "/api/v4/jobs/request");
}

#[tokio::test]
async fn socks5_proxy_credentials_come_from_the_proxy_url() {
    let fake = fake().await;
    let (proxy, mut connects) = socks5_proxy(true).await;
    let settings = ProxySettings::from_lookup(|name| {
        (name == "HTTP_PROXY").then(|| format!("socks5h://runner:s3cret@{proxy}"))
    });
    let url = format!("http://gitlab.test:{}/", fake.address().port());
    let client = ClientBuilder::new(url).proxy(settings).build().unwrap();
    assert!(client.request_job(job_request(&fake)).await.is_ok());
    let connect = connects.recv().await.unwrap();
    assert_eq!(
        connect.credentials,
        Some(("runner".to_owned(), "s3cret".to_owned()))
    );
}

#[tokio::test]
async fn an_unsupported_proxy_scheme_is_a_clear_error() {
    let fake = fake().await;
    let settings = ProxySettings::from_lookup(|name| {
        (name == "http_proxy").then(|| "socks4://127.0.0.1:9".to_owned())
    });
    let url = format!("http://gitlab.test:{}/", fake.address().port());
    let client = ClientBuilder::new(url).proxy(settings).build().unwrap();
    let error = client.request_job(job_request(&fake)).await.unwrap_err();
    assert!(
        format!("{error:?}").contains("proxy scheme socks4 is not supported"),
        "{error:?}"
    );
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

/// Relays TCP connections to `target` and counts them.
async fn counting_relay(
    target: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (address, accepted)
}

/// Connections made by a client with `max_age` for two requests, then one more after 61 s
/// (below the 90 s idle timeout, so only the age can retire the first connection).
async fn connections_over_a_minute(max_age: Option<std::time::Duration>) -> usize {
    let fake = fake().await;
    let (relay, accepted) = counting_relay(fake.address()).await;
    let client = ClientBuilder::new(format!("http://{relay}/"))
        .connection_max_age(max_age)
        .build()
        .unwrap();
    client.request_job(job_request(&fake)).await.unwrap();
    client.request_job(job_request(&fake)).await.unwrap();
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "keep-alive reuses the connection"
    );
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    client.request_job(job_request(&fake)).await.unwrap();
    accepted.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn connections_are_renewed_after_connection_max_age() {
    let renewed = connections_over_a_minute(Some(std::time::Duration::from_secs(60))).await;
    assert_eq!(renewed, 2);
    let kept = connections_over_a_minute(None).await;
    assert_eq!(kept, 1);
}
