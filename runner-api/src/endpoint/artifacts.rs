//! Artifact upload (`POST jobs/:id/artifacts`) with a `Content-Length`, and download (§14).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use crate::client::Client;
use crate::error::{Error, Result, status_line};
use crate::http::{ApiRequest, BodySource, render_message};
use crate::secret::Token;

/// How many redirects a download follows.
const MAX_REDIRECTS: usize = 10;
/// How much of a failed upload's response body is logged at debug level (C8).
const LOGGED_BODY_LIMIT: usize = 512;

/// An archive to upload.
#[derive(Debug, Clone, Default)]
pub struct ArtifactUpload {
    /// The archive on disk; streamed, never loaded into memory.
    pub path: PathBuf,
    /// `artifacts:name`; its base name names the part's file (`default` when empty).
    pub name: String,
    /// `zip` (also empty), `gzip`, `raw`, `zipzstd`, `tarzstd`.
    pub format: String,
    /// `archive`, `junit`, ...
    pub artifact_type: String,
    /// Expiry, passed through verbatim.
    pub expire_in: String,
}

impl ArtifactUpload {
    /// The multipart file name: base name plus the format's extension.
    pub fn file_name(&self) -> String {
        let base = Path::new(&self.name)
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        let base = if base.is_empty() || base == "." {
            "default"
        } else {
            base
        };
        let extension = match self.format.as_str() {
            "gzip" => ".gz",
            "tarzstd" => ".tar.zst",
            "raw" => "",
            _ => ".zip",
        };
        format!("{base}{extension}")
    }
}

impl Client {
    /// Uploads an artifact archive as multipart part `file`, with an exact
    /// `Content-Length` (never chunked, C7). 413 is [`Error::TooLarge`].
    pub async fn upload_artifacts(
        &self,
        job_id: u64,
        job_token: &Token,
        upload: &ArtifactUpload,
    ) -> Result<()> {
        const ENDPOINT: &str = "upload_artifacts";
        let file_len = tokio::fs::metadata(&upload.path)
            .await
            .map_err(|source| Error::Io {
                path: upload.path.clone(),
                source,
            })?
            .len();
        let mut url = self.endpoint_url(&format!("jobs/{job_id}/artifacts"))?;
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in [
                ("artifact_format", &upload.format),
                ("artifact_type", &upload.artifact_type),
                ("expire_in", &upload.expire_in),
            ] {
                if !value.is_empty() {
                    query.append_pair(key, value);
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let boundary = format!("{:030x}", rand::random::<u128>() >> 8);
        let file_name = upload.file_name().replace('"', "%22");
        let prefix = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        );
        let suffix = format!("\r\n--{boundary}--\r\n");
        let mut request = ApiRequest::new(
            ENDPOINT,
            Method::POST,
            url.clone(),
            self.inner.timeouts.transfer,
        )
        .secret_header("job-token", job_token.expose())?
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )?;
        request.body = BodySource::FileBetween {
            prefix: Bytes::from(prefix),
            path: upload.path.clone(),
            file_len,
            suffix: Bytes::from(suffix),
        };
        let response = self.send(&request).await?;
        let type_label = if upload.artifact_type.is_empty() {
            String::new()
        } else {
            format!(" as \"{}\"", upload.artifact_type)
        };
        if response.status == 201 {
            tracing::info!(
                job = job_id,
                "Uploading artifacts{type_label} to coordinator... 201 Created"
            );
            return Ok(());
        }
        tracing::warn!(job = job_id, url = %url, status = %status_line(response.status),
            "Uploading artifacts{type_label} to coordinator... {}", status_line(response.status));
        let shown = &response.body[..response.body.len().min(LOGGED_BODY_LIMIT)];
        tracing::debug!(headers = ?response.headers, body = %String::from_utf8_lossy(shown), "received response");
        match response.status {
            413 => Err(Error::TooLarge {
                url: url.to_string(),
            }),
            _ => Err(response.into_error(ENDPOINT)),
        }
    }

    /// Downloads a job's artifacts to `destination`, following up to 10 redirects;
    /// `JOB-TOKEN` is only sent to the coordinator's own host. Returns the bytes written.
    ///
    /// With `direct_download`, asks for `?direct_download=true` (object storage redirect);
    /// that first request is not retried by the HTTP layer (§13.1).
    pub async fn download_artifacts(
        &self,
        job_id: u64,
        job_token: &Token,
        destination: &Path,
        direct_download: bool,
    ) -> Result<u64> {
        const ENDPOINT: &str = "download_artifacts";
        let mut url = self.endpoint_url(&format!("jobs/{job_id}/artifacts"))?;
        if direct_download {
            url.set_query(Some("direct_download=true"));
        }
        let coordinator_host = (
            self.inner.base.host_str().map(str::to_owned),
            self.inner.base.port_or_known_default(),
        );
        let mut retry = !direct_download;
        for _hop in 0..=MAX_REDIRECTS {
            let mut request = ApiRequest::new(
                ENDPOINT,
                Method::GET,
                url.clone(),
                self.inner.timeouts.transfer,
            );
            // This loop follows redirects itself: it logs direct downloads and sends the
            // token only to the coordinator.
            request.follow_redirects = false;
            if (
                url.host_str().map(str::to_owned),
                url.port_or_known_default(),
            ) == coordinator_host
            {
                request = request.secret_header("job-token", job_token.expose())?;
            }
            let response = self.send_streaming(&request, retry).await?;
            retry = true;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|value| value.to_str().ok());
                let next = location
                    .and_then(|location| url.join(location).ok())
                    .ok_or_else(|| Error::Redirect {
                        url: url.to_string(),
                    })?;
                if next.host_str() != url.host_str() {
                    tracing::info!(
                        host = next.host_str().unwrap_or(""),
                        "Direct download from {}",
                        next.host_str().unwrap_or("")
                    );
                }
                url = next;
                continue;
            }
            if status != 200 {
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|collected| collected.to_bytes())
                    .unwrap_or_default();
                let message = render_message(&body, status).or_else(|| render_storage_error(&body));
                let error = match status {
                    403 => Error::Forbidden {
                        endpoint: ENDPOINT,
                        message,
                    },
                    404 => Error::NotFound {
                        endpoint: ENDPOINT,
                        message,
                    },
                    _ => Error::Status {
                        endpoint: ENDPOINT,
                        status,
                        message,
                    },
                };
                tracing::warn!(job = job_id, error = %error, "Downloading artifacts from coordinator... failed");
                return Err(error);
            }
            return self
                .stream_to_file(response.into_body(), destination, &request)
                .await;
        }
        Err(Error::Redirect {
            url: url.to_string(),
        })
    }

    async fn stream_to_file(
        &self,
        mut body: hyper::body::Incoming,
        destination: &Path,
        request: &ApiRequest,
    ) -> Result<u64> {
        let io_error = |source| Error::Io {
            path: destination.to_owned(),
            source,
        };
        let mut file = tokio::fs::File::create(destination)
            .await
            .map_err(io_error)?;
        let mut written = 0u64;
        let copy = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|source| Error::Connect {
                    method: "GET".to_owned(),
                    url: request.url.to_string(),
                    source: Box::new(source),
                })?;
                if let Ok(data) = frame.into_data() {
                    file.write_all(&data).await.map_err(io_error)?;
                    written += data.len() as u64;
                }
            }
            file.flush().await.map_err(io_error)?;
            Ok::<u64, Error>(written)
        };
        tokio::time::timeout(request.timeout, copy)
            .await
            .map_err(|_| Error::Timeout {
                method: "GET".to_owned(),
                url: request.url.to_string(),
                after: request.timeout,
            })?
    }
}

/// Pauses between artifact upload tries: 1 s doubling, at most 5 s (§13.2).
const UPLOAD_TRY_BACKOFF: crate::backoff::Backoff = crate::backoff::Backoff::new_const(
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(5),
    2,
);

impl Client {
    /// [`Self::upload_artifacts`] with the helper's retries (§13.2): 3 tries, or 6 when the
    /// last failure was 503, pausing 1, 2, 4, 5, 5 s; 403, 404, 413 and local errors are final.
    pub async fn upload_artifacts_with_retries(
        &self,
        job_id: u64,
        job_token: &Token,
        upload: &ArtifactUpload,
    ) -> Result<()> {
        let mut try_number = 0u32;
        loop {
            let error = match self.upload_artifacts(job_id, job_token, upload).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            try_number += 1;
            let final_error = matches!(
                error,
                Error::TooLarge { .. }
                    | Error::Forbidden { .. }
                    | Error::NotFound { .. }
                    | Error::Io { .. }
                    | Error::Cancelled
            ) || error.is_client_error();
            let limit = if error.is_unavailable() { 6 } else { 3 };
            if final_error || try_number >= limit {
                return Err(error);
            }
            tracing::warn!(job = job_id, error = %error, "Retrying...");
            self.inner
                .clock
                .sleep(UPLOAD_TRY_BACKOFF.delay(try_number - 1, 1.0))
                .await;
        }
    }

    /// [`Self::download_artifacts`] with the helper's retries (§13.2): 3 attempts 1 s apart,
    /// `direct_download` only on the first; 401, 403 and 404 are final.
    pub async fn download_artifacts_with_retries(
        &self,
        job_id: u64,
        job_token: &Token,
        destination: &Path,
        direct_download: bool,
    ) -> Result<u64> {
        let mut attempt = 0u32;
        loop {
            let error = match self
                .download_artifacts(
                    job_id,
                    job_token,
                    destination,
                    direct_download && attempt == 0,
                )
                .await
            {
                Ok(written) => return Ok(written),
                Err(error) => error,
            };
            attempt += 1;
            let final_error = error.is_auth()
                || error.is_not_found()
                || error.status() == Some(401)
                || error.is_cancelled();
            if final_error || attempt >= 3 {
                return Err(error);
            }
            self.inner
                .clock
                .sleep(std::time::Duration::from_secs(1))
                .await;
        }
    }
}

/// Renders an object-storage XML error as `Code: Message`.
fn render_storage_error(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let element = |name: &str| {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_owned())
    };
    Some(format!("{}: {}", element("Code")?, element("Message")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_format() {
        let upload = |name: &str, format: &str| ArtifactUpload {
            name: name.into(),
            format: format.into(),
            ..Default::default()
        };
        assert_eq!(upload("report", "gzip").file_name(), "report.gz");
        assert_eq!(upload("", "").file_name(), "default.zip");
        assert_eq!(upload("dir/bin", "tarzstd").file_name(), "bin.tar.zst");
        assert_eq!(upload(".", "raw").file_name(), "default");
    }

    #[test]
    fn vector_59_storage_xml_is_rendered() {
        let body = b"<Error><Code>SecurityPolicyViolated</Code><Message>Request violates VPC Service Controls</Message></Error>";
        assert_eq!(
            render_storage_error(body).as_deref(),
            Some("SecurityPolicyViolated: Request violates VPC Service Controls")
        );
    }
}
