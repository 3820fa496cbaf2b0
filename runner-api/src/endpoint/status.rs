//! Reading `Job-Status` and `X-GitLab-Trace-Update-Interval` (§8.3, §8.4), and PUT outcomes.

use std::time::Duration;

use crate::http::ApiResponse;

/// The longest update interval the server may set (15 min).
const MAX_UPDATE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// What a `PUT jobs/:id` answer means (§8.2, first match wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// 200: the update was accepted.
    Ok,
    /// 202: received but not completed; ask again after the interval.
    Accepted,
    /// 412: the log checksum/size did not match; resend the log from 0.
    TraceValidationFailed,
    /// `Job-Status: canceled`/`failed`, 403 or 404: the job is over server-side; stop sending.
    Abort,
}

/// An answer to `PUT jobs/:id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateResponse {
    /// The outcome.
    pub outcome: UpdateOutcome,
    /// `Job-Status: canceling`: graceful cancel requested.
    pub cancel_requested: bool,
    /// A valid `X-GitLab-Trace-Update-Interval`, clamped to 15 min.
    pub update_interval: Option<Duration>,
    /// The HTTP status.
    pub status: u16,
}

/// The job status the coordinator reported in `Job-Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoteStatus {
    Other,
    Canceling,
    Abort,
}

pub(crate) fn remote_status(response: &ApiResponse) -> RemoteStatus {
    match response.header("job-status").map(str::trim) {
        Some("canceling") => RemoteStatus::Canceling,
        Some("canceled" | "failed") => RemoteStatus::Abort,
        _ => RemoteStatus::Other,
    }
}

/// Parses `X-GitLab-Trace-Update-Interval`: positive integer seconds, capped at 15 min.
pub(crate) fn update_interval(response: &ApiResponse) -> Option<Duration> {
    let value = response.header("x-gitlab-trace-update-interval")?;
    match value.trim().parse::<i64>() {
        Ok(seconds) if seconds > 0 => Some(
            Duration::from_secs(u64::try_from(seconds).unwrap_or(u64::MAX))
                .min(MAX_UPDATE_INTERVAL),
        ),
        Ok(_) => None,
        Err(_) => {
            tracing::warn!(
                value,
                "Failed to parse \"X-GitLab-Trace-Update-Interval\" header"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(interval: &str) -> ApiResponse {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-gitlab-trace-update-interval", interval.parse().unwrap());
        ApiResponse {
            status: 202,
            headers,
            body: bytes::Bytes::new(),
        }
    }

    #[test]
    fn vector_36_update_interval_parsing() {
        assert_eq!(
            update_interval(&response("10")),
            Some(Duration::from_secs(10))
        );
        assert_eq!(update_interval(&response("0")), None);
        assert_eq!(update_interval(&response("-10")), None);
        assert_eq!(update_interval(&response("abc")), None);
        assert_eq!(
            update_interval(&response("3600")),
            Some(Duration::from_secs(900))
        );
    }
}
