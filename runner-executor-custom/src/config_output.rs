//! `config_exec`'s stdout (upstream-details.md §1.4): empty, or one JSON object whose known
//! keys change the job; unknown keys are ignored and `null` means absent.

use std::collections::BTreeMap;

use runner_executor::PreparedJob;
use serde::Deserialize;

use crate::error::Error;

/// The decoded output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct ConfigOutput {
    pub(crate) builds_dir: Option<String>,
    pub(crate) cache_dir: Option<String>,
    pub(crate) builds_dir_is_shared: Option<bool>,
    pub(crate) hostname: Option<String>,
    pub(crate) driver: Option<Driver>,
    pub(crate) job_env: Option<BTreeMap<String, String>>,
    pub(crate) shell: Option<String>,
}

/// `driver`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct Driver {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
}

impl ConfigOutput {
    /// Decodes `stdout`; blank output changes nothing.
    pub(crate) fn parse(stdout: &[u8]) -> Result<Self, Error> {
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        serde_json::from_slice(stdout).map_err(|source| Error::ConfigOutput { source })
    }

    /// The startup line: `Using Custom executor with driver <name> <version>...`.
    pub(crate) fn startup_line(&self) -> String {
        let driver = self.driver.as_ref();
        match (
            driver
                .and_then(|d| d.name.as_deref())
                .filter(|n| !n.is_empty()),
            driver
                .and_then(|d| d.version.as_deref())
                .filter(|v| !v.is_empty()),
        ) {
            (None, _) => "Using Custom executor...".to_owned(),
            (Some(name), None) => format!("Using Custom executor with driver {name}..."),
            (Some(name), Some(version)) => {
                format!("Using Custom executor with driver {name} {version}...")
            }
        }
    }

    /// What the output decides about the job's layout.
    pub(crate) fn prepared_job(&self) -> PreparedJob {
        PreparedJob {
            builds_dir: self.builds_dir.clone(),
            cache_dir: self.cache_dir.clone(),
            shared_builds_dir: self.builds_dir_is_shared,
            hostname: self.hostname.clone(),
            shell: self.shell.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_are_read_and_others_ignored() {
        let output = ConfigOutput::parse(
            br#"{"builds_dir":"/x","builds_dir_is_shared":true,"cache_dir":null,
                 "driver":{"name":"lxd","version":"v1"},"job_env":{"A":"1"},"other":[1]}"#,
        )
        .unwrap();
        assert_eq!(output.builds_dir.as_deref(), Some("/x"));
        assert_eq!(output.cache_dir, None);
        assert_eq!(output.builds_dir_is_shared, Some(true));
        assert_eq!(
            output.startup_line(),
            "Using Custom executor with driver lxd v1..."
        );
        assert_eq!(output.job_env.unwrap()["A"], "1");
    }

    #[test]
    fn startup_lines() {
        let line = |json: &[u8]| ConfigOutput::parse(json).unwrap().startup_line();
        assert_eq!(line(b""), "Using Custom executor...");
        assert_eq!(line(b"{}"), "Using Custom executor...");
        assert_eq!(
            line(br#"{"driver":{"name":"nspawn"}}"#),
            "Using Custom executor with driver nspawn..."
        );
    }

    #[test]
    fn anything_but_an_object_is_an_error() {
        for bad in [&b"not json"[..], b"[1]", b"{} {}"] {
            let error = ConfigOutput::parse(bad).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("error while parsing JSON output"),
                "{error}"
            );
        }
    }
}
