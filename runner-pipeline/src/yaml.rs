//! YAML helpers shared by the loader and the parsers: parsing with locations, `<<` merge keys,
//! GitLab's deep merge, scalar and list conversions.

use std::path::Path;

use std::cell::RefCell;

use serde::de::DeserializeSeed;
use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result};
use crate::lenient::LenientSeed;

/// Parses a single-document string, for unit tests of the parsers.
#[cfg(test)]
pub(crate) fn parse(path: &Path, text: &str) -> Result<Value> {
    let mut value: Value =
        serde_yaml_ng::from_str(text).map_err(|source| yaml_error(path, source))?;
    apply_merge_keys(&mut value);
    Ok(value)
}

/// Parses every `---`-separated document of a file (a CI file may start with a `spec:` header),
/// turning syntax errors into [`Error::Yaml`] with file, line and column. Repeated keys are
/// accepted, the last one winning as on GitLab, and returned for a warning.
pub(crate) fn parse_documents(path: &Path, text: &str) -> Result<(Vec<Value>, Vec<String>)> {
    let duplicates = RefCell::new(Vec::new());
    let mut documents = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let mut value = LenientSeed {
            duplicates: &duplicates,
        }
        .deserialize(document)
        .map_err(|source| yaml_error(path, source))?;
        apply_merge_keys(&mut value);
        documents.push(value);
    }
    Ok((documents, duplicates.into_inner()))
}

fn yaml_error(path: &Path, source: serde_yaml_ng::Error) -> Error {
    let (line, column) = source
        .location()
        .map_or((0, 0), |at| (at.line(), at.column()));
    Error::Yaml {
        path: path.to_owned(),
        line,
        column,
        source: Box::new(source),
    }
}

/// Resolves YAML `<<` merge keys everywhere, keys of the mapping itself winning.
///
/// Hand-written rather than `Value::apply_merge` so that a merged mapping which itself has a `<<`
/// (anchors built on anchors, common in CI files) is resolved too.
pub(crate) fn apply_merge_keys(value: &mut Value) {
    match value {
        Value::Mapping(mapping) => {
            while let Some(merged) = mapping.shift_remove("<<") {
                let sources = match merged {
                    Value::Sequence(items) => items,
                    other => vec![other],
                };
                for source in sources {
                    if let Value::Mapping(source) = source {
                        for (key, item) in source {
                            if !mapping.contains_key(&key) {
                                mapping.insert(key, item);
                            }
                        }
                    }
                }
            }
            mapping.values_mut().for_each(apply_merge_keys);
        }
        Value::Sequence(items) => items.iter_mut().for_each(apply_merge_keys),
        Value::Tagged(tagged) => apply_merge_keys(&mut tagged.value),
        _ => {}
    }
}

/// GitLab's deep merge: mappings merge key by key, anything else from `overlay` replaces `base`.
pub(crate) fn deep_merge(base: &mut Mapping, overlay: Mapping) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Mapping(existing)), Value::Mapping(incoming)) => {
                deep_merge(existing, incoming)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A scalar as GitLab reads it into a string (numbers and booleans too).
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A string or a list of strings (nested lists flattened, as GitLab does for scripts).
pub(crate) fn string_list(value: &Value, location: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    flatten_into(value, location, 0, &mut out)?;
    Ok(out)
}

fn flatten_into(value: &Value, location: &str, depth: usize, out: &mut Vec<String>) -> Result<()> {
    // GitLab flattens up to 10 levels of nesting (what `!reference` inside lists produces).
    if depth > 10 {
        return Err(Error::invalid(location, "lists nested more than 10 levels"));
    }
    match value {
        Value::Sequence(items) => {
            for item in items {
                flatten_into(item, location, depth + 1, out)?;
            }
            Ok(())
        }
        Value::Null if depth == 0 => Ok(()),
        other => match scalar_string(other) {
            Some(text) => {
                out.push(text);
                Ok(())
            }
            None => Err(Error::invalid(
                location,
                "should be a string or a list of strings",
            )),
        },
    }
}

/// Items of a list whose nested lists (from `!reference`) are flattened, e.g. `rules`.
pub(crate) fn flat_items(value: &Value) -> Vec<&Value> {
    fn walk<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
        match value {
            Value::Sequence(items) => items.iter().for_each(|item| walk(item, out)),
            other => out.push(other),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

/// A boolean keyword.
pub(crate) fn boolean(value: &Value, location: &str) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| Error::invalid(location, "should be a boolean"))
}

/// A string keyword.
pub(crate) fn string(value: &Value, location: &str) -> Result<String> {
    scalar_string(value).ok_or_else(|| Error::invalid(location, "should be a string"))
}

/// The keys of a mapping as strings, for iteration over keywords.
pub(crate) fn key_str(key: &Value) -> String {
    scalar_string(key).unwrap_or_else(|| format!("{key:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        parse(Path::new("t.yml"), text).expect("valid yaml")
    }

    #[test]
    fn merge_keys_resolve_nested_anchors() {
        let value = yaml("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, y: 3}\n");
        assert_eq!(value["c"]["x"], Value::from(1));
        assert_eq!(value["c"]["y"], Value::from(3));
    }

    #[test]
    fn deep_merge_merges_hashes_and_replaces_lists() {
        let mut base = yaml("v: {A: 1, B: 2}\ns: [a, b]\n")
            .as_mapping()
            .cloned()
            .expect("map");
        let overlay = yaml("v: {B: 3}\ns: [c]\n")
            .as_mapping()
            .cloned()
            .expect("map");
        deep_merge(&mut base, overlay);
        assert_eq!(Value::Mapping(base), yaml("v: {A: 1, B: 3}\ns: [c]\n"));
    }

    #[test]
    fn string_list_flattens_nested_lists() {
        let list = string_list(&yaml("[a, [b, [c]], 1]"), "x").expect("list");
        assert_eq!(list, ["a", "b", "c", "1"]);
        assert!(string_list(&yaml("{a: 1}"), "x").is_err());
    }

    #[test]
    fn documents_are_split() {
        let (documents, _) = parse_documents(
            Path::new("t.yml"),
            "spec: {inputs: {}}\n---\njob: {script: x}\n",
        )
        .expect("valid");
        assert_eq!(documents.len(), 2);
        assert_eq!(documents[1]["job"]["script"], "x");
        let error = parse_documents(Path::new("t.yml"), "a: 1\n---\nb: [\n").expect_err("invalid");
        assert_eq!(error.yaml_location().map(|(_, line, _)| line), Some(4));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let error = parse(Path::new("f.yml"), "a: 1\nb: [\n").expect_err("invalid");
        let (path, line, _column) = error.yaml_location().expect("location");
        assert_eq!(path, Path::new("f.yml"));
        assert_eq!(line, 3);
    }
}
