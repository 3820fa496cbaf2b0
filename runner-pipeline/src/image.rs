//! `image` and `services`: a string or a mapping, turned into the payload's image objects (§6.6).

use serde_json::{Map, Value as Json, json};
use serde_yaml_ng::Value;

use crate::error::{Error, Result};
use crate::variables::{self, Variable};
use crate::warning::Warnings;
use crate::yaml;

/// An image or a service, as the payload carries it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Image {
    pub(crate) name: String,
    alias: Option<String>,
    command: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    pull_policy: Vec<String>,
    ports: Vec<Json>,
    variables: Vec<Variable>,
    executor_opts: Map<String, Json>,
}

/// Which keyword is being parsed: services accept a few more keys than `image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageKind {
    Image,
    Service,
}

/// Parses one `image` or service entry.
pub(crate) fn parse(
    value: &Value,
    kind: ImageKind,
    job: Option<&str>,
    location: &str,
    warnings: &mut Warnings,
) -> Result<Image> {
    let mut image = Image {
        name: String::new(),
        alias: None,
        command: None,
        entrypoint: None,
        pull_policy: Vec::new(),
        ports: Vec::new(),
        variables: Vec::new(),
        executor_opts: Map::new(),
    };
    let fields = match value {
        Value::Mapping(fields) => fields,
        other => {
            image.name = yaml::string(other, location)?;
            return Ok(image);
        }
    };
    for (key, item) in fields {
        let key = yaml::key_str(key);
        let item_location = format!("{location}:{key}");
        match (key.as_str(), kind) {
            ("name", _) => image.name = yaml::string(item, &item_location)?,
            ("entrypoint", _) => image.entrypoint = Some(yaml::string_list(item, &item_location)?),
            ("pull_policy", _) => image.pull_policy = yaml::string_list(item, &item_location)?,
            ("ports", _) => image.ports = parse_ports(item, &item_location)?,
            ("docker" | "kubernetes", _) => {
                let options = serde_json::to_value(item).map_err(|error| {
                    Error::invalid(&item_location, format!("cannot be represented: {error}"))
                })?;
                image.executor_opts.insert(key.clone(), options);
            }
            ("alias", ImageKind::Service) => {
                image.alias = Some(yaml::string(item, &item_location)?)
            }
            ("command", ImageKind::Service) => {
                image.command = Some(yaml::string_list(item, &item_location)?)
            }
            ("variables", ImageKind::Service) => {
                image.variables = variables::parse_yaml(item, job, &item_location, warnings)?;
            }
            _ => warnings.push(job, item_location.clone(), "unknown keyword, ignored"),
        }
    }
    if image.name.is_empty() {
        return Err(Error::invalid(location, "an image needs a `name`"));
    }
    Ok(image)
}

/// Parses `services`: a list of strings or mappings.
pub(crate) fn parse_services(
    value: &Value,
    job: Option<&str>,
    location: &str,
    warnings: &mut Warnings,
) -> Result<Vec<Image>> {
    yaml::flat_items(value)
        .into_iter()
        .filter(|item| !item.is_null())
        .map(|item| parse(item, ImageKind::Service, job, location, warnings))
        .collect()
}

fn parse_ports(value: &Value, location: &str) -> Result<Vec<Json>> {
    yaml::flat_items(value)
        .into_iter()
        .map(|port| match port {
            Value::Number(number) => Ok(json!({"number": number.as_i64().unwrap_or_default()})),
            Value::Mapping(_) => serde_json::to_value(port)
                .map_err(|error| Error::invalid(location, error.to_string())),
            _ => Err(Error::invalid(
                location,
                "ports should be numbers or {number, protocol, name}",
            )),
        })
        .collect()
}

impl Image {
    /// The payload object: absent options are left out rather than sent as `null`.
    pub(crate) fn to_json(&self) -> Json {
        let mut object = Map::new();
        object.insert("name".into(), json!(self.name));
        if let Some(alias) = &self.alias {
            object.insert("alias".into(), json!(alias));
        }
        if let Some(command) = &self.command {
            object.insert("command".into(), json!(command));
        }
        if let Some(entrypoint) = &self.entrypoint {
            object.insert("entrypoint".into(), json!(entrypoint));
        }
        if !self.ports.is_empty() {
            object.insert("ports".into(), json!(self.ports));
        }
        if !self.variables.is_empty() {
            let variables: Vec<Json> = self.variables.iter().map(Variable::to_json).collect();
            object.insert("variables".into(), json!(variables));
        }
        if !self.pull_policy.is_empty() {
            object.insert("pull_policy".into(), json!(self.pull_policy));
        }
        if !self.executor_opts.is_empty() {
            object.insert(
                "executor_opts".into(),
                Json::Object(self.executor_opts.clone()),
            );
        }
        Json::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn image(text: &str, kind: ImageKind) -> (Result<Image>, Warnings) {
        let value = yaml::parse(Path::new("t.yml"), text).expect("yaml");
        let mut warnings = Warnings::default();
        (
            parse(&value, kind, Some("job"), "jobs:job:image", &mut warnings),
            warnings,
        )
    }

    #[test]
    fn string_and_object_forms() {
        let (plain, _) = image("ruby:3.3", ImageKind::Image);
        assert_eq!(plain.expect("image").to_json(), json!({"name": "ruby:3.3"}));
        let (full, warnings) = image(
            "{name: 'golang:1.24', entrypoint: [''], pull_policy: if-not-present, docker: {platform: linux/amd64, user: 1000}}",
            ImageKind::Image,
        );
        assert!(warnings.0.is_empty());
        assert_eq!(
            full.expect("image").to_json(),
            json!({"name": "golang:1.24", "entrypoint": [""], "pull_policy": ["if-not-present"],
                   "executor_opts": {"docker": {"platform": "linux/amd64", "user": 1000}}})
        );
    }

    #[test]
    fn service_keys_are_unknown_on_image() {
        let (_, warnings) = image("{name: x, alias: db}", ImageKind::Image);
        assert_eq!(warnings.0[0].keyword(), "jobs:job:image:alias");
        let (service, warnings) = image(
            "{name: postgres, alias: db, command: [postgres, -c, fsync=off]}",
            ImageKind::Service,
        );
        assert!(warnings.0.is_empty());
        assert_eq!(
            service.expect("service").to_json()["command"],
            json!(["postgres", "-c", "fsync=off"])
        );
    }

    #[test]
    fn a_name_is_required() {
        assert!(image("{entrypoint: [sh]}", ImageKind::Image).0.is_err());
    }
}
