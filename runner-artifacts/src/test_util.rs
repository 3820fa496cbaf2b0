//! Real object-store emulators for tests (behind the `test-util` feature): Google's
//! `gcp-storage-emulator` (`scripts/setup-gcs.sh`) and Azure's Azurite
//! (`scripts/setup-azurite.sh`), each on a free loopback port and stopped on drop. Shared by
//! this crate's tests and the end-to-end tests of the binary.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    reason = "test support: a failure is the test's failure"
)]

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Azurite's published development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Its published key.
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A child process listening on a loopback port.
pub struct Emulator {
    child: tokio::process::Child,
    _workspace: tempfile::TempDir,
    pub port: u16,
}

impl Emulator {
    /// `gcp-storage-emulator` in memory, with `bucket` created.
    pub async fn gcs(bucket: &str) -> Self {
        let port = free_port();
        let workspace = tempfile::tempdir().expect("a temp dir for the emulator");
        let child = tokio::process::Command::new("gcp-storage-emulator")
            .args(["start", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--in-memory", "--default-bucket", bucket])
            .current_dir(workspace.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("gcp-storage-emulator is installed (scripts/setup-gcs.sh)");
        Self::ready(child, workspace, port).await
    }

    /// Azurite's blob service with its data in a temporary directory.
    pub async fn azurite() -> Self {
        let port = free_port();
        let workspace = tempfile::tempdir().expect("a temp dir for the emulator");
        let location = workspace.path().to_string_lossy().into_owned();
        let child = tokio::process::Command::new("azurite-blob")
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--location", &location, "--skipApiVersionCheck"])
            .args(["--disableTelemetry", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("azurite-blob is installed (scripts/setup-azurite.sh)");
        Self::ready(child, workspace, port).await
    }

    /// Waits until the port accepts connections (at most 60 s: Node and Python start slowly
    /// on a busy machine).
    async fn ready(
        mut child: tokio::process::Child,
        workspace: tempfile::TempDir,
        port: u16,
    ) -> Self {
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    child,
                    _workspace: workspace,
                    port,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("emulator exited before listening: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("emulator did not listen on port {port}");
    }

    /// Azurite's blob service URL for the development account.
    pub fn azurite_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    /// Creates `container` with an account SAS (`ss=b`, `srt=c`, `sp=c`) signed with the
    /// development key: the string-to-sign of versions 2020-12-06 and later.
    pub async fn create_container(&self, container: &str) {
        let version = "2022-11-02";
        let expiry = "2099-01-01T00:00:00Z";
        let string_to_sign =
            format!("{AZURITE_ACCOUNT}\nc\nb\nc\n\n{expiry}\n\nhttps,http\n{version}\n\n");
        let key = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &BASE64.decode(AZURITE_KEY).unwrap(),
        );
        let signature = BASE64.encode(ring::hmac::sign(&key, string_to_sign.as_bytes()));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("restype", "container")
            .append_pair("sv", version)
            .append_pair("ss", "b")
            .append_pair("srt", "c")
            .append_pair("sp", "c")
            .append_pair("se", expiry)
            .append_pair("spr", "https,http")
            .append_pair("sig", &signature)
            .finish();
        let response = self
            .raw(&format!("PUT /{AZURITE_ACCOUNT}/{container}?{query}"))
            .await;
        assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    }

    /// One request without a body; the whole response as text.
    pub async fn raw(&self, request_line: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let request = format!(
            "{request_line} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
