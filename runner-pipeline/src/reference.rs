//! `!reference [job, key, ...]` tags: replaced by the value found at that path, after `extends`.

use serde_yaml_ng::{Mapping, Value};

use crate::error::{Error, Result};
use crate::yaml;

/// GitLab's limit on references inside referenced values.
const MAX_NESTING: usize = 10;

/// Replaces every `!reference` tag in `config`; any other custom tag is an error, as on GitLab.
pub(crate) fn resolve_references(config: &mut Mapping) -> Result<()> {
    let root = config.clone();
    for (key, value) in config.iter_mut() {
        resolve(value, &root, &yaml::key_str(key), 0)?;
    }
    Ok(())
}

fn resolve(value: &mut Value, root: &Mapping, location: &str, depth: usize) -> Result<()> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "reference" => {
            if depth >= MAX_NESTING {
                return Err(Error::invalid(
                    location,
                    format!("!reference nested more than {MAX_NESTING} levels"),
                ));
            }
            let path = yaml::string_list(&tagged.value, location)?;
            let mut target = lookup(root, &path)
                .ok_or_else(|| {
                    Error::invalid(
                        location,
                        format!("!reference [{}] could not be found", path.join(", ")),
                    )
                })?
                .clone();
            resolve(&mut target, root, location, depth + 1)?;
            *value = target;
            Ok(())
        }
        Value::Tagged(tagged) => Err(Error::invalid(
            location,
            format!("unknown yaml tag `{}`", tagged.tag),
        )),
        Value::Mapping(mapping) => mapping
            .values_mut()
            .try_for_each(|item| resolve(item, root, location, depth)),
        Value::Sequence(items) => items
            .iter_mut()
            .try_for_each(|item| resolve(item, root, location, depth)),
        _ => Ok(()),
    }
}

fn lookup<'a>(root: &'a Mapping, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut current = root.get(first.as_str())?;
    for key in rest {
        current = current.as_mapping()?.get(key.as_str())?;
    }
    Some(current)
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
        resolve_references(&mut config)?;
        Ok(config)
    }

    #[test]
    fn nested_references_resolve() {
        let config = resolved(
            ".a: {script: [one]}\n.b: {script: [!reference [.a, script], two]}\n\
             job: {script: [!reference [.b, script], three]}\n",
        )
        .expect("resolves");
        let script = yaml::string_list(&config["job"]["script"], "x").expect("list");
        assert_eq!(script, ["one", "two", "three"]);
    }

    #[test]
    fn missing_target_and_unknown_tag_are_errors() {
        let missing = resolved("job: {script: !reference [.x, script]}\n").expect_err("missing");
        assert!(
            missing
                .to_string()
                .contains("!reference [.x, script] could not be found"),
            "{missing}"
        );
        let unknown = resolved("job: {script: !secret x}\n").expect_err("tag");
        assert!(
            unknown.to_string().contains("unknown yaml tag `!secret`"),
            "{unknown}"
        );
    }

    #[test]
    fn self_reference_is_bounded() {
        let error = resolved(".a: {s: !reference [.a, s]}\n").expect_err("loop");
        assert!(error.to_string().contains("nested more than 10"), "{error}");
    }
}
