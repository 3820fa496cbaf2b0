//! [`TraceWriter`]: the job log sink every stage writes to; masks secrets and enforces `output_limit`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::job::JobSpec;
use crate::trace::mask::{DEFAULT_TOKEN_PREFIXES, Masker};

/// ANSI codes used by runner messages (executors.md §1.7).
pub(crate) mod ansi {
    /// Bold green.
    pub(crate) const GREEN: &str = "\x1b[32;1m";
    /// Bold cyan.
    pub(crate) const CYAN: &str = "\x1b[36;1m";
    /// Bold red.
    pub(crate) const RED: &str = "\x1b[31;1m";
    /// Yellow.
    pub(crate) const YELLOW: &str = "\x1b[0;33m";
    /// Bold yellow.
    pub(crate) const BOLD_YELLOW: &str = "\x1b[33;1m";
    /// Reset.
    pub(crate) const RESET: &str = "\x1b[0;m";
    /// Erase line.
    pub(crate) const CLEAR: &str = "\x1b[0K";
}

/// Writes the job log: every byte passes the masker, then the `output_limit` check, then goes to
/// the channel the caller reads (the coordinator trace sender, or stdout for local runs).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use runner_executor::TraceWriter;
/// let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
/// let mut trace = TraceWriter::builder(sender).mask_values(["hunter22"]).build();
/// trace.write(b"password: hunter").await;
/// trace.write(b"22\n").await;
/// trace.finish().await;
/// let mut log = Vec::new();
/// while let Some(chunk) = receiver.recv().await {
///     log.extend_from_slice(&chunk);
/// }
/// assert_eq!(log, b"password: [MASKED]\n");
/// # });
/// ```
#[derive(Debug)]
pub struct TraceWriter {
    sender: mpsc::Sender<Bytes>,
    masker: Masker,
    limit: usize,
    written: usize,
    truncated: bool,
    receiver_gone: bool,
    masked: Vec<u8>,
    header_written: bool,
}

/// Configures a [`TraceWriter`].
#[derive(Debug)]
#[must_use]
pub struct TraceWriterBuilder {
    sender: mpsc::Sender<Bytes>,
    values: Vec<String>,
    prefixes: Vec<String>,
    default_prefixes: bool,
    limit: usize,
    header_written: bool,
}

impl TraceWriterBuilder {
    /// Adds values to replace by `[MASKED]` (trimmed; empty ones ignored).
    pub fn mask_values(mut self, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.values.extend(values.into_iter().map(Into::into));
        self
    }

    /// Adds token prefixes (the payload's `features.token_mask_prefixes`).
    pub fn token_prefixes(mut self, prefixes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.prefixes.extend(prefixes.into_iter().map(Into::into));
        self
    }

    /// Whether the default prefixes beyond `glpat-` are masked (`FF_MASK_ALL_DEFAULT_TOKENS`, default true).
    pub fn default_token_prefixes(mut self, enabled: bool) -> Self {
        self.default_prefixes = enabled;
        self
    }

    /// Maximum log size in bytes (default 4096 KiB).
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The log already starts with its `Running with` header (written by
    /// [`write_header`](crate::write_header) through an earlier writer), so
    /// [`run_job`](crate::run_job) does not write it again.
    pub fn header_written(mut self) -> Self {
        self.header_written = true;
        self
    }

    /// Everything [`JobSpec`] says about masking and limits: masked variables (raw and expanded),
    /// the job and dependency tokens, `features.token_mask_prefixes`, `FF_MASK_ALL_DEFAULT_TOKENS`
    /// and `output_limit`.
    pub fn job(self, job: &JobSpec) -> Self {
        let enabled = job
            .feature_flag("FF_MASK_ALL_DEFAULT_TOKENS")
            .unwrap_or(true);
        let limit =
            usize::try_from(job.runner.output_limit_kib.saturating_mul(1024)).unwrap_or(usize::MAX);
        self.mask_values(job.masked_values())
            .token_prefixes(job.features.token_mask_prefixes.iter().cloned())
            .default_token_prefixes(enabled)
            .output_limit(limit)
    }

    /// The writer.
    pub fn build(self) -> TraceWriter {
        let mut prefixes: Vec<&str> = self.prefixes.iter().map(String::as_str).collect();
        if self.default_prefixes {
            prefixes.extend(DEFAULT_TOKEN_PREFIXES);
        } else {
            prefixes.push("glpat-");
        }
        TraceWriter {
            sender: self.sender,
            masker: Masker::new(self.values.iter().map(String::as_str), prefixes),
            limit: self.limit,
            written: 0,
            truncated: false,
            receiver_gone: false,
            masked: Vec::new(),
            header_written: self.header_written,
        }
    }
}

impl TraceWriter {
    /// Starts a writer sending to `sender`: no masked values, default prefixes, 4096 KiB limit.
    pub fn builder(sender: mpsc::Sender<Bytes>) -> TraceWriterBuilder {
        TraceWriterBuilder {
            sender,
            values: Vec::new(),
            prefixes: Vec::new(),
            default_prefixes: true,
            limit: 4096 * 1024,
            header_written: false,
        }
    }

    pub(crate) fn set_header_written(&mut self) {
        self.header_written = true;
    }

    /// Whether the log's `Running with` header was written (see
    /// [`TraceWriterBuilder::header_written`]).
    pub fn header_written(&self) -> bool {
        self.header_written
    }

    /// Writes job output. Bytes that could begin a secret are held back until the next write.
    pub async fn write(&mut self, data: &[u8]) {
        let mut masked = std::mem::take(&mut self.masked);
        masked.clear();
        self.masker.push(data, &mut masked);
        self.emit(&masked).await;
        self.masked = masked;
    }

    /// Releases held-back bytes; use between sources (a stage ended).
    pub async fn flush(&mut self) {
        let mut masked = std::mem::take(&mut self.masked);
        masked.clear();
        self.masker.finish(&mut masked);
        self.emit(&masked).await;
        self.masked = masked;
    }

    /// A plain runner line (`ESC[0K<text>ESC[0;m`).
    pub async fn plain(&mut self, text: &str) {
        self.line(ansi::CLEAR, text).await;
    }

    /// A bold green runner line.
    pub async fn info(&mut self, text: &str) {
        self.line(ansi::GREEN, text).await;
    }

    /// A `WARNING: ` line.
    pub async fn warning(&mut self, text: &str) {
        self.line(&format!("{}WARNING: ", ansi::YELLOW), text).await;
    }

    /// An `ERROR: ` line.
    pub async fn error(&mut self, text: &str) {
        self.line(&format!("{}ERROR: ", ansi::RED), text).await;
    }

    /// Opens section `name` (markers only when `markers` is true) with a bold cyan header.
    pub async fn section_start(&mut self, name: &str, header: &str, markers: bool) {
        if markers {
            self.flush().await;
            let marker = format!("section_start:{}:{name}\r{}", unix_seconds(), ansi::CLEAR);
            self.emit(marker.as_bytes()).await;
        }
        let header = format!(
            "{}{}{header}{}{}\n",
            ansi::CLEAR,
            ansi::CYAN,
            ansi::RESET,
            ansi::RESET
        );
        self.write(header.as_bytes()).await;
    }

    /// Closes section `name`.
    pub async fn section_end(&mut self, name: &str, markers: bool) {
        self.flush().await;
        if markers {
            let marker = format!("section_end:{}:{name}\r{}", unix_seconds(), ansi::CLEAR);
            self.emit(marker.as_bytes()).await;
        }
    }

    /// Bytes sent so far (after masking and truncation).
    pub fn bytes_written(&self) -> usize {
        self.written
    }

    /// Whether `output_limit` was reached.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Flushes held-back bytes and closes the writer.
    pub async fn finish(mut self) {
        self.flush().await;
    }

    async fn line(&mut self, prefix: &str, text: &str) {
        let line = format!("{prefix}{text}{}\n", ansi::RESET);
        self.write(line.as_bytes()).await;
    }

    /// Sends already-masked bytes, applying the size limit.
    async fn emit(&mut self, data: &[u8]) {
        if data.is_empty() || self.truncated {
            return;
        }
        if self.written + data.len() < self.limit {
            self.written += data.len();
            self.send(Bytes::copy_from_slice(data)).await;
            return;
        }
        let mut cut = self.limit.saturating_sub(self.written).min(data.len());
        while cut > 0 && cut < data.len() && (data[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        let mut last = data[..cut].to_vec();
        let notice = format!(
            "\n{}Job's log exceeded limit of {} bytes.\nJob execution will continue but no more output will be collected.{}\n",
            ansi::BOLD_YELLOW,
            self.limit,
            ansi::RESET
        );
        last.extend_from_slice(notice.as_bytes());
        self.written += last.len();
        self.truncated = true;
        self.send(Bytes::from(last)).await;
    }

    async fn send(&mut self, bytes: Bytes) {
        if self.receiver_gone {
            return;
        }
        if self.sender.send(bytes).await.is_err() {
            tracing::debug!("trace receiver closed; dropping further output");
            self.receiver_gone = true;
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(mut receiver: mpsc::Receiver<Bytes>) -> Vec<u8> {
        let mut log = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            log.extend_from_slice(&chunk);
        }
        log
    }

    #[tokio::test]
    async fn output_limit_cuts_and_appends_the_notice_once() {
        let (sender, receiver) = mpsc::channel(64);
        let mut trace = TraceWriter::builder(sender).output_limit(10).build();
        trace.write(b"12345678").await;
        trace.write("ab\u{e9}cd".as_bytes()).await;
        trace.write(b"dropped").await;
        assert!(trace.is_truncated());
        trace.finish().await;
        let log = String::from_utf8(collect(receiver).await).unwrap();
        assert_eq!(
            log,
            "12345678ab\n\x1b[33;1mJob's log exceeded limit of 10 bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n"
        );
    }

    #[tokio::test]
    async fn section_markers_are_not_masked_and_flush_the_masker() {
        let (sender, receiver) = mpsc::channel(64);
        let mut trace = TraceWriter::builder(sender)
            .mask_values(["section_start", "sec"])
            .build();
        trace.write(b"se").await;
        trace.section_start("step_script", "Header", true).await;
        trace.section_end("step_script", true).await;
        trace.finish().await;
        let log = String::from_utf8(collect(receiver).await).unwrap();
        assert!(log.starts_with("sesection_start:"), "{log:?}");
        assert!(
            log.contains(":step_script\r\x1b[0K\x1b[0K\x1b[36;1mHeader\x1b[0;m\x1b[0;m\n"),
            "{log:?}"
        );
        assert!(log.contains("section_end:"), "{log:?}");
    }

    #[tokio::test]
    async fn runner_messages_are_masked() {
        let (sender, receiver) = mpsc::channel(64);
        let mut trace = TraceWriter::builder(sender)
            .mask_values(["Job failed: exit code 1"])
            .build();
        trace.error("Job failed: exit code 1").await;
        trace.finish().await;
        assert_eq!(
            collect(receiver).await,
            b"\x1b[31;1mERROR: [MASKED]\x1b[0;m\n"
        );
    }
}
