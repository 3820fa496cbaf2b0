//! Pull policies: parsing, and the effective list of an image (executors.md §7.2, D4).

use std::fmt;

use crate::error::{Error, Result};

/// When an image is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PullPolicy {
    /// Pull every time (upstream's default).
    Always,
    /// Use a local image when there is one.
    IfNotPresent,
    /// Never pull; the image must be present.
    Never,
}

impl PullPolicy {
    /// Parses `always`, `if-not-present` or `never`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "always" => Some(Self::Always),
            "if-not-present" => Some(Self::IfNotPresent),
            "never" => Some(Self::Never),
            _ => None,
        }
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::IfNotPresent => "if-not-present",
            Self::Never => "never",
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Go's `%v` of a string slice without the brackets: items joined by spaces.
pub(crate) fn join(policies: &[PullPolicy]) -> String {
    policies
        .iter()
        .map(|policy| policy.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The policies to try for `image`, in order: the job's list (or the runner's `pull_policy`,
/// default `always`) intersected with `allowed_pull_policies` (default: the runner's list).
pub(crate) fn effective_policies(
    image: &str,
    job_policies: &[String],
    runner_policies: &[String],
    allowed_policies: &[String],
) -> Result<Vec<PullPolicy>> {
    let runner = parse_list(runner_policies, "pull_policy")?;
    let allowed = if allowed_policies.is_empty() {
        if runner.is_empty() {
            vec![PullPolicy::Always]
        } else {
            runner.clone()
        }
    } else {
        parse_list(allowed_policies, "allowed_pull_policies")?
    };
    let (requested, source_name) = if !job_policies.is_empty() {
        let parsed = job_policies
            .iter()
            .map(|value| {
                PullPolicy::parse(value)
                    .ok_or_else(|| Error::config(format!("unsupported pull_policy: \"{value}\"")))
            })
            .collect::<Result<Vec<_>>>()?;
        (parsed, "GitLab pipeline config")
    } else if !runner.is_empty() {
        (runner, "Runner config")
    } else {
        (vec![PullPolicy::Always], "Runner config (default)")
    };
    let effective: Vec<PullPolicy> = requested
        .iter()
        .copied()
        .filter(|policy| allowed.contains(policy))
        .collect();
    if effective.is_empty() {
        return Err(Error::PullPolicyNotAllowed {
            image: image.to_owned(),
            requested: join(&requested),
            source_name,
            allowed: join(&allowed),
        });
    }
    Ok(effective)
}

fn parse_list(values: &[String], key: &str) -> Result<Vec<PullPolicy>> {
    values
        .iter()
        .filter(|value| !value.trim().is_empty())
        .map(|value| {
            PullPolicy::parse(value)
                .ok_or_else(|| Error::config(format!("unsupported {key} config: \"{value}\"")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn default_is_always() {
        assert_eq!(
            effective_policies("a", &[], &[], &[]).unwrap(),
            vec![PullPolicy::Always]
        );
    }

    #[test]
    fn job_list_is_intersected_in_requested_order() {
        let effective = effective_policies(
            "a",
            &strings(&["never", "if-not-present", "always"]),
            &[],
            &strings(&["always", "if-not-present"]),
        )
        .unwrap();
        assert_eq!(
            effective,
            vec![PullPolicy::IfNotPresent, PullPolicy::Always]
        );
    }

    #[test]
    fn disallowed_job_policy_has_the_seed_message() {
        let error = effective_policies(
            "image-name:latest",
            &strings(&["always"]),
            &strings(&["if-not-present"]),
            &strings(&["if-not-present", "never"]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid pull policy for image 'image-name:latest': pull_policy ([always]) defined in GitLab \
             pipeline config is not one of the allowed_pull_policies ([if-not-present never])"
        );
    }

    #[test]
    fn by_default_only_the_runner_list_is_allowed() {
        let error = effective_policies("img", &strings(&["never"]), &[], &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("allowed_pull_policies ([always])"),
            "{error}"
        );
    }

    #[test]
    fn unsupported_values_are_named() {
        let error = effective_policies("img", &[], &strings(&["sometimes"]), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported pull_policy config: \"sometimes\""
        );
        let error = effective_policies("img", &[], &[], &strings(&["x"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported allowed_pull_policies config: \"x\""
        );
    }
}
