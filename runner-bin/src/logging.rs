//! The process log: upstream's three formats (`runner`, `text`, `json`) on stderr.
//!
//! Libraries only emit `tracing` events; this module installs the one subscriber.
//! The `runner` format reproduces upstream's layout (cli.md 1.2) so that log lines
//! users grep for (`Checking for jobs... received`) look the same. Tokens never reach
//! this layer: the library crates keep them in redacted types and never log them.

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Layout of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogFormat {
    /// Upstream's default: coloured prefix, message padded to 50 columns, sorted fields.
    #[default]
    Runner,
    /// logfmt-style `time=... level=... msg=...` lines.
    Text,
    /// One JSON object per line with `level`, `msg`, `time` and the fields.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "runner" => Ok(Self::Runner),
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}; expected runner, text or json"
            )),
        }
    }
}

/// Parses upstream's level names (`debug`, `info`, `warn`/`warning`, `error`, `fatal`,
/// `panic`, `trace`); `fatal` and `panic` log errors only.
pub(crate) fn parse_level(text: &str) -> Result<Level, String> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::TRACE),
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" | "warning" => Ok(Level::WARN),
        "error" | "fatal" | "panic" => Ok(Level::ERROR),
        other => Err(format!("not a valid logrus Level: {other:?}")),
    }
}

/// Called for every warning and error logged, once set with [`count_problems_with`]:
/// upstream counts them in `gitlab_runner_errors_total{level}`.
static PROBLEM_COUNTER: OnceLock<Box<dyn Fn(Level) + Send + Sync>> = OnceLock::new();

/// Routes every logged warning and error to `counter` (the metrics of `run`). Only the first
/// call takes effect; the process has one log.
pub(crate) fn count_problems_with(counter: impl Fn(Level) + Send + Sync + 'static) {
    let _ = PROBLEM_COUNTER.set(Box::new(counter));
}

/// Installs the global subscriber. Call once, from the binary only.
pub(crate) fn install(level: Level, format: LogFormat) {
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .event_format(UpstreamFormat { format })
        .finish()
        .with(ProblemCounter);
    // A second installation (tests calling the CLI in-process) is harmless to ignore.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Feeds [`PROBLEM_COUNTER`] with the level of every warning and error.
struct ProblemCounter;

impl<S: Subscriber> Layer<S> for ProblemCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level <= Level::WARN {
            if let Some(counter) = PROBLEM_COUNTER.get() {
                counter(level);
            }
        }
    }
}

/// The target of errors that end the command, printed as upstream's `logrus.Fatal` lines
/// (`FATAL: ...`, level `fatal`): `tracing::error!(target: FATAL, "...")`.
pub(crate) const FATAL: &str = "fatal";

/// Formats events the way upstream's logrus formatters do.
#[derive(Debug)]
struct UpstreamFormat {
    format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for UpstreamFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = FieldCollector::default();
        event.record(&mut fields);
        fields.pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let level = Severity {
            level: *event.metadata().level(),
            fatal: event.metadata().target() == FATAL,
        };
        let line = match self.format {
            LogFormat::Runner => runner_line(level, &fields),
            LogFormat::Text => text_line(level, &fields),
            LogFormat::Json => json_line(level, &fields),
        };
        writeln!(writer, "{line}")
    }
}

/// A tracing level, with errors that end the command told apart.
#[derive(Debug, Clone, Copy)]
struct Severity {
    level: Level,
    fatal: bool,
}

impl From<Level> for Severity {
    fn from(level: Level) -> Self {
        Self {
            level,
            fatal: false,
        }
    }
}

fn runner_line(severity: Severity, fields: &FieldCollector) -> String {
    let (color, prefix) = match severity.level {
        Level::WARN => ("\x1b[0;33m", "WARNING: "),
        Level::ERROR if severity.fatal => ("\x1b[31;1m", "FATAL: "),
        Level::ERROR => ("\x1b[31;1m", "ERROR: "),
        Level::DEBUG | Level::TRACE => ("\x1b[37;1m", ""),
        Level::INFO => ("", ""),
    };
    let width = 50 - prefix.len();
    let mut line = format!("{color}{prefix}{:<width$}\x1b[0;m ", fields.message);
    for (key, value) in &fields.pairs {
        let _ = write!(line, " {color}{key}\x1b[0;m={}", quote_if_needed(value));
    }
    line
}

fn text_line(level: Severity, fields: &FieldCollector) -> String {
    let mut line = format!(
        "time={:?} level={} msg={:?}",
        now_rfc3339(),
        level_name(level),
        fields.message
    );
    for (key, value) in &fields.pairs {
        let _ = write!(line, " {key}={}", quote_if_needed(value));
    }
    line
}

fn json_line(level: Severity, fields: &FieldCollector) -> String {
    let mut object = serde_json::Map::new();
    for (key, value) in &fields.pairs {
        object.insert(key.clone(), serde_json::Value::String(value.clone()));
    }
    object.insert("level".into(), level_name(level).into());
    object.insert("msg".into(), fields.message.clone().into());
    object.insert("time".into(), now_rfc3339().into());
    serde_json::Value::Object(object).to_string()
}

fn level_name(severity: Severity) -> &'static str {
    if severity.fatal {
        return "fatal";
    }
    match severity.level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warning",
        Level::ERROR => "error",
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn quote_if_needed(value: &str) -> String {
    if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
        format!("{value:?}")
    } else {
        value.to_owned()
    }
}

/// Collects an event's message and fields as strings.
#[derive(Default)]
struct FieldCollector {
    message: String,
    pairs: Vec<(String, String)>,
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.pairs.push((field.name().to_owned(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.pairs
                .push((field.name().to_owned(), format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_errors_are_fatal_lines() {
        let fatal = Severity {
            level: Level::ERROR,
            fatal: true,
        };
        let line = runner_line(fatal, &collected("Please specify user", &[]));
        assert!(line.contains("FATAL: Please specify user"), "{line}");
        let value: serde_json::Value =
            serde_json::from_str(&json_line(fatal, &collected("x", &[]))).unwrap();
        assert_eq!(value["level"], "fatal");
    }

    fn collected(message: &str, pairs: &[(&str, &str)]) -> FieldCollector {
        FieldCollector {
            message: message.to_owned(),
            pairs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn runner_format_pads_message_to_fifty_columns_like_upstream() {
        let line = runner_line(
            Level::INFO.into(),
            &collected("Verifying runner... is alive", &[("runner", "fee9938e")]),
        );
        assert_eq!(
            line,
            format!(
                "{:<50}\x1b[0;m  runner\x1b[0;m=fee9938e",
                "Verifying runner... is alive"
            )
        );
    }

    #[test]
    fn runner_format_prefixes_warnings_and_keeps_total_width() {
        let line = runner_line(Level::WARN.into(), &collected("Running in user-mode.", &[]));
        assert!(line.starts_with("\x1b[0;33mWARNING: Running in user-mode."));
        let padded = line
            .trim_start_matches("\x1b[0;33m")
            .split("\x1b[0;m")
            .next()
            .unwrap_or_default();
        assert_eq!(padded.len(), 50);
    }

    #[test]
    fn json_format_has_upstream_keys() {
        let value: serde_json::Value = serde_json::from_str(&json_line(
            Level::ERROR.into(),
            &collected("boom", &[("job", "7")]),
        ))
        .unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["msg"], "boom");
        assert_eq!(value["job"], "7");
        assert!(value["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn levels_parse_as_logrus_names() {
        assert_eq!(parse_level("warning"), Ok(Level::WARN));
        assert_eq!(parse_level("fatal"), Ok(Level::ERROR));
        assert!(parse_level("loud").is_err());
    }
}
