//! `parallel:matrix`: one job instance per combination of variable values, named as GitLab
//! names them (`build: [aws, monitoring]`), and the same syntax under `needs:parallel`.

use serde_yaml_ng::Value;

use crate::error::{Error, Result};
use crate::yaml;

/// The variables of one matrix instance, in the order the matrix entry lists them.
pub(crate) type Instance = Vec<(String, String)>;

/// GitLab's limit on the jobs one `parallel` keyword may create.
pub(crate) const MAX_JOBS: usize = 200;

/// Parses `matrix` (a list of mappings of variable names to a value or a list of values):
/// each entry is the cartesian product of its values, entries in order.
pub(crate) fn parse(value: &Value, job: &str, location: &str) -> Result<Vec<Instance>> {
    let location = format!("{location}:matrix");
    let invalid = || {
        Error::gitlab(
            &[job, "parallel", "matrix"],
            format!("{location} config should be an array of hashes"),
        )
    };
    let Some(entries) = value.as_sequence().filter(|entries| !entries.is_empty()) else {
        return Err(invalid());
    };
    let mut instances = Vec::new();
    for entry in entries {
        let Some(fields) = entry.as_mapping().filter(|fields| !fields.is_empty()) else {
            return Err(invalid());
        };
        let mut product: Vec<Instance> = vec![Vec::new()];
        for (key, values) in fields {
            let name = yaml::key_str(key);
            let values: Vec<String> = match values {
                Value::Sequence(items) => items.iter().filter_map(yaml::scalar_string).collect(),
                other => yaml::scalar_string(other).into_iter().collect(),
            };
            if values.is_empty() {
                return Err(Error::gitlab(
                    &[job, "parallel", "matrix"],
                    format!(
                        "{location} config variables should be a string or an array of strings"
                    ),
                ));
            }
            product = product
                .into_iter()
                .flat_map(|instance| {
                    let name = &name;
                    values.iter().map(move |value| {
                        let mut next = instance.clone();
                        next.push((name.clone(), value.clone()));
                        next
                    })
                })
                .collect();
        }
        instances.extend(product);
        if instances.len() > MAX_JOBS {
            return Err(Error::gitlab(
                &[job, "parallel", "matrix"],
                format!("{location} config generates too many jobs (maximum is {MAX_JOBS})"),
            ));
        }
    }
    Ok(instances)
}

/// `needs: [{job, parallel: {matrix: [...]}}]`: the instances of the needed job.
pub(crate) fn parse_need(value: &Value, job: &str, location: &str) -> Result<Vec<Instance>> {
    match value.get("matrix") {
        Some(matrix) => parse(matrix, job, &format!("{location}:need:parallel")),
        None => Err(Error::gitlab(
            &[job, "needs"],
            format!("{location}:need:parallel config should contain a matrix"),
        )),
    }
}

/// GitLab's name of a matrix instance: `job: [value1, value2]`.
pub(crate) fn instance_name(job: &str, instance: &Instance) -> String {
    let values: Vec<&str> = instance.iter().map(|(_, value)| value.as_str()).collect();
    format!("{job}: [{}]", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn entries_are_cartesian_products_named_by_their_values() {
        let value = yaml::parse(
            Path::new("t.yml"),
            "[{PROVIDER: aws, STACK: [monitoring, app1]}, {PROVIDER: [gcp, vultr], STACK: data}]",
        )
        .expect("yaml");
        let instances = parse(&value, "deploy", "jobs:deploy:parallel").expect("matrix");
        let names: Vec<String> = instances
            .iter()
            .map(|instance| instance_name("deploy", instance))
            .collect();
        assert_eq!(
            names,
            [
                "deploy: [aws, monitoring]",
                "deploy: [aws, app1]",
                "deploy: [gcp, data]",
                "deploy: [vultr, data]"
            ]
        );
        assert_eq!(instances[1][1], ("STACK".to_owned(), "app1".to_owned()));
    }

    #[test]
    fn more_than_200_jobs_is_refused() {
        let values: Vec<String> = (0..15).map(|n| n.to_string()).collect();
        let list = values.join(", ");
        let text = format!("[{{A: [{list}], B: [{list}]}}]");
        let value = yaml::parse(Path::new("t.yml"), &text).expect("yaml");
        let error = parse(&value, "test", "jobs:test:parallel").expect_err("too many");
        assert!(
            error
                .to_string()
                .contains("generates too many jobs (maximum is 200)"),
            "{error}"
        );
    }
}
