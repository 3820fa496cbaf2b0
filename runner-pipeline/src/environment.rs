//! `environment`: the job's `CI_ENVIRONMENT_*` variables, computed from the expanded name as
//! GitLab computes them (`Gitlab::Slug::Environment`, `Environment#guess_tier`). Nothing is
//! deployed or recorded locally.

use std::collections::HashMap;

use serde_yaml_ng::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::variables::{self, Variable};
use crate::yaml;

/// A job's `environment`, as written (variables not yet expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Environment {
    name: String,
    url: Option<String>,
    action: String,
    tier: Option<String>,
    on_stop: Option<String>,
}

const ACTIONS: [&str; 5] = ["start", "prepare", "stop", "verify", "access"];
const TIERS: [&str; 5] = ["production", "staging", "testing", "development", "other"];

/// Parses `environment: name` or `environment: {name, url, action, deployment_tier, ...}`.
pub(crate) fn parse(value: &Value, location: &str) -> Result<Environment> {
    let Value::Mapping(fields) = value else {
        return Ok(Environment {
            name: yaml::string(value, location)?,
            url: None,
            action: "start".to_owned(),
            tier: None,
            on_stop: None,
        });
    };
    let name = fields
        .get("name")
        .ok_or_else(|| Error::invalid(location, "needs a `name`"))?;
    let string = |key: &str| {
        fields
            .get(key)
            .map(|item| yaml::string(item, &format!("{location}:{key}")))
            .transpose()
    };
    let one_of = |key: &str, allowed: &[&str]| -> Result<Option<String>> {
        match string(key)? {
            Some(found) if !allowed.contains(&found.as_str()) => Err(Error::invalid(
                format!("{location}:{key}"),
                format!("should be one of {}", allowed.join(", ")),
            )),
            other => Ok(other),
        }
    };
    Ok(Environment {
        name: yaml::string(name, location)?,
        url: string("url")?,
        action: one_of("action", &ACTIONS)?.unwrap_or_else(|| "start".to_owned()),
        tier: one_of("deployment_tier", &TIERS)?,
        on_stop: string("on_stop")?,
    })
}

impl Environment {
    /// The name as written.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `action` (`start` when not written).
    pub(crate) fn action(&self) -> &str {
        &self.action
    }

    /// The job `on_stop` names.
    pub(crate) fn on_stop(&self) -> Option<&str> {
        self.on_stop.as_deref()
    }

    /// `CI_ENVIRONMENT_NAME`, `_SLUG`, `_ACTION`, `_TIER` and `_URL` (when set); name and
    /// URL are expanded against `expanded` (the job's other variables), as GitLab does.
    pub(crate) fn variables(&self, expanded: &HashMap<String, String>) -> Vec<Variable> {
        let name = variables::expand(&self.name, expanded);
        let tier = self
            .tier
            .clone()
            .unwrap_or_else(|| guess_tier(&name).to_owned());
        let mut list = vec![
            Variable::public("CI_ENVIRONMENT_NAME", name.clone()),
            Variable::public("CI_ENVIRONMENT_SLUG", slug(&name)),
            Variable::public("CI_ENVIRONMENT_ACTION", self.action.clone()),
            Variable::public("CI_ENVIRONMENT_TIER", tier),
        ];
        if let Some(url) = &self.url {
            list.push(Variable::public(
                "CI_ENVIRONMENT_URL",
                variables::expand(url, expanded),
            ));
        }
        list
    }
}

/// `Gitlab::Slug::Environment`: lowercase `a-z0-9` and `-`, starting with a letter (else
/// `env-` is prepended), dashes squeezed; when that changed the name or is longer than 24,
/// the first 17 characters, a `-` and a 6-character suffix derived from the name (the last
/// 6 base-36 digits of its SHA-256), so different names keep different slugs.
pub(crate) fn slug(name: &str) -> String {
    let replaced: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let prefixed = if replaced.starts_with(|c: char| c.is_ascii_lowercase()) {
        replaced
    } else {
        format!("env-{replaced}")
    };
    let mut squeezed = String::with_capacity(prefixed.len());
    for c in prefixed.chars() {
        if !(c == '-' && squeezed.ends_with('-')) {
            squeezed.push(c);
        }
    }
    if squeezed.len() > 24 || squeezed != name {
        let mut short: String = squeezed.chars().take(17).collect();
        if !short.ends_with('-') {
            short.push('-');
        }
        short.push_str(&suffix(name));
        short
    } else {
        squeezed.trim_end_matches('-').to_owned()
    }
}

/// `Digest::SHA2.hexdigest(name).to_i(16).to_s(36).last(6)`: the digest modulo 36^6 in
/// base 36, six digits.
fn suffix(name: &str) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    const MODULUS: u64 = 36u64.pow(6);
    let remainder = Sha256::digest(name.as_bytes())
        .iter()
        .fold(0u64, |acc, byte| (acc * 256 + u64::from(*byte)) % MODULUS);
    let mut digits = [b'0'; 6];
    let mut rest = remainder;
    for digit in digits.iter_mut().rev() {
        *digit = DIGITS[usize::try_from(rest % 36).unwrap_or(0)];
        rest /= 36;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// `Environment#guess_tier`: the tier GitLab infers from the name without `deployment_tier`.
fn guess_tier(name: &str) -> &'static str {
    let lower = name.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    if has(&["dev", "review", "trunk"]) {
        "development"
    } else if has(&[
        "test", "tst", "int", "accept", "acpt", "qa", "qc", "control", "quality",
    ]) {
        "testing"
    } else if has(&["stag", "stg", "model", "modl", "pre", "demo", "non"]) {
        "staging"
    } else if has(&["prod", "prd", "live"]) {
        "production"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: &str) {
        assert_eq!(slug(name), expected, "{name}");
    }

    #[test]
    fn slugs_follow_gitlab() {
        // Unchanged names stay as they are; anything changed or long gets the suffix.
        check("staging", "staging");
        check("production", "production");
        check(
            "review/feature-x",
            &format!("review-feature-x-{}", suffix("review/feature-x")),
        );
        check(
            "Production",
            &format!("production-{}", suffix("Production")),
        );
        check("1.2", &format!("env-1-2-{}", suffix("1.2")));
        check(
            "a-very-long-environment-name",
            &format!(
                "a-very-long-envir-{}",
                suffix("a-very-long-environment-name")
            ),
        );
        assert_eq!(suffix("review/feature-x").len(), 6);
        assert_ne!(suffix("a"), suffix("b"));
    }

    #[test]
    fn suffix_is_the_digest_in_base_36() {
        // sha256("a") = ca978112...; its value modulo 36^6, in base 36, computed independently.
        assert_eq!(suffix("a"), reference_suffix("a"));
        assert_eq!(
            suffix("review/feature-x"),
            reference_suffix("review/feature-x")
        );
    }

    /// Long division of the hex digest by 36, keeping every base-36 digit.
    fn reference_suffix(name: &str) -> String {
        let mut number: Vec<u32> = Sha256::digest(name.as_bytes())
            .iter()
            .flat_map(|byte| [u32::from(byte >> 4), u32::from(byte & 15)])
            .collect();
        let mut digits = Vec::new();
        while number.iter().any(|&digit| digit != 0) {
            let mut remainder = 0;
            for digit in &mut number {
                let value = remainder * 16 + *digit;
                *digit = value / 36;
                remainder = value % 36;
            }
            digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[remainder as usize]);
        }
        digits.iter().take(6).rev().map(|&c| c as char).collect()
    }

    #[test]
    fn tiers_are_guessed_from_the_name() {
        for (name, tier) in [
            ("review/app", "development"),
            ("qa", "testing"),
            ("integration", "testing"),
            ("staging", "staging"),
            ("pre-prod", "staging"),
            ("production", "production"),
            ("live", "production"),
            ("canary", "other"),
        ] {
            assert_eq!(guess_tier(name), tier, "{name}");
        }
    }
}
