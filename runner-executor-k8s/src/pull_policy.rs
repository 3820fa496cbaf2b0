//! Pull policies per container and the `allowed_pull_policies` check (K9, same words as Docker's D4).

use crate::error::{Error, Result};

/// The policies a container uses, in Kubernetes spelling (`Always`, `IfNotPresent`, `Never`);
/// an empty string is the cluster default.
pub(crate) fn effective_pull_policies(
    image: &str,
    job_policies: &[String],
    config_policies: &[String],
    allowed_policies: &[String],
) -> Result<Vec<String>> {
    let config = normalize_all(config_policies, "pull_policy config")?;
    let allowed = if allowed_policies.is_empty() {
        config.clone()
    } else {
        normalize_all(allowed_policies, "allowed_pull_policies config")?
    };
    let (requested, source) = if job_policies.is_empty() {
        (config.clone(), "Runner config")
    } else {
        (
            normalize_all(job_policies, "pull_policy")?,
            "GitLab pipeline config",
        )
    };
    if requested.is_empty() {
        return Ok(vec![String::new()]);
    }
    let effective: Vec<String> = requested
        .iter()
        .filter(|p| allowed.contains(p))
        .cloned()
        .collect();
    if effective.is_empty() {
        return Err(Error::Configuration(format!(
            "invalid pull policy for image '{image}': pull_policy ([{}]) defined in {source} is not one of the allowed_pull_policies ([{}])",
            requested.join(" "),
            allowed.join(" ")
        )));
    }
    Ok(effective)
}

fn normalize_all(values: &[String], what: &str) -> Result<Vec<String>> {
    values
        .iter()
        .map(|value| {
            normalize(value).map(str::to_owned).ok_or_else(|| {
                Error::Configuration(format!("{what}: unsupported pull policy: {value:?}"))
            })
        })
        .collect()
}

/// Config or payload spelling to Kubernetes spelling.
fn normalize(value: &str) -> Option<&'static str> {
    match value.trim().to_ascii_lowercase().as_str() {
        "always" => Some("Always"),
        "if-not-present" | "ifnotpresent" => Some("IfNotPresent"),
        "never" => Some("Never"),
        "" => Some(""),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn job_policy_outside_the_allowed_list_is_the_seed_message() {
        let error = effective_pull_policies(
            "image-name:latest",
            &strings(&["always"]),
            &[],
            &strings(&["if-not-present"]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid pull policy for image 'image-name:latest': pull_policy ([Always]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([IfNotPresent])"
        );
        assert!(error.is_configuration());
    }

    #[test]
    fn job_policy_with_nothing_allowed_prints_an_empty_list() {
        let error = effective_pull_policies("image-name:latest", &strings(&["always"]), &[], &[])
            .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("is not one of the allowed_pull_policies ([])"),
            "{error}"
        );
    }

    #[test]
    fn defaults_and_intersections() {
        assert_eq!(
            effective_pull_policies("a", &[], &[], &[]).unwrap(),
            vec![String::new()]
        );
        assert_eq!(
            effective_pull_policies(
                "a",
                &strings(&["always", "if-not-present"]),
                &strings(&["if-not-present"]),
                &strings(&["if-not-present", "always"])
            )
            .unwrap(),
            strings(&["Always", "IfNotPresent"])
        );
        assert_eq!(
            effective_pull_policies("a", &[], &strings(&["never"]), &[]).unwrap(),
            strings(&["Never"])
        );
        let bad = effective_pull_policies("a", &[], &strings(&["sometimes"]), &[]).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "pull_policy config: unsupported pull policy: \"sometimes\""
        );
    }
}
