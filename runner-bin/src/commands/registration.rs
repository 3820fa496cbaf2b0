//! What the registration commands share (register, verify, unregister, reset-token): the
//! mode banner, the runtime, timestamps and the logging of coordinator errors.

use std::time::SystemTime;

use runner_config::Timestamp;

use crate::config_file;

/// The mode banner of cli.md 1.5; `with_run_hint` adds the "start builds" lines.
pub(crate) fn log_mode_banner(with_run_hint: bool) {
    if config_file::is_root() {
        tracing::info!("Running in system-mode.");
    } else {
        tracing::warn!("Running in user-mode.");
        if with_run_hint {
            tracing::warn!("The user-mode requires you to manually start builds processing:");
            tracing::warn!("$ gitlab-runner-rs run");
        }
        tracing::warn!("Use sudo for system-mode:");
        tracing::warn!("$ sudo gitlab-runner-rs...");
    }
    tracing::info!("");
}

/// A current-thread runtime for one command, or `None` after logging why not.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            tracing::error!(error = %error, "could not start the async runtime");
            None
        }
    }
}

/// Now in UTC, truncated to whole seconds as upstream stores `token_obtained_at`.
pub(crate) fn now() -> Timestamp {
    let now = Timestamp::from_system_time(SystemTime::now());
    Timestamp::from_unix(now.unix_seconds(), 0)
}

/// `token_expires_at` from the coordinator's RFC 3339 text; absent or unreadable means
/// "never" (the zero time).
pub(crate) fn expires_at(text: Option<&str>) -> Timestamp {
    text.and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map_or(Timestamp::ZERO, |time| {
            Timestamp::from_unix(time.timestamp(), time.timestamp_subsec_nanos())
        })
}

/// Logs a failure the API client did not log itself (no HTTP answer): `<prefix> client
/// error` before any I/O, `<prefix> failed` otherwise. Answers were logged by the client.
pub(crate) fn log_request_error(prefix: &str, error: &runner_api::Error) {
    if error.status().is_some() {
        return;
    }
    if error.is_client_error() {
        tracing::error!(error = %error, "{prefix} client error");
    } else {
        tracing::error!(error = %error, "{prefix} failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_parses_rfc3339_and_null_means_never() {
        assert_eq!(expires_at(None), Timestamp::ZERO);
        assert_eq!(
            expires_at(Some("2026-03-01T10:15:00Z")).to_string(),
            "2026-03-01T10:15:00Z"
        );
    }
}
