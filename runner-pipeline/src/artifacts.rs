//! `artifacts` and `cache`: parsed from YAML and rendered as the payload's `artifacts[]` (one
//! archive entry plus one per report, as GitLab's runner presenter does) and `cache[]` (§6.7, §6.8).

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value;

use sha1::{Digest, Sha1};

use crate::error::{Error, Result};
use crate::files::ProjectFiles;
use crate::warning::Warnings;
use crate::yaml;

/// A job's `artifacts`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Artifacts {
    name: Option<String>,
    paths: Option<Vec<String>>,
    exclude: Vec<String>,
    untracked: bool,
    when: Option<String>,
    expire_in: Option<String>,
    /// `(artifact_type, paths)` per report, in file order.
    reports: Vec<(String, Vec<String>)>,
}

/// `key: {files}` (`false`) or `key: {files_commits}` (`true`) and the listed files.
type KeyFiles = (bool, Vec<String>);

/// A job's `cache` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cache {
    key: String,
    /// `key: {files}` (`false`) or `key: {files_commits}` (`true`): the files whose contents
    /// or last commits make the key (`key` is then the prefix).
    key_files: Option<KeyFiles>,
    paths: Vec<String>,
    untracked: bool,
    policy: String,
    when: String,
    fallback_keys: Vec<String>,
}

const WHEN_VALUES: [&str; 3] = ["on_success", "on_failure", "always"];

/// Parses `artifacts`.
pub(crate) fn parse_artifacts(
    value: &Value,
    job: Option<&str>,
    location: &str,
    warnings: &mut Warnings,
) -> Result<Artifacts> {
    let mut artifacts = Artifacts::default();
    let Some(fields) = value.as_mapping() else {
        return Err(Error::invalid(location, "should be a mapping"));
    };
    for (key, item) in fields {
        let key = yaml::key_str(key);
        let at = format!("{location}:{key}");
        match key.as_str() {
            "name" => artifacts.name = Some(yaml::string(item, &at)?),
            "paths" => artifacts.paths = Some(yaml::string_list(item, &at)?),
            "exclude" => artifacts.exclude = yaml::string_list(item, &at)?,
            "untracked" => artifacts.untracked = yaml::boolean(item, &at)?,
            "when" => artifacts.when = Some(when_value(item, &at)?),
            "expire_in" => artifacts.expire_in = Some(yaml::string(item, &at)?),
            "reports" => artifacts.reports = parse_reports(item, &at)?,
            "expose_as" | "public" | "access" => {
                warnings.no_local_effect(job, format!("artifacts:{key}"))
            }
            _ => warnings.push(job, format!("artifacts:{key}"), "unknown keyword, ignored"),
        }
    }
    Ok(artifacts)
}

fn parse_reports(value: &Value, location: &str) -> Result<Vec<(String, Vec<String>)>> {
    let Some(fields) = value.as_mapping() else {
        return Err(Error::invalid(
            location,
            "should be a mapping of report types to paths",
        ));
    };
    let mut reports = Vec::new();
    for (key, item) in fields {
        let key = yaml::key_str(key);
        let at = format!("{location}:{key}");
        if key == "coverage_report" {
            // `coverage_report: {coverage_format: cobertura, path: coverage.xml}` becomes an
            // artifact whose type is the coverage format.
            let format = item
                .get("coverage_format")
                .and_then(Value::as_str)
                .unwrap_or("cobertura");
            let path = item
                .get("path")
                .map(|path| yaml::string_list(path, &at))
                .transpose()?
                .unwrap_or_default();
            reports.push((format.to_owned(), path));
        } else {
            reports.push((key, yaml::string_list(item, &at)?));
        }
    }
    Ok(reports)
}

fn when_value(value: &Value, location: &str) -> Result<String> {
    let when = yaml::string(value, location)?;
    if WHEN_VALUES.contains(&when.as_str()) {
        Ok(when)
    } else {
        Err(Error::invalid(
            location,
            format!(
                "unknown value `{when}`, expected one of {}",
                WHEN_VALUES.join(", ")
            ),
        ))
    }
}

/// GitLab's archive format for each report type (`Ci::JobArtifact::TYPE_AND_FORMAT_PAIRS`).
fn report_format(artifact_type: &str) -> &'static str {
    match artifact_type {
        "junit"
        | "metrics"
        | "dotenv"
        | "cobertura"
        | "jacoco"
        | "cyclonedx"
        | "annotations"
        | "repository_xray"
        | "metrics_referee"
        | "network_referee"
        | "cluster_applications" => "gzip",
        "lsif" => "zip",
        _ => "raw",
    }
}

impl Artifacts {
    /// The payload entries: the archive (when it has paths or untracked) then each report.
    pub(crate) fn to_json(&self) -> Vec<Json> {
        let mut entries = Vec::new();
        let expire_in = self.expire_in.clone().unwrap_or_default();
        if self.paths.is_some() || self.untracked {
            entries.push(json!({
                "name": self.name.clone().unwrap_or_default(),
                "untracked": self.untracked,
                "paths": self.paths.clone().unwrap_or_default(),
                "exclude": self.exclude,
                "when": self.when.clone().unwrap_or_else(|| "on_success".to_owned()),
                "artifact_type": "archive",
                "artifact_format": "zip",
                "expire_in": expire_in,
            }));
        }
        for (artifact_type, paths) in &self.reports {
            entries.push(json!({
                "name": artifact_type,
                "untracked": false,
                "paths": paths,
                "when": "always",
                "artifact_type": artifact_type,
                "artifact_format": report_format(artifact_type),
                "expire_in": expire_in,
            }));
        }
        entries
    }
}

/// Parses `cache`: one mapping or a list of them. `key_path` is where `location` is
/// written (`[job, "cache"]`, `["cache"]`), for GitLab's validation messages.
pub(crate) fn parse_caches(
    value: &Value,
    job: Option<&str>,
    location: &str,
    key_path: &[&str],
    warnings: &mut Warnings,
) -> Result<Vec<Cache>> {
    let items: Vec<&Value> = match value {
        Value::Sequence(_) => yaml::flat_items(value),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| parse_cache(item, job, location, key_path, warnings))
        .collect()
}

fn parse_cache(
    value: &Value,
    job: Option<&str>,
    location: &str,
    key_path: &[&str],
    warnings: &mut Warnings,
) -> Result<Cache> {
    let Some(fields) = value.as_mapping() else {
        return Err(Error::invalid(
            location,
            "should be a mapping or a list of mappings",
        ));
    };
    let mut cache = Cache {
        key: "default".to_owned(),
        key_files: None,
        paths: Vec::new(),
        untracked: false,
        policy: "pull-push".to_owned(),
        when: "on_success".to_owned(),
        fallback_keys: Vec::new(),
    };
    for (key, item) in fields {
        let key = yaml::key_str(key);
        let at = format!("{location}:{key}");
        match key.as_str() {
            "key" => {
                let key_at = [key_path, &["key"]].concat();
                (cache.key, cache.key_files) = parse_key(item, &at, &key_at)?;
            }
            "paths" => {
                if !is_string_list(item) {
                    return Err(Error::gitlab(
                        &[key_path, &["paths"]].concat(),
                        format!("{at} config should be an array of strings"),
                    ));
                }
                cache.paths = yaml::string_list(item, &at)?;
            }
            "untracked" => cache.untracked = yaml::boolean(item, &at)?,
            "policy" => cache.policy = yaml::string(item, &at)?,
            "when" => cache.when = when_value(item, &at)?,
            "fallback_keys" => cache.fallback_keys = yaml::string_list(item, &at)?,
            "unprotect" => warnings.no_local_effect(job, "cache:unprotect"),
            _ => warnings.push(job, format!("cache:{key}"), "unknown keyword, ignored"),
        }
    }
    Ok(cache)
}

/// A YAML list whose items (nested lists flattened) are all strings.
fn is_string_list(value: &Value) -> bool {
    value.is_sequence() && yaml::flat_items(value).iter().all(|item| item.is_string())
}

/// The key, or for `key: {files, prefix}` the prefix and the files.
fn parse_key(
    value: &Value,
    location: &str,
    key_path: &[&str],
) -> Result<(String, Option<KeyFiles>)> {
    let Some(fields) = value.as_mapping() else {
        return Ok((yaml::string(value, location)?, None));
    };
    // `files_commits` (newer GitLab): the same list, keyed by the files' last commits.
    let Some((name, files)) = ["files", "files_commits"]
        .into_iter()
        .find_map(|name| fields.get(name).map(|files| (name, files)))
    else {
        return Err(Error::gitlab(
            key_path,
            format!("{location} config missing required keys: files"),
        ));
    };
    let files_path = [key_path, &[name]].concat();
    if !is_string_list(files) {
        return Err(Error::gitlab(
            &files_path,
            format!("{location}:{name} config should be an array of strings"),
        ));
    }
    match yaml::flat_items(files).len() {
        0 => {
            return Err(Error::gitlab(
                &files_path,
                format!("{location}:{name} config requires at least 1 item"),
            ));
        }
        1 | 2 => {}
        _ => {
            return Err(Error::gitlab(
                &files_path,
                format!("{location}:{name} config has too many items (maximum is 2)"),
            ));
        }
    }
    let prefix = fields
        .get("prefix")
        .map(|prefix| yaml::string(prefix, location))
        .transpose()?
        .unwrap_or_default();
    Ok((
        prefix,
        Some((name == "files_commits", yaml::string_list(files, location)?)),
    ))
}

impl Cache {
    /// The payload entry; `files` computes a `key:files` key (else `<prefix>-default`).
    pub(crate) fn to_json(&self, files: Option<&ProjectFiles>) -> Json {
        let key = match &self.key_files {
            None => self.key.clone(),
            Some((commits, patterns)) => {
                let digest = files
                    .and_then(|files| {
                        if *commits {
                            commits_digest(files, patterns)
                        } else {
                            files_digest(files, patterns)
                        }
                    })
                    .unwrap_or_else(|| "default".to_owned());
                [self.key.as_str(), digest.as_str()]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join("-")
            }
        };
        json!({
            "key": key,
            "untracked": self.untracked,
            "policy": self.policy,
            "paths": self.paths,
            "when": self.when,
            "fallback_keys": self.fallback_keys,
        })
    }
}

/// GitLab's `hash_of_file_contents`: the git blob ids of the files (wildcards expanded,
/// missing files skipped), sorted and deduplicated, joined with `-`, SHA-1 in hex. The
/// files are read as they are now, which is what jobs clone.
fn files_digest(files: &ProjectFiles, patterns: &[String]) -> Option<String> {
    let mut paths: Vec<String> = Vec::new();
    for pattern in patterns.iter().filter(|pattern| !pattern.is_empty()) {
        if pattern.contains('*') {
            paths.extend(files.search_wildcard(pattern));
        } else {
            paths.push(pattern.trim_start_matches('/').to_owned());
        }
    }
    let mut ids: Vec<String> = paths
        .iter()
        .filter_map(|path| std::fs::read(files.dir().join(path)).ok())
        .map(|content| {
            let mut hasher = Sha1::new();
            hasher.update(format!("blob {}\0", content.len()).as_bytes());
            hasher.update(&content);
            hex(&hasher.finalize())
        })
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return None;
    }
    Some(hex(&Sha1::digest(ids.join("-").as_bytes())))
}

/// GitLab's `hash_of_the_latest_changes`: the ids of the last commits touching each file,
/// sorted and deduplicated, joined with `-`, SHA-1 in hex.
fn commits_digest(files: &ProjectFiles, paths: &[String]) -> Option<String> {
    let mut ids: Vec<String> = paths
        .iter()
        .filter(|path| !path.is_empty())
        .filter_map(|path| {
            crate::context::git(files.dir(), &["log", "-1", "--format=%H", "--", path]).ok()
        })
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return None;
    }
    Some(hex(&Sha1::digest(ids.join("-").as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn value(text: &str) -> Value {
        yaml::parse(Path::new("t.yml"), text).expect("yaml")
    }

    #[test]
    fn archive_and_reports_become_separate_entries() {
        let mut warnings = Warnings::default();
        let artifacts = parse_artifacts(
            &value("{paths: [bin/], expire_in: 1 week, reports: {junit: report.xml, coverage_report: {coverage_format: cobertura, path: cov.xml}}}"),
            Some("job"),
            "jobs:job:artifacts",
            &mut warnings,
        )
        .expect("parses");
        let entries = artifacts.to_json();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0]["artifact_type"], "archive");
        assert_eq!(entries[0]["when"], "on_success");
        assert_eq!(
            entries[1],
            json!({"name": "junit", "untracked": false, "paths": ["report.xml"], "when": "always",
            "artifact_type": "junit", "artifact_format": "gzip", "expire_in": "1 week"})
        );
        assert_eq!(entries[2]["artifact_type"], "cobertura");
        assert_eq!(entries[2]["paths"], json!(["cov.xml"]));
    }

    #[test]
    fn reports_only_means_no_archive() {
        let mut warnings = Warnings::default();
        let artifacts = parse_artifacts(
            &value("{reports: {dotenv: build.env}}"),
            None,
            "a",
            &mut warnings,
        )
        .expect("parses");
        assert_eq!(artifacts.to_json().len(), 1);
    }

    #[test]
    fn cache_key_files_warns_and_falls_back() {
        let mut warnings = Warnings::default();
        let caches = parse_caches(
            &value("[{key: {files: [Gemfile.lock], prefix: gems}, paths: [vendor/]}, {paths: [.npm/], policy: pull}]"),
            Some("job"),
            "jobs:job:cache",
            &["job", "cache"],
            &mut warnings,
        )
        .expect("parses");
        assert_eq!(caches[0].to_json(None)["key"], "gems-default");
        assert_eq!(caches[1].to_json(None)["key"], "default");
        assert_eq!(caches[1].to_json(None)["policy"], "pull");
    }
}
