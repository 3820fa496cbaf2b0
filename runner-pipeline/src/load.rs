//! Reading `.gitlab-ci.yml` and its `include: local` files into one merged configuration mapping.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result};
use crate::files::{ProjectFiles, Refs};
use crate::rules;
use crate::source::SourceMap;
use crate::variables;
use crate::warning::Warnings;
use crate::yaml;

/// GitLab's limit on the number of included files per pipeline.
const MAX_INCLUDES: usize = 150;

/// Loads `text` (the content of `path`) and every local include, merged as GitLab merges them:
/// included files in order, then the including file on top (deep merge).
pub(crate) fn load_str(
    project_dir: &Path,
    path: &Path,
    text: &str,
    warnings: &mut Warnings,
    sources: &mut SourceMap,
    pipeline: Option<(&HashMap<String, String>, Refs)>,
) -> Result<Mapping> {
    let (variables, files) = match pipeline {
        Some((variables, refs)) => (
            Some(variables),
            ProjectFiles::new(project_dir).with_refs(refs),
        ),
        None => (None, ProjectFiles::new(project_dir)),
    };
    let mut loader = Loader {
        project_dir,
        files,
        seen: HashSet::new(),
        count: 0,
        warnings,
        sources,
        variables,
    };
    loader.load_document(path, text)
}

/// Reads `path` (relative to `project_dir` unless absolute) then proceeds as [`load_str`].
pub(crate) fn load_file(
    project_dir: &Path,
    path: &Path,
    warnings: &mut Warnings,
    sources: &mut SourceMap,
    pipeline: Option<(&HashMap<String, String>, Refs)>,
) -> Result<Mapping> {
    let full_path = project_dir.join(path);
    let text = std::fs::read_to_string(&full_path).map_err(|source| Error::Read {
        path: full_path.clone(),
        source,
    })?;
    load_str(project_dir, &full_path, &text, warnings, sources, pipeline)
}

struct Loader<'a> {
    project_dir: &'a Path,
    files: ProjectFiles,
    seen: HashSet<PathBuf>,
    /// Includes met so far, duplicates too (they count towards GitLab's limit).
    count: usize,
    warnings: &'a mut Warnings,
    sources: &'a mut SourceMap,
    /// What `include` paths and `include:rules` see; `None` leaves `$VAR` as written.
    variables: Option<&'a HashMap<String, String>>,
}

impl Loader<'_> {
    fn load_document(&mut self, path: &Path, text: &str) -> Result<Mapping> {
        let (mut documents, duplicates) = yaml::parse_documents(path, text)?;
        for key in duplicates {
            self.warnings.push(
                None,
                key,
                format!(
                    "defined more than once in {}, the last definition wins",
                    path.display()
                ),
            );
        }
        let document = match documents.len() {
            0 => Value::Null,
            1 => documents.remove(0),
            // A header document (`spec: inputs`) then the configuration, as CI components use.
            2 if documents[0].get("spec").is_some() => {
                self.warnings.push(
                    None,
                    "spec:inputs",
                    "header not supported locally, inputs are not interpolated",
                );
                documents.remove(1)
            }
            _ => {
                return Err(Error::invalid(
                    path.display().to_string(),
                    "only a `spec` header document may precede the configuration",
                ));
            }
        };
        let mut mapping = match document {
            Value::Mapping(mapping) => mapping,
            Value::Null => Mapping::new(),
            _ => {
                return Err(Error::invalid(
                    path.display().to_string(),
                    "the configuration should be a mapping",
                ));
            }
        };
        let Some(include) = mapping.shift_remove("include") else {
            self.sources.push(path, text);
            return Ok(mapping);
        };
        let mut merged = Mapping::new();
        for local_path in self.local_includes(path, &include)? {
            if let Some(included) = self.load_include(&local_path)? {
                yaml::deep_merge(&mut merged, included);
            }
        }
        yaml::deep_merge(&mut merged, mapping);
        // After its includes: the including file's definitions win, in the merge and here.
        self.sources.push(path, text);
        Ok(merged)
    }

    /// Loads one local include; `None` for a file already included (GitLab ignores the
    /// duplicate but counts it).
    fn load_include(&mut self, relative: &str) -> Result<Option<Mapping>> {
        let location = format!("include:local `{relative}`");
        let trimmed = relative.trim_start_matches('/');
        if Path::new(trimmed)
            .components()
            .any(|part| matches!(part, Component::ParentDir))
        {
            return Err(Error::invalid(
                location,
                "must stay inside the project directory",
            ));
        }
        self.count += 1;
        if self.count > MAX_INCLUDES {
            return Err(Error::invalid(
                "include",
                format!("Maximum of {MAX_INCLUDES} nested includes are allowed!"),
            ));
        }
        let full_path = self.project_dir.join(trimmed);
        if !self.seen.insert(full_path.clone()) {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&full_path).map_err(|source| Error::Read {
            path: full_path.clone(),
            source,
        })?;
        self.load_document(&full_path, &text).map(Some)
    }

    /// `$VAR` in an include path, expanded as GitLab does with the pipeline's variables.
    fn expand(&self, text: &str) -> String {
        match self.variables {
            Some(variables) if text.contains('$') => variables::expand(text, variables),
            _ => text.to_owned(),
        }
    }

    /// The local paths named by an `include` value; other include types produce warnings.
    fn local_includes(&mut self, path: &Path, include: &Value) -> Result<Vec<String>> {
        let entries: Vec<&Value> = match include {
            Value::Sequence(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut locals = Vec::new();
        for entry in entries {
            match entry {
                Value::String(text)
                    if text.starts_with("http://") || text.starts_with("https://") =>
                {
                    self.warnings.push(
                        None,
                        "include:remote",
                        format!("`{text}` is not supported when running locally, skipped"),
                    );
                }
                Value::String(text) => locals.push(text.clone()),
                Value::Mapping(fields) => self.include_entry(fields, &mut locals)?,
                _ => {
                    return Err(Error::invalid(
                        format!("{}: include", path.display()),
                        "entries should be strings or mappings",
                    ));
                }
            }
        }
        let mut paths = Vec::new();
        for local in locals {
            let local = self.expand(&local);
            if local.contains('*') {
                let found = self.files.search_wildcard(&local);
                if found.is_empty() {
                    return Err(Error::invalid(
                        format!("include:local `{local}`"),
                        "does not match any file",
                    ));
                }
                paths.extend(found);
            } else {
                paths.push(local);
            }
        }
        Ok(paths)
    }

    fn include_entry(&mut self, fields: &Mapping, locals: &mut Vec<String>) -> Result<()> {
        if let Some(include_rules) = fields.get("rules") {
            let parsed = rules::parse(include_rules, None, "include:rules", self.warnings)?;
            let empty = HashMap::new();
            let outcome = rules::evaluate(
                &parsed,
                self.variables.unwrap_or(&empty),
                Some(&self.files),
                "include:rules",
            )?;
            if outcome.is_none_or(|outcome| outcome.when == Some(crate::when::When::Never)) {
                return Ok(());
            }
        }
        let remote_kind = ["remote", "template", "project", "component"]
            .into_iter()
            .find(|kind| fields.contains_key(*kind));
        if let Some(kind) = remote_kind {
            let target = fields
                .get(kind)
                .and_then(yaml::scalar_string)
                .unwrap_or_default();
            self.warnings.push(
                None,
                format!("include:{kind}"),
                format!("`{target}` is not supported when running locally, skipped"),
            );
            return Ok(());
        }
        for (key, value) in fields {
            let key = yaml::key_str(key);
            match (key.as_str(), value) {
                ("local", Value::String(local)) => locals.push(local.clone()),
                ("local", _) => {
                    self.warnings
                        .push(None, "include:local", "should be a string, ignored")
                }
                ("rules", _) => {}
                ("inputs", _) => self.warnings.push(
                    None,
                    format!("include:{key}"),
                    "not evaluated locally, the file is included as is",
                ),
                _ => self.warnings.push(
                    None,
                    format!("include:{key}"),
                    "unknown include keyword, ignored",
                ),
            }
        }
        Ok(())
    }
}
