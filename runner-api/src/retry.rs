//! Which responses are retried and how long to wait before the next attempt (§13.1, C2–C4).

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// The longest server-supplied wait honoured (Beyond: the reference does not cap).
pub(crate) const MAX_SERVER_WAIT: Duration = Duration::from_secs(15 * 60);

/// Attempts for retriable statuses other than 429: the first plus 4 retries (§13.1).
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// Attempts for 429: the first plus at most 5 retries (seed C3 wins over the reference's 5 in total).
pub(crate) const MAX_ATTEMPTS_RATE_LIMITED: u32 = 6;

/// Whether a status is retried by the HTTP layer: 408, 429, 500, 502, 503, 504 and ≥ 512.
pub(crate) fn is_retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504) || status >= 512
}

/// The wait the server asked for: `RateLimit-ResetTime` in the future, else a positive
/// `Retry-After`; `None` means "use the backoff". Header names are case-insensitive
/// (`HeaderMap` lowercases them). Unparsable values are logged and skipped.
pub(crate) fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(value) = headers.get("ratelimit-resettime") {
        let text = value.to_str().unwrap_or("");
        match parse_rate_limit_reset(text) {
            Some(reset) => {
                if let Ok(wait) = reset.duration_since(now) {
                    if !wait.is_zero() {
                        return Some(wait.min(MAX_SERVER_WAIT));
                    }
                }
            }
            None => tracing::warn!(
                header = "RateLimit-ResetTime",
                headerValue = text,
                "Couldn't parse rate limit header"
            ),
        }
    }
    if let Some(value) = headers.get("retry-after") {
        let text = value.to_str().unwrap_or("");
        match parse_retry_after(text) {
            Ok(Some(wait)) => return Some(wait.min(MAX_SERVER_WAIT)),
            Ok(None) => {}
            Err(()) => tracing::warn!(
                header = "Retry-After",
                headerValue = text,
                "Couldn't parse retry after header"
            ),
        }
    }
    None
}

/// Parses an RFC 1123 date with an alphabetic zone (`Wed, 21 Oct 2015 07:28:00 GMT`).
/// Any alphabetic zone is read as UTC; numeric offsets and other date forms are rejected.
pub(crate) fn parse_rate_limit_reset(value: &str) -> Option<SystemTime> {
    let value = value.trim();
    let (date, zone) = value.rsplit_once(' ')?;
    if zone.is_empty() || !zone.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return None;
    }
    if date.as_bytes().get(3) != Some(&b',') {
        return None;
    }
    httpdate::parse_http_date(&format!("{date} GMT")).ok()
}

/// Parses `Retry-After` as whole seconds: `Ok(Some)` when positive, `Ok(None)` when
/// zero or negative, `Err` when not an integer.
pub(crate) fn parse_retry_after(value: &str) -> Result<Option<Duration>, ()> {
    let seconds: i64 = value.trim().parse().map_err(|_| ())?;
    Ok(u64::try_from(seconds)
        .ok()
        .filter(|seconds| *seconds > 0)
        .map(Duration::from_secs))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn retriable_statuses() {
        for status in [408, 429, 500, 502, 503, 504, 512, 515, 599] {
            assert!(is_retriable_status(status), "{status}");
        }
        for status in [200, 302, 400, 401, 403, 404, 409, 413, 416, 501, 505, 511] {
            assert!(!is_retriable_status(status), "{status}");
        }
    }

    #[test]
    fn reset_time_wins_then_retry_after() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:27:58 GMT").unwrap();
        let future = headers(&[
            ("RateLimit-ResetTime", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Retry-After", "30"),
        ]);
        assert_eq!(server_wait(&future, now), Some(Duration::from_secs(2)));
        let later = now + Duration::from_secs(3600);
        assert_eq!(server_wait(&future, later), Some(Duration::from_secs(30)));
        let numeric_zone = headers(&[("ratelimit-resettime", "Wed, 21 Oct 2015 07:28:00 +0000")]);
        assert_eq!(server_wait(&numeric_zone, now), None);
        let retry_date = headers(&[("RETRY-AFTER", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(server_wait(&retry_date, now), None);
        assert_eq!(server_wait(&headers(&[("Retry-After", "0")]), now), None);
        assert_eq!(server_wait(&headers(&[("Retry-After", "-3")]), now), None);
        assert_eq!(
            server_wait(&headers(&[("Retry-After", "999999")]), now),
            Some(MAX_SERVER_WAIT)
        );
    }

    proptest! {
        #[test]
        fn header_parsing_never_panics(value in ".*") {
            let _ = parse_rate_limit_reset(&value);
            let _ = parse_retry_after(&value);
        }

        #[test]
        fn valid_dates_round_trip(seconds in 0u64..4_000_000_000) {
            let time = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
            let formatted = httpdate::fmt_http_date(time);
            prop_assert_eq!(parse_rate_limit_reset(&formatted), Some(time));
        }

        #[test]
        fn retry_after_round_trips(seconds in 1u64..1_000_000_000) {
            prop_assert_eq!(parse_retry_after(&seconds.to_string()), Ok(Some(Duration::from_secs(seconds))));
        }
    }
}
