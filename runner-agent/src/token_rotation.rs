//! Automatic rotation of runner authentication tokens (upstream-details.md §4): a runner whose
//! `token_expires_at` is set gets a new token once three quarters of its life have passed,
//! through `POST runners/reset_authentication_token`; the new token and its timestamps are
//! written into `config.toml` (comments and layout kept, `runner-config`'s edits) and the
//! agent reloads at once, so polling carries on with the new token and running jobs (which
//! use their job tokens) never notice.
//!
//! Unlike upstream, which retries a failed reset in a tight loop, a failure is retried with a
//! backoff (1 s doubling to 5 min), and logged each time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use runner_api::Token;
use runner_config::{Config, ConfigDocument, RunnerConfig, RunnerSelector, Secret, Timestamp};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::coordinator;

/// Share of a token's life after which it is rotated (upstream's `TokenResetIntervalFactor`).
const RESET_AFTER_SHARE: (i128, i128) = (3, 4);
/// Backoff after a failed rotation.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// How long to wait for the reload that follows a saved rotation before looking again.
const RELOAD_WAIT: Duration = Duration::from_secs(10);

/// The rotation loop of an agent whose configuration comes from `path`; ends on `stop`, when
/// the configuration channel closes, or when a runner disables rotation.
pub(crate) async fn rotate_tokens(
    path: PathBuf,
    mut updates: watch::Receiver<Arc<Config>>,
    reload: Arc<Notify>,
    system_id: String,
    stop: CancellationToken,
) {
    let mut retry = RETRY_FIRST;
    loop {
        let config = Arc::clone(&updates.borrow_and_update());
        let now = SystemTime::now();
        let Some((index, reset_at)) = next_runner_to_reset(&config, now) else {
            tokio::select! {
                changed = updates.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
            continue;
        };
        let runner = &config.runners[index];
        let wait = reset_at.duration_since(now).unwrap_or(Duration::ZERO);
        tokio::select! {
            () = stop.cancelled() => return,
            changed = updates.changed() => { if changed.is_err() { return } continue }
            () = tokio::time::sleep(wait) => {}
        }
        if runner
            .feature_flag("FF_DISABLE_AUTOMATIC_TOKEN_ROTATION")
            .unwrap_or(false)
        {
            tracing::warn!(
                "Automatic token rotation is disabled for runner: {}-{system_id}. Your token is about to expire",
                runner.short_token()
            );
            return;
        }
        if rotate(&path, runner).await {
            retry = RETRY_FIRST;
            // The saved file must reach the pollers before the next look at the schedule,
            // or the same runner would be rotated again with the token it just gave up.
            reload.notify_one();
            tokio::select! {
                () = stop.cancelled() => return,
                changed = updates.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RELOAD_WAIT) => {}
            }
        } else {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(RETRY_MAX);
        }
    }
}

/// The runner to rotate next and when: the earliest `obtained + ¾ (expires − obtained)` among
/// runners with an expiry (first in file order on ties). An unknown obtained time or an expiry
/// before it means now.
fn next_runner_to_reset(config: &Config, now: SystemTime) -> Option<(usize, SystemTime)> {
    config
        .runners
        .iter()
        .enumerate()
        .filter(|(_, runner)| !runner.token_expires_at.is_zero() && !runner.token.is_empty())
        .map(|(index, runner)| (index, reset_at(runner, now)))
        .min_by_key(|(index, at)| (*at, *index))
}

fn reset_at(runner: &RunnerConfig, now: SystemTime) -> SystemTime {
    let nanos = |time: Timestamp| {
        i128::from(time.unix_seconds()) * 1_000_000_000 + i128::from(time.subsec_nanos())
    };
    if runner.token_obtained_at.is_zero() {
        return SystemTime::UNIX_EPOCH;
    }
    let obtained = nanos(runner.token_obtained_at);
    let life = nanos(runner.token_expires_at) - obtained;
    if life <= 0 {
        return SystemTime::UNIX_EPOCH;
    }
    let at = obtained + life * RESET_AFTER_SHARE.0 / RESET_AFTER_SHARE.1;
    u64::try_from(at)
        .ok()
        .and_then(|at| SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(at)))
        .unwrap_or(now)
}

/// Resets `runner`'s token and saves it into the file at `path`; whether it worked (the
/// reasons are logged as upstream words them).
async fn rotate(path: &Path, runner: &RunnerConfig) -> bool {
    let token = runner.token.expose();
    let selector = RunnerSelector::Token(token);
    let mut document = match ConfigDocument::open(path) {
        Ok(document) if document.find_runner(&selector).is_some() => document,
        Ok(_) => {
            tracing::error!(
                error = format!(
                    "resetting token for runner: could not find a runner with the token '{}'",
                    runner.short_token()
                ),
                "Failed to load config (token reset)"
            );
            return false;
        }
        Err(error) => {
            tracing::error!(error = %error, "Failed to load config (token reset)");
            return false;
        }
    };
    let client = match coordinator::client(runner, None, CancellationToken::new(), None) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(runner = %runner.short_token(), error = %error, "Resetting runner authentication token... client error");
            return false;
        }
    };
    let response = match client.reset_token(&Token::new(token)).await {
        Ok(response) => response,
        Err(error) => {
            let message = match error.status() {
                Some(403) => "Resetting runner authentication token... failed (check used token)",
                Some(_) => "Resetting runner authentication token... failed",
                None => "Resetting runner authentication token... client error",
            };
            tracing::error!(runner = %runner.short_token(), error = %error, "{message}");
            return false;
        }
    };
    tracing::info!(
        runner = %runner.short_token(),
        "Resetting runner authentication token... succeeded"
    );
    let expires = response
        .token_expires_at
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
        .unwrap_or(Timestamp::ZERO);
    let saved = document
        .update_token(
            &selector,
            &Secret::new(response.token.expose()),
            Timestamp::from_system_time(SystemTime::now()),
            expires,
        )
        .and_then(|()| document.save());
    if let Err(error) = saved {
        tracing::error!(runner = %runner.short_token(), error = %error, "Failed to save config");
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `0` is the zero time (never set), as in the file.
    fn at(seconds: i64) -> Timestamp {
        if seconds == 0 {
            Timestamp::ZERO
        } else {
            Timestamp::from_unix(seconds, 0)
        }
    }

    fn runner(obtained: i64, expires: i64) -> RunnerConfig {
        RunnerConfig {
            token: Secret::new("glrt-abcdefghijkl"),
            token_obtained_at: at(obtained),
            token_expires_at: at(expires),
            ..RunnerConfig::default()
        }
    }

    const HOUR: i64 = 3600;
    const T0: i64 = 1_772_323_200; // 2026-03-01T00:00:00Z

    #[test]
    fn a_token_is_reset_after_three_quarters_of_its_life() {
        // §4.2 example: obtained 2026-03-01, expires 2026-03-31 ⇒ reset 2026-03-23T12:00:00Z.
        let config = Config {
            runners: vec![runner(T0, T0 + 30 * 24 * HOUR)],
            ..Config::default()
        };
        let (index, when) = next_runner_to_reset(&config, SystemTime::now()).unwrap();
        assert_eq!(index, 0);
        let expected =
            SystemTime::UNIX_EPOCH + Duration::from_secs((T0 + 22 * 24 * HOUR + 12 * HOUR) as u64);
        assert_eq!(when, expected);
    }

    #[test]
    fn the_earliest_reset_goes_first_and_runners_without_expiry_never() {
        // §4.6 vector 2: resets due at T+5 h and T+2 h ⇒ the second first.
        let config = Config {
            runners: vec![
                RunnerConfig::default(),
                runner(T0, T0 + 20 * HOUR / 3),
                runner(T0, T0 + 8 * HOUR / 3),
            ],
            ..Config::default()
        };
        assert_eq!(
            next_runner_to_reset(&config, SystemTime::now()).unwrap().0,
            2
        );
        let none = Config {
            runners: vec![runner(T0, 0)],
            ..Config::default()
        };
        assert!(next_runner_to_reset(&none, SystemTime::now()).is_none());
    }

    #[test]
    fn an_unknown_obtained_time_or_an_inverted_life_means_now() {
        let now = SystemTime::now();
        assert_eq!(reset_at(&runner(0, T0), now), SystemTime::UNIX_EPOCH);
        assert_eq!(
            reset_at(&runner(T0, T0 - HOUR), now),
            SystemTime::UNIX_EPOCH
        );
    }
}
