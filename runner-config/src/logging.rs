//! [`LogLevel`] and [`LogFormat`]: the global `log_level` and `log_format` keys.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A logrus level name, as accepted by upstream's `log_level` (case-insensitive).
///
/// An invalid value fails the load with upstream's message
/// `failed to parse log level: not a valid logrus Level: "<value>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `panic`
    Panic,
    /// `fatal`
    Fatal,
    /// `error`
    Error,
    /// `warning` (also spelled `warn`)
    Warning,
    /// `info`, the default
    Info,
    /// `debug`
    Debug,
    /// `trace`
    Trace,
}

/// A `log_level` value that is not a logrus level.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse log level: not a valid logrus Level: {value:?}")]
pub struct InvalidLogLevel {
    value: String,
}

impl LogLevel {
    /// The canonical name (`warning` for [`LogLevel::Warning`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Fatal => "fatal",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl FromStr for LogLevel {
    type Err = InvalidLogLevel;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "panic" => Ok(Self::Panic),
            "fatal" => Ok(Self::Fatal),
            "error" => Ok(Self::Error),
            "warn" | "warning" => Ok(Self::Warning),
            "info" => Ok(Self::Info),
            "debug" => Ok(Self::Debug),
            "trace" => Ok(Self::Trace),
            _ => Err(InvalidLogLevel {
                value: value.to_owned(),
            }),
        }
    }
}

/// The output format of the runner's own log (`log_format`).
///
/// An invalid value fails the load with `unknown log format "<value>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// `runner`: aligned, colourised text (the default).
    Runner,
    /// `text`: the logrus text format.
    Text,
    /// `json`: one JSON object per line.
    Json,
}

/// A `log_format` value that is not a known format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {value:?}, expected one of: runner, text, json")]
pub struct InvalidLogFormat {
    value: String,
}

impl LogFormat {
    /// The name as written in `config.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Runner => "runner",
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

impl FromStr for LogFormat {
    type Err = InvalidLogFormat;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "runner" => Ok(Self::Runner),
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(InvalidLogFormat {
                value: value.to_owned(),
            }),
        }
    }
}

macro_rules! string_serde {
    ($type:ty, $expecting:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StrVisitor;
                impl Visitor<'_> for StrVisitor {
                    type Value = $type;
                    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                        formatter.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, value: &str) -> Result<$type, E> {
                        value.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(StrVisitor)
            }
        }
    };
}

string_serde!(LogLevel, "a log level such as \"info\" or \"debug\"");
string_serde!(LogFormat, "a log format: \"runner\", \"text\" or \"json\"");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!("DEBUG".parse(), Ok(LogLevel::Debug));
        assert_eq!("warn".parse(), Ok(LogLevel::Warning));
        assert_eq!(
            "verbose".parse::<LogLevel>().unwrap_err().to_string(),
            "failed to parse log level: not a valid logrus Level: \"verbose\""
        );
    }

    #[test]
    fn formats_are_exact() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert!("JSON".parse::<LogFormat>().is_err());
    }
}
