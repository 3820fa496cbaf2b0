//! Variables: the payload's `{key, value, public, file, masked, raw}` entries, the YAML forms
//! that produce them, and `$VAR` expansion as the runner performs it (executors.md §2.5).

use std::collections::HashMap;
use std::fmt;

use serde_yaml_ng::Value;

use crate::error::{Error, Result};
use crate::warning::Warnings;
use crate::yaml;

/// One entry of a job's variable list, as sent in the payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Variable {
    /// The name.
    pub key: String,
    /// The value, unexpanded: the runner expands it unless `raw`.
    pub value: String,
    /// Not secret: may be shown and passed to services.
    pub public: bool,
    /// Written to a file whose path becomes the variable's value.
    pub file: bool,
    /// Replaced by `[MASKED]` in the job log.
    pub masked: bool,
    /// Never expanded.
    pub raw: bool,
}

impl Variable {
    /// A public, unmasked variable, as the YAML `variables:` keyword produces.
    pub fn public(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            public: true,
            file: false,
            masked: false,
            raw: false,
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "key": self.key, "value": self.value, "public": self.public,
            "file": self.file, "masked": self.masked, "raw": self.raw,
        })
    }
}

impl fmt::Debug for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.masked {
            "[MASKED]"
        } else {
            self.value.as_str()
        };
        f.debug_struct("Variable")
            .field("key", &self.key)
            .field("value", &value)
            .field("public", &self.public)
            .field("file", &self.file)
            .field("masked", &self.masked)
            .field("raw", &self.raw)
            .finish()
    }
}

/// Parses a `variables:` mapping: `KEY: value` or `KEY: {value, description, expand, options}`.
pub(crate) fn parse_yaml(
    value: &Value,
    job: Option<&str>,
    location: &str,
    warnings: &mut Warnings,
) -> Result<Vec<Variable>> {
    let Some(mapping) = value.as_mapping() else {
        if value.is_null() {
            return Ok(Vec::new());
        }
        return Err(Error::invalid(
            location,
            "should be a mapping of variable names to values",
        ));
    };
    let mut variables = Vec::with_capacity(mapping.len());
    for (key, item) in mapping {
        let key = yaml::key_str(key);
        let item_location = format!("{location}:{key}");
        let variable = match item {
            Value::Mapping(fields) => {
                let mut variable = Variable::public(&key, "");
                for (field, field_value) in fields {
                    match yaml::key_str(field).as_str() {
                        "value" => {
                            variable.value = yaml::scalar_string(field_value).unwrap_or_default()
                        }
                        "expand" => variable.raw = !yaml::boolean(field_value, &item_location)?,
                        "description" => {}
                        "options" => {
                            warnings.no_local_effect(job, format!("variables:{key}:options"))
                        }
                        other => warnings.push(
                            job,
                            format!("variables:{key}:{other}"),
                            "unknown keyword, ignored",
                        ),
                    }
                }
                variable
            }
            Value::Null => Variable::public(&key, ""),
            other => Variable::public(
                &key,
                yaml::scalar_string(other).ok_or_else(|| {
                    Error::invalid(&item_location, "should be a string or {value, description}")
                })?,
            ),
        };
        variables.push(variable);
    }
    Ok(variables)
}

/// Keeps the last occurrence of each key, at the position of that last occurrence.
pub(crate) fn dedup(variables: Vec<Variable>) -> Vec<Variable> {
    let last: HashMap<&str, usize> = variables
        .iter()
        .enumerate()
        .map(|(index, variable)| (variable.key.as_str(), index))
        .collect();
    let keep: Vec<bool> = (0..variables.len())
        .map(|index| last.get(variables[index].key.as_str()) == Some(&index))
        .collect();
    variables
        .into_iter()
        .zip(keep)
        .filter_map(|(variable, keep)| keep.then_some(variable))
        .collect()
}

/// Every variable's value expanded once against the raw list (last definition wins, no
/// recursion, `raw` variables verbatim), as the runner does before running a job.
///
/// ```
/// use runner_pipeline::{Variable, expand_all};
///
/// let list = [Variable::public("HOST", "db"), Variable::public("URL", "pg://$HOST/${HOST}_test")];
/// assert_eq!(expand_all(&list)["URL"], "pg://db/db_test");
/// ```
pub fn expand_all(variables: &[Variable]) -> HashMap<String, String> {
    let raw: HashMap<String, String> = variables
        .iter()
        .map(|variable| (variable.key.clone(), variable.value.clone()))
        .collect();
    let mut expanded = HashMap::with_capacity(raw.len());
    for variable in variables {
        let value = if variable.raw {
            variable.value.clone()
        } else {
            expand(&variable.value, &raw)
        };
        expanded.insert(variable.key.clone(), value);
    }
    expanded
}

/// Expands `$NAME` and `${NAME}` in `text`: unknown names become empty, `$$` is `$`, a `$` not
/// followed by a name stays, positional and special parameters expand to nothing.
///
/// ```
/// use std::collections::HashMap;
///
/// let variables = HashMap::from([("NAME".to_owned(), "world".to_owned())]);
/// assert_eq!(runner_pipeline::expand("hello $NAME, $$5 ${MISSING}!", &variables), "hello world, $5 !");
/// ```
pub fn expand(text: &str, variables: &HashMap<String, String>) -> String {
    runner_core::expand_variables(text, |name| variables.get(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let variables: HashMap<String, String> = [("A", "alpha"), ("B", "$A")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(expand(input, &variables), expected, "{input}");
    }

    #[test]
    fn expansion_rules() {
        check("$A", "alpha");
        check("${A}-x", "alpha-x");
        check("$A_x", "");
        check("$UNKNOWN.", ".");
        check("$$A", "$A");
        check("cost: $ 5", "cost: $ 5");
        check("$1$*$#$?x", "x");
        check("$B", "$A");
        check("end$", "end$");
    }

    #[test]
    fn expand_all_is_one_pass_and_honours_raw() {
        let mut raw = Variable::public("R", "$A");
        raw.raw = true;
        let list = [
            Variable::public("A", "1"),
            Variable::public("B", "$A"),
            Variable::public("C", "$B"),
            raw,
        ];
        let expanded = expand_all(&list);
        assert_eq!(expanded["B"], "1");
        assert_eq!(expanded["C"], "$A");
        assert_eq!(expanded["R"], "$A");
    }

    #[test]
    fn dedup_keeps_last_occurrence() {
        let list = vec![
            Variable::public("A", "1"),
            Variable::public("B", "2"),
            Variable::public("A", "3"),
        ];
        let kept: Vec<(String, String)> =
            dedup(list).into_iter().map(|v| (v.key, v.value)).collect();
        assert_eq!(
            kept,
            [
                ("B".to_owned(), "2".to_owned()),
                ("A".to_owned(), "3".to_owned())
            ]
        );
    }

    #[test]
    fn masked_values_are_redacted_in_debug() {
        let mut secret = Variable::public("TOKEN", "hunter2");
        secret.masked = true;
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
