//! `rules` (and `workflow:rules`): the first rule whose clauses all match decides whether and how
//! a job runs, and may add variables.

use std::collections::HashMap;

use serde_yaml_ng::Value;

use crate::error::{Error, Result};
use crate::expr::{self, Expr};
use crate::files::ProjectFiles;
use crate::variables::{self, Variable};
use crate::warning::Warnings;
use crate::when::When;
use crate::yaml;

/// One entry of `rules`.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    condition: Option<(String, Expr)>,
    /// `exists` patterns, unexpanded.
    exists: Option<Vec<String>>,
    /// `changes` patterns, unexpanded, and `compare_to`.
    changes: Option<(Vec<String>, Option<String>)>,
    when: Option<When>,
    allow_failure: Option<bool>,
    variables: Vec<Variable>,
}

/// What the first matching rule decided.
#[derive(Debug, Clone)]
pub(crate) struct RuleOutcome {
    /// The rule's `when`, if it set one.
    pub(crate) when: Option<When>,
    pub(crate) allow_failure: Option<bool>,
    pub(crate) variables: Vec<Variable>,
}

/// Parses a `rules` list; `changes` and `exists` are warned about and treated as matching.
pub(crate) fn parse(
    value: &Value,
    job: Option<&str>,
    location: &str,
    warnings: &mut Warnings,
) -> Result<Vec<Rule>> {
    let key_path: Vec<&str> = match job {
        Some(job) => vec![job, "rules"],
        None => vec!["workflow", "rules"],
    };
    let (parent, _) = location.rsplit_once(':').unwrap_or(("", location));
    let items = yaml::flat_items(value);
    if !value.is_sequence() || items.iter().any(|item| !item.is_mapping()) {
        return Err(Error::gitlab(
            &key_path,
            format!("{parent} rules should be an array containing hashes and arrays of hashes"),
        ));
    }
    if items.is_empty() {
        return Err(Error::gitlab(
            &key_path,
            format!("{location} config can't be blank"),
        ));
    }
    let mut rules = Vec::new();
    for item in items {
        let Some(fields) = item.as_mapping() else {
            continue;
        };
        let mut rule = Rule {
            condition: None,
            exists: None,
            changes: None,
            when: None,
            allow_failure: None,
            variables: Vec::new(),
        };
        for (key, field) in fields {
            let key = yaml::key_str(key);
            let at = format!("{location}:{key}");
            match key.as_str() {
                "if" => {
                    // GitLab's message, whatever is wrong; the detail follows for humans.
                    let invalid = |detail: &str| {
                        Error::gitlab(
                            &key_path,
                            format!("{location}:rule if invalid expression syntax ({detail})"),
                        )
                    };
                    let source = field.as_str().ok_or_else(|| invalid("not a string"))?;
                    let parsed = expr::parse(source)
                        .map_err(|message| invalid(&format!("`{source}`: {message}")))?;
                    rule.condition = Some((source.to_owned(), parsed));
                }
                "when" => rule.when = Some(When::parse(field, &at)?),
                "allow_failure" => rule.allow_failure = Some(yaml::boolean(field, &at)?),
                "variables" => rule.variables = variables::parse_yaml(field, job, &at, warnings)?,
                "exists" => {
                    // `exists: [globs]` or `exists: {paths: [globs]}` (other projects' files
                    // cannot be seen locally).
                    let paths = match field {
                        Value::Mapping(fields) => {
                            if fields.contains_key("project") {
                                warnings.unsupported(job, "rules:exists:project");
                            }
                            fields.get("paths").unwrap_or(&Value::Null)
                        }
                        other => other,
                    };
                    rule.exists = Some(yaml::string_list(paths, &at)?);
                }
                "changes" => {
                    rule.changes = Some(match field {
                        Value::Mapping(fields) => (
                            yaml::string_list(fields.get("paths").unwrap_or(&Value::Null), &at)?,
                            fields
                                .get("compare_to")
                                .map(|reference| yaml::string(reference, &at))
                                .transpose()?,
                        ),
                        other => (yaml::string_list(other, &at)?, None),
                    });
                }
                "needs" | "start_in" | "interruptible" | "auto_cancel" => {
                    warnings.unsupported(job, format!("rules:{key}"));
                }
                _ => warnings.push(job, format!("rules:{key}"), "unknown keyword, ignored"),
            }
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// Evaluates `rules` in order against the (expanded) variables; `None` when no rule matches.
/// `files` answers `exists` (which matches without it).
pub(crate) fn evaluate(
    rules: &[Rule],
    variables: &HashMap<String, String>,
    files: Option<&ProjectFiles>,
    location: &str,
) -> Result<Option<RuleOutcome>> {
    for rule in rules {
        let mut matched = match &rule.condition {
            Some((source, condition)) => condition.evaluate(variables).map_err(|message| {
                Error::invalid(format!("{location}:if"), format!("`{source}`: {message}"))
            })?,
            None => true,
        };
        if let (true, Some(patterns), Some(files)) = (matched, &rule.exists, files) {
            let expanded: Vec<String> = patterns
                .iter()
                .map(|pattern| variables::expand(pattern, variables))
                .collect();
            matched = files.exists(&expanded);
        }
        if let (true, Some((patterns, compare_to)), Some(files)) = (matched, &rule.changes, files) {
            let expanded: Vec<String> = patterns
                .iter()
                .map(|pattern| variables::expand(pattern, variables))
                .collect();
            let compare_to = compare_to
                .as_ref()
                .map(|reference| variables::expand(reference, variables));
            matched = files.changes(&expanded, compare_to.as_deref())?;
        }
        if matched {
            return Ok(Some(RuleOutcome {
                when: rule.when,
                allow_failure: rule.allow_failure,
                variables: rule.variables.clone(),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn outcome(rules: &str, branch: &str) -> Option<RuleOutcome> {
        let value = yaml::parse(Path::new("t.yml"), rules).expect("yaml");
        let mut warnings = Warnings::default();
        let parsed = parse(&value, Some("job"), "jobs:job:rules", &mut warnings).expect("rules");
        let variables = HashMap::from([("BRANCH".to_owned(), branch.to_owned())]);
        evaluate(&parsed, &variables, None, "jobs:job:rules").expect("evaluates")
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = r#"
- if: $BRANCH == "main"
  when: manual
  variables: {DEPLOY: "yes"}
- if: $BRANCH =~ /^feature/
  when: never
- when: on_success
"#;
        let main = outcome(rules, "main").expect("matches");
        assert_eq!(main.when, Some(When::Manual));
        assert_eq!(main.variables[0].value, "yes");
        assert_eq!(
            outcome(rules, "feature/x").expect("matches").when,
            Some(When::Never)
        );
        assert_eq!(
            outcome(rules, "dev").expect("matches").when,
            Some(When::OnSuccess)
        );
    }

    #[test]
    fn no_matching_rule_means_excluded() {
        assert!(outcome("[{if: '$BRANCH == \"main\"'}]", "dev").is_none());
    }

    #[test]
    fn changes_warns_and_matches() {
        let value = yaml::parse(Path::new("t.yml"), "[{changes: [src/**]}]").expect("yaml");
        let mut warnings = Warnings::default();
        let parsed = parse(&value, Some("job"), "r", &mut warnings).expect("rules");
        assert!(warnings.0.is_empty());
        assert!(
            evaluate(&parsed, &HashMap::new(), None, "r")
                .expect("ok")
                .is_some()
        );
    }

    #[test]
    fn bad_expressions_name_the_keyword() {
        let value = yaml::parse(Path::new("t.yml"), "[{if: '$A = 1'}]").expect("yaml");
        let error = parse(
            &value,
            Some("job"),
            "jobs:job:rules",
            &mut Warnings::default(),
        )
        .expect_err("bad");
        assert!(
            error
                .to_string()
                .starts_with("jobs:job:rules:rule if invalid expression syntax (`$A = 1`"),
            "{error}"
        );
    }
}
