//! `when`: the conditions under which a job runs.

use std::fmt;

use serde_yaml_ng::Value;

use crate::error::{Error, Result};
use crate::yaml;

/// When a job runs, relative to the jobs of earlier stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only when every job of earlier stages succeeded (or was allowed to fail). The default.
    OnSuccess,
    /// Only when a job of an earlier stage failed.
    OnFailure,
    /// Whatever happened before.
    Always,
    /// Only when started by hand: skipped unless named explicitly.
    Manual,
    /// After `start_in`; locally it runs like `on_success`, without waiting.
    Delayed,
    /// Never.
    Never,
}

impl When {
    pub(crate) fn parse(value: &Value, location: &str) -> Result<Self> {
        let text = yaml::string(value, location)?;
        Self::from_keyword(&text)
            .ok_or_else(|| Error::invalid(location, format!("unknown value `{text}`")))
    }

    fn from_keyword(text: &str) -> Option<Self> {
        Some(match text {
            "on_success" => Self::OnSuccess,
            "on_failure" => Self::OnFailure,
            "always" => Self::Always,
            "manual" => Self::Manual,
            "delayed" => Self::Delayed,
            "never" => Self::Never,
            _ => return None,
        })
    }

    /// The keyword as written in `.gitlab-ci.yml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnSuccess => "on_success",
            Self::OnFailure => "on_failure",
            Self::Always => "always",
            Self::Manual => "manual",
            Self::Delayed => "delayed",
            Self::Never => "never",
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
