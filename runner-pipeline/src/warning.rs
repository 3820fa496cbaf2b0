//! Warnings: keywords that are accepted but unsupported or meaningless when running locally.

use std::fmt;

/// Something in the configuration that is ignored or only partly honoured locally.
///
/// Never silent: every unknown or unsupported keyword produces one, naming the job (when there is
/// one) and the keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    job: Option<String>,
    keyword: String,
    message: String,
}

impl Warning {
    pub(crate) fn new(
        job: Option<&str>,
        keyword: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            job: job.map(str::to_owned),
            keyword: keyword.into(),
            message: message.into(),
        }
    }

    /// The job concerned, if the keyword belongs to one.
    pub fn job(&self) -> Option<&str> {
        self.job.as_deref()
    }

    /// The keyword concerned, e.g. `only` or `cache:key:files`.
    pub fn keyword(&self) -> &str {
        &self.keyword
    }

    /// What happens instead.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.job {
            Some(job) => write!(f, "job `{job}`: `{}`: {}", self.keyword, self.message),
            None => write!(f, "`{}`: {}", self.keyword, self.message),
        }
    }
}

/// Where warnings are collected while parsing; passed down explicitly, never global.
#[derive(Debug, Default)]
pub(crate) struct Warnings(pub(crate) Vec<Warning>);

impl Warnings {
    pub(crate) fn push(
        &mut self,
        job: Option<&str>,
        keyword: impl Into<String>,
        message: impl Into<String>,
    ) {
        let warning = Warning::new(job, keyword, message);
        tracing::debug!(warning = %warning, "pipeline warning");
        self.0.push(warning);
    }

    /// Warns that `keyword` is not supported locally and is ignored.
    pub(crate) fn unsupported(&mut self, job: Option<&str>, keyword: impl Into<String>) {
        self.push(job, keyword, "not supported when running locally, ignored");
    }

    /// Warns that `keyword` is accepted but has no effect locally.
    pub(crate) fn no_local_effect(&mut self, job: Option<&str>, keyword: impl Into<String>) {
        self.push(job, keyword, "accepted, has no effect when running locally");
    }
}
