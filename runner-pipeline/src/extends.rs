//! `extends`: a job inherits from other (often hidden) jobs, multi-level, merged as GitLab does.
//!
//! The bases are deep-merged in the order listed (later wins), then the job's own keys on top:
//! hashes merge key by key, anything else (lists included) is replaced.

use std::collections::HashMap;

use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result};
use crate::yaml;

/// GitLab's limit on the depth of `extends` chains.
const MAX_DEPTH: usize = 11;

/// Replaces every top-level entry having `extends` by its fully merged form.
pub(crate) fn resolve_extends(config: &mut Mapping) -> Result<()> {
    let names: Vec<String> = config
        .iter()
        .filter(|(_, value)| {
            value
                .as_mapping()
                .is_some_and(|job| job.contains_key("extends"))
        })
        .map(|(key, _)| yaml::key_str(key))
        .collect();
    let original = config.clone();
    let mut resolver = Resolver {
        original: &original,
        done: HashMap::new(),
        stack: Vec::new(),
    };
    for name in names {
        let merged = resolver.resolve(&name)?;
        config.insert(Value::String(name), Value::Mapping(merged));
    }
    Ok(())
}

struct Resolver<'a> {
    original: &'a Mapping,
    done: HashMap<String, Mapping>,
    stack: Vec<String>,
}

impl Resolver<'_> {
    fn resolve(&mut self, name: &str) -> Result<Mapping> {
        if let Some(done) = self.done.get(name) {
            return Ok(done.clone());
        }
        let location = |job: &str| format!("jobs:{job}:extends");
        if self.stack.iter().any(|open| open == name) {
            let chain = [self.stack.as_slice(), &[name.to_owned()]]
                .concat()
                .join(" -> ");
            return Err(Error::invalid(
                location(&self.stack[0]),
                format!("circular dependency detected: {chain}"),
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::invalid(
                location(&self.stack[0]),
                format!("nested more than {MAX_DEPTH} levels"),
            ));
        }
        let Some(job) = self.original.get(name).and_then(Value::as_mapping) else {
            let from = self
                .stack
                .last()
                .cloned()
                .unwrap_or_else(|| name.to_owned());
            return Err(Error::invalid(
                location(&from),
                format!("unknown job `{name}`"),
            ));
        };
        let Some(extends) = job.get("extends") else {
            return Ok(job.clone());
        };
        let bases = yaml::string_list(extends, &location(name))?;
        self.stack.push(name.to_owned());
        let mut merged = Mapping::new();
        for base in &bases {
            let resolved = self.resolve(base)?;
            yaml::deep_merge(&mut merged, resolved);
        }
        self.stack.pop();
        let mut own = job.clone();
        own.shift_remove("extends");
        yaml::deep_merge(&mut merged, own);
        self.done.insert(name.to_owned(), merged.clone());
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn resolved(text: &str) -> Result<Mapping> {
        let mut config = yaml::parse(Path::new("t.yml"), text)?
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        resolve_extends(&mut config)?;
        Ok(config)
    }

    #[test]
    fn later_bases_win_and_own_keys_win_last() {
        let config = resolved(
            ".a: {script: [a], variables: {X: a, Y: a}}\n.b: {variables: {Y: b}, stage: build}\n\
             job: {extends: [.a, .b], variables: {Z: j}}\n",
        )
        .expect("resolves");
        let job = &config["job"];
        assert_eq!(job["variables"]["X"], "a");
        assert_eq!(job["variables"]["Y"], "b");
        assert_eq!(job["variables"]["Z"], "j");
        assert_eq!(job["stage"], "build");
        assert!(job.get("extends").is_none());
    }

    #[test]
    fn cycles_and_unknown_bases_are_errors() {
        let cycle = resolved(".a: {extends: .b}\n.b: {extends: .a}\n").expect_err("cycle");
        assert!(cycle.to_string().contains("circular"), "{cycle}");
        let unknown = resolved("job: {extends: .nope, script: x}\n").expect_err("unknown");
        assert!(
            unknown
                .to_string()
                .contains("jobs:job:extends: unknown job `.nope`"),
            "{unknown}"
        );
    }
}
