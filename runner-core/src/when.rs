//! `when` of a step, an artifact or a cache entry: after success, after failure, or always.
//! (A pipeline job's `when` has more values and lives in `runner-pipeline`.)

/// When a step, artifact or cache entry applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum When {
    /// Only when the job succeeded so far (`on_success`, also the empty string).
    #[default]
    OnSuccess,
    /// Only when the job failed.
    OnFailure,
    /// Always.
    Always,
}

impl When {
    /// Parses `on_success` (also empty), `on_failure` and `always`; anything else is `None`.
    ///
    /// ```
    /// use runner_core::When;
    /// assert_eq!(When::parse(""), Some(When::OnSuccess));
    /// assert_eq!(When::parse("sometimes"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "on_success" => Some(Self::OnSuccess),
            "on_failure" => Some(Self::OnFailure),
            "always" => Some(Self::Always),
            _ => None,
        }
    }

    /// A payload's value, where an unknown one reads as `on_success` (as upstream's runner).
    pub fn from_payload(text: &str) -> Self {
        Self::parse(text).unwrap_or_default()
    }

    /// The keyword: `on_success`, `on_failure`, `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnSuccess => "on_success",
            Self::OnFailure => "on_failure",
            Self::Always => "always",
        }
    }

    /// Whether the entry applies after a job that succeeded (`true`) or failed so far.
    ///
    /// ```
    /// use runner_core::When;
    /// assert!(When::OnSuccess.applies(true) && !When::OnSuccess.applies(false));
    /// assert!(When::OnFailure.applies(false) && When::Always.applies(false));
    /// ```
    pub fn applies(self, job_succeeded: bool) -> bool {
        match self {
            Self::OnSuccess => job_succeeded,
            Self::OnFailure => !job_succeeded,
            Self::Always => true,
        }
    }
}
