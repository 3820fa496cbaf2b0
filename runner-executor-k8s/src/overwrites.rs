//! Job-variable overwrites gated by `*_overwrite_allowed` regexes (executors.md §8.2):
//! `KUBERNETES_NAMESPACE_OVERWRITE`, `KUBERNETES_SERVICE_ACCOUNT_OVERWRITE`,
//! `KUBERNETES_POD_LABELS_*`, `KUBERNETES_POD_ANNOTATIONS_*`, `KUBERNETES_NODE_SELECTOR_*` and
//! `KUBERNETES_NODE_TOLERATIONS_*`. An empty regex disables the overwrite. Like Go's
//! `MatchString`, the regex is not anchored.

use std::collections::BTreeMap;

use regex::Regex;
use runner_executor::JobSpec;

use crate::settings::Settings;

/// Splits one overwrite value into a map key and value.
type SplitEntry<'a> = dyn Fn(&str) -> Result<(String, String), String> + 'a;

/// The values after the job's overwrites.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overwritten {
    pub(crate) namespace: String,
    pub(crate) service_account: Option<String>,
    pub(crate) pod_labels: BTreeMap<String, String>,
    pub(crate) pod_annotations: BTreeMap<String, String>,
    pub(crate) node_selector: BTreeMap<String, String>,
    pub(crate) node_tolerations: BTreeMap<String, String>,
}

/// Applies the overwrites of `job` to `settings`; accepted ones are noted for the trace.
pub(crate) fn evaluate(
    settings: &Settings,
    job: &JobSpec,
    notes: &mut Vec<String>,
) -> Result<Overwritten, String> {
    let value_of = |key: &str| {
        job.variables
            .iter()
            .rev()
            .find(|v| v.key == key)
            .map(|v| v.value.clone())
    };
    let namespace = single(
        "Namespace",
        settings.namespace.clone(),
        settings.namespace_overwrite_allowed.as_deref(),
        value_of("KUBERNETES_NAMESPACE_OVERWRITE"),
        notes,
    )?;
    let service_account = single(
        "ServiceAccount",
        settings.service_account.clone().unwrap_or_default(),
        settings.service_account_overwrite_allowed.as_deref(),
        value_of("KUBERNETES_SERVICE_ACCOUNT_OVERWRITE"),
        notes,
    )?;
    let split_pair = |text: &str| {
        text.split_once('=')
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .ok_or_else(|| mismatch(text, "k=v"))
    };
    // `key[=value]:effect`: the map key is `key[=value]`, the value the effect.
    let split_toleration = |text: &str| -> Result<(String, String), String> {
        let (key, effect) = text.split_once(':').unwrap_or((text, ""));
        Ok((key.to_owned(), effect.to_owned()))
    };
    let maps = [
        (
            "PodLabels",
            &settings.pod_labels,
            settings.pod_labels_overwrite_allowed.as_deref(),
            "KUBERNETES_POD_LABELS_",
        ),
        (
            "PodAnnotations",
            &settings.pod_annotations,
            settings.pod_annotations_overwrite_allowed.as_deref(),
            "KUBERNETES_POD_ANNOTATIONS_",
        ),
        (
            "NodeSelector",
            &settings.node_selector,
            settings.node_selector_overwrite_allowed.as_deref(),
            "KUBERNETES_NODE_SELECTOR_",
        ),
    ];
    let mut results = Vec::new();
    for (field, base, regex, prefix) in maps {
        results.push(map(field, base, regex, job, prefix, &split_pair, notes)?);
    }
    let node_tolerations = map(
        "NodeTolerations",
        &settings.node_tolerations,
        settings.node_tolerations_overwrite_allowed.as_deref(),
        job,
        "KUBERNETES_NODE_TOLERATIONS_",
        &split_toleration,
        notes,
    )?;
    let mut results = results.into_iter();
    Ok(Overwritten {
        namespace,
        service_account: Some(service_account).filter(|s| !s.is_empty()),
        pod_labels: results.next().unwrap_or_default(),
        pod_annotations: results.next().unwrap_or_default(),
        node_selector: results.next().unwrap_or_default(),
        node_tolerations,
    })
}

fn mismatch(value: &str, pattern: &str) -> String {
    format!("provided value {value:?} does not match {pattern:?}")
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("error parsing regexp {pattern:?}: {e}"))
}

fn single(
    field: &str,
    value: String,
    regex: Option<&str>,
    overwrite: Option<String>,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    let Some(pattern) = regex.filter(|r| !r.is_empty()) else {
        return Ok(value);
    };
    let Some(overwrite) = overwrite.filter(|o| !o.is_empty()) else {
        return Ok(value);
    };
    if !compile(pattern)?.is_match(&overwrite) {
        return Err(mismatch(&overwrite, pattern));
    }
    notes.push(format!("{field:?} overwritten with {overwrite:?}"));
    Ok(overwrite)
}

fn map(
    field: &str,
    base: &BTreeMap<String, String>,
    regex: Option<&str>,
    job: &JobSpec,
    prefix: &str,
    split: &SplitEntry<'_>,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<String, String>, String> {
    let Some(pattern) = regex.filter(|r| !r.is_empty()) else {
        return Ok(base.clone());
    };
    let compiled = compile(pattern)?;
    let mut values = base.clone();
    for variable in job.variables.iter().filter(|v| v.key.starts_with(prefix)) {
        if !compiled.is_match(&variable.value) {
            return Err(mismatch(&variable.value, pattern));
        }
        let (key, value) = split(&variable.value)?;
        notes.push(format!("{field:?} {key:?} overwritten with {value:?}"));
        values.insert(key, value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_executor::Variable;

    fn job(variables: &[(&str, &str)]) -> JobSpec {
        let mut builder = JobSpec::builder(1, "t");
        for (key, value) in variables {
            builder = builder.variable(Variable::new(*key, *value));
        }
        builder.build()
    }

    #[test]
    fn disabled_overwrites_are_ignored() {
        let settings = Settings {
            namespace: "ci".to_owned(),
            ..Settings::default()
        };
        let result = evaluate(
            &settings,
            &job(&[("KUBERNETES_NAMESPACE_OVERWRITE", "other")]),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(result.namespace, "ci");
    }

    #[test]
    fn allowed_overwrites_apply_and_are_noted() {
        let settings = Settings {
            namespace: "ci".to_owned(),
            namespace_overwrite_allowed: Some("ci-.*".to_owned()),
            pod_labels_overwrite_allowed: Some(".*".to_owned()),
            node_tolerations_overwrite_allowed: Some(".*".to_owned()),
            ..Settings::default()
        };
        let variables = [
            ("KUBERNETES_NAMESPACE_OVERWRITE", "ci-team"),
            ("KUBERNETES_POD_LABELS_1", "team=build"),
            ("KUBERNETES_NODE_TOLERATIONS_1", "gpu=true:NoSchedule"),
        ];
        let mut notes = Vec::new();
        let result = evaluate(&settings, &job(&variables), &mut notes).unwrap();
        assert_eq!(result.namespace, "ci-team");
        assert_eq!(result.pod_labels["team"], "build");
        assert_eq!(result.node_tolerations["gpu=true"], "NoSchedule");
        assert!(
            notes.contains(&"\"Namespace\" overwritten with \"ci-team\"".to_owned()),
            "{notes:?}"
        );
    }

    #[test]
    fn refused_overwrites_use_upstream_words() {
        let settings = Settings {
            namespace_overwrite_allowed: Some("^ci-.*$".to_owned()),
            pod_annotations_overwrite_allowed: Some(".*".to_owned()),
            ..Settings::default()
        };
        let error = evaluate(
            &settings,
            &job(&[("KUBERNETES_NAMESPACE_OVERWRITE", "kube-system")]),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "provided value \"kube-system\" does not match \"^ci-.*$\""
        );
        let error = evaluate(
            &settings,
            &job(&[("KUBERNETES_POD_ANNOTATIONS_1", "novalue")]),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(error, "provided value \"novalue\" does not match \"k=v\"");
    }
}
