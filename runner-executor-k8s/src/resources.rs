//! Container requests and limits, and the job-variable overwrites capped by
//! `*_overwrite_max_allowed` (executors.md §8.2).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::settings::Resources;

/// Which container family a resource set belongs to: decides the variable and field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// The `build` container: `KUBERNETES_CPU_LIMIT`, field `CPULimit`.
    Build,
    /// The `helper` (and init) containers: `KUBERNETES_HELPER_CPU_LIMIT`, field `HelperCPULimit`.
    Helper,
    /// Service containers: `KUBERNETES_SERVICE_CPU_LIMIT`, field `ServiceCPULimit`.
    Service,
}

impl Family {
    fn variable_prefix(self) -> &'static str {
        match self {
            Self::Build => "KUBERNETES_",
            Self::Helper => "KUBERNETES_HELPER_",
            Self::Service => "KUBERNETES_SERVICE_",
        }
    }

    fn field_prefix(self) -> &'static str {
        match self {
            Self::Build => "",
            Self::Helper => "Helper",
            Self::Service => "Service",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Helper => "helper",
            Self::Service => "service",
        }
    }
}

/// Applies the job's overwrites to `resources` and builds the container's requirements.
/// `lookup` returns a job variable's value. Messages of upstream: `invalid build limits specified:
/// the resource "CPULimit" requested "4" is higher than limit allowed "2"`. Accepted overwrites
/// are returned as notes for the trace (`"CPULimit" overwritten with "2"`).
pub(crate) fn requirements(
    family: Family,
    resources: &Resources,
    lookup: &dyn Fn(&str) -> Option<String>,
    notes: &mut Vec<String>,
) -> Result<Option<ResourceRequirements>, String> {
    let kinds = [
        ("cpu", "CPU", "CPU"),
        ("memory", "MEMORY", "Memory"),
        ("ephemeral-storage", "EPHEMERAL_STORAGE", "EphemeralStorage"),
    ];
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for (is_limit, target) in [(false, &mut requests), (true, &mut limits)] {
        let (suffix, field_suffix, what) = if is_limit {
            ("LIMIT", "Limit", "limits")
        } else {
            ("REQUEST", "Request", "requests")
        };
        for (resource, variable, field) in kinds {
            let (value, max) = pick(resources, resource, is_limit);
            let field_name = format!("{}{field}{field_suffix}", family.field_prefix());
            let overwrite = lookup(&format!("{}{variable}_{suffix}", family.variable_prefix()));
            let chosen = evaluate(&field_name, value, max, overwrite.as_deref(), notes)
                .map_err(|e| format!("invalid {} {what} specified: {e}", family.name()))?;
            if let Some(chosen) = chosen.filter(|v| !v.is_empty()) {
                parse_quantity(&chosen).ok_or_else(|| {
                    format!(
                        "invalid {} {what} specified: parsing resource {chosen:?}",
                        family.name()
                    )
                })?;
                target.insert(resource.to_owned(), Quantity(chosen));
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return Ok(None);
    }
    Ok(Some(ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    }))
}

fn pick<'a>(
    resources: &'a Resources,
    resource: &str,
    is_limit: bool,
) -> (Option<&'a String>, Option<&'a String>) {
    match (resource, is_limit) {
        ("cpu", true) => (
            resources.cpu_limit.as_ref(),
            resources.cpu_limit_overwrite_max_allowed.as_ref(),
        ),
        ("cpu", false) => (
            resources.cpu_request.as_ref(),
            resources.cpu_request_overwrite_max_allowed.as_ref(),
        ),
        ("memory", true) => (
            resources.memory_limit.as_ref(),
            resources.memory_limit_overwrite_max_allowed.as_ref(),
        ),
        ("memory", false) => (
            resources.memory_request.as_ref(),
            resources.memory_request_overwrite_max_allowed.as_ref(),
        ),
        (_, true) => (
            resources.ephemeral_storage_limit.as_ref(),
            resources
                .ephemeral_storage_limit_overwrite_max_allowed
                .as_ref(),
        ),
        (_, false) => (
            resources.ephemeral_storage_request.as_ref(),
            resources
                .ephemeral_storage_request_overwrite_max_allowed
                .as_ref(),
        ),
    }
}

/// One value: the overwrite wins when a cap is configured and the overwrite does not exceed it.
fn evaluate(
    field_name: &str,
    value: Option<&String>,
    max: Option<&String>,
    overwrite: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Option<String>, String> {
    let Some(max) = max.filter(|m| !m.is_empty()) else {
        return Ok(value.cloned());
    };
    let Some(overwrite) = overwrite.filter(|o| !o.is_empty()) else {
        return Ok(value.cloned());
    };
    let max_value =
        parse_quantity(max).ok_or_else(|| format!("parsing resource limit: {max:?}"))?;
    let overwrite_value = parse_quantity(overwrite)
        .ok_or_else(|| format!("parsing resource limit: {overwrite:?}"))?;
    if overwrite_value > max_value {
        return Err(format!(
            "the resource {field_name:?} requested {overwrite:?} is higher than limit allowed {max:?}"
        ));
    }
    notes.push(format!("{field_name:?} overwritten with {overwrite:?}"));
    Ok(Some(overwrite.to_owned()))
}

/// A Kubernetes quantity (`500m`, `1.5`, `2Gi`, `1e3`) as a number, for comparisons only.
pub(crate) fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    (number >= 0.0).then_some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_across_units() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert!(parse_quantity("1G").unwrap() < parse_quantity("1Gi").unwrap());
        assert_eq!(parse_quantity("2e3"), Some(2000.0));
        assert_eq!(parse_quantity("lots"), None);
    }

    #[test]
    fn overwrite_above_the_cap_is_refused_with_upstream_words() {
        let resources = Resources {
            cpu_limit: Some("1".to_owned()),
            cpu_limit_overwrite_max_allowed: Some("2".to_owned()),
            ..Resources::default()
        };
        let lookup = |key: &str| (key == "KUBERNETES_CPU_LIMIT").then(|| "4".to_owned());
        let error = requirements(Family::Build, &resources, &lookup, &mut Vec::new()).unwrap_err();
        assert_eq!(
            error,
            "invalid build limits specified: the resource \"CPULimit\" requested \"4\" is higher than limit allowed \"2\""
        );
    }

    #[test]
    fn overwrite_within_the_cap_wins_and_no_cap_ignores_it() {
        let resources = Resources {
            memory_request: Some("1Gi".to_owned()),
            memory_request_overwrite_max_allowed: Some("4Gi".to_owned()),
            cpu_request: Some("250m".to_owned()),
            ..Resources::default()
        };
        let lookup = |key: &str| match key {
            "KUBERNETES_HELPER_MEMORY_REQUEST" => Some("2Gi".to_owned()),
            "KUBERNETES_HELPER_CPU_REQUEST" => Some("8".to_owned()),
            _ => None,
        };
        let mut notes = Vec::new();
        let result = requirements(Family::Helper, &resources, &lookup, &mut notes)
            .unwrap()
            .unwrap();
        let requests = result.requests.unwrap();
        assert_eq!(requests["memory"].0, "2Gi");
        assert_eq!(requests["cpu"].0, "250m");
        assert!(result.limits.is_none());
        assert_eq!(
            notes,
            vec!["\"HelperMemoryRequest\" overwritten with \"2Gi\"".to_owned()]
        );
    }
}
