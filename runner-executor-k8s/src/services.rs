//! Service containers and their host aliases (K8): services share the pod's network, so their
//! names resolve to `127.0.0.1` through one `hostAliases` entry.

use runner_executor::Image;

use crate::names::{is_dns_label, is_dns_subdomain};

/// A service and the container name it gets.
#[derive(Debug, Clone)]
pub(crate) struct PodService {
    /// Container name: the first usable alias, else `svc-<n>`.
    pub(crate) container_name: String,
    /// The service definition.
    pub(crate) image: Image,
}

/// Names the service containers (executors.md §8.4): the first alias that is a DNS-1123 label and
/// not taken yet, otherwise `svc-<n>` where n counts only services that needed it.
pub(crate) fn name_services(services: &[Image]) -> Vec<PodService> {
    let mut used: Vec<String> = vec!["build".to_owned(), "helper".to_owned()];
    let mut counter = 0;
    services
        .iter()
        .map(|image| {
            let alias = aliases(image)
                .into_iter()
                .find(|a| is_dns_label(a) && !used.contains(a));
            let container_name = alias.unwrap_or_else(|| {
                let name = format!("svc-{counter}");
                counter += 1;
                name
            });
            used.push(container_name.clone());
            PodService {
                container_name,
                image: image.clone(),
            }
        })
        .collect()
}

/// The helper's wait for services (executors.md §8.1 step 7): `gitlab-runner-helper
/// health-check --port '<p>' ...` for every service, by container name, whose variables set
/// `HEALTHCHECK_TCP_PORT`; `None` when none does.
pub(crate) fn health_check_command(services: &[PodService]) -> Option<String> {
    let mut sorted: Vec<&PodService> = services.iter().collect();
    sorted.sort_by(|a, b| a.container_name.cmp(&b.container_name));
    let ports: String = sorted
        .iter()
        .filter_map(|service| {
            service
                .image
                .variables
                .iter()
                .rev()
                .find(|variable| variable.key == "HEALTHCHECK_TCP_PORT")
                .filter(|variable| !variable.value.is_empty())
        })
        .map(|variable| format!("--port '{}' ", variable.value.replace('\'', "")))
        .collect();
    (!ports.is_empty()).then(|| format!("gitlab-runner-helper health-check {ports}"))
}

/// Host names for `127.0.0.1`: per service its derived names that are valid DNS-1123 subdomains
/// plus every user alias (an invalid user alias is an error).
pub(crate) fn host_alias_names(services: &[PodService]) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for service in services {
        for derived in derived_names(&service.image.name) {
            if is_dns_subdomain(&derived) && !names.contains(&derived) {
                names.push(derived);
            }
        }
        for alias in aliases(&service.image) {
            if !is_dns_subdomain(&alias) {
                return Err(format!(
                    "provided host alias {alias} for service {} is invalid DNS. {alias} must be a valid DNS-1123 subdomain",
                    service.image.name
                ));
            }
            if !names.contains(&alias) {
                names.push(alias);
            }
        }
    }
    Ok(names)
}

/// The user aliases of a service (space or comma separated).
fn aliases(image: &Image) -> Vec<String> {
    image
        .alias
        .split([' ', ','])
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Docker's derived service names: the image without tag or digest, `/` replaced by `__` and by `-`.
fn derived_names(image: &str) -> Vec<String> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let without_tag = match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    vec![
        without_tag.replace('/', "__"),
        without_tag.replace('/', "-"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, alias: &str) -> Image {
        Image {
            name: name.to_owned(),
            alias: alias.to_owned(),
            ..Image::default()
        }
    }

    #[test]
    fn containers_take_aliases_or_numbered_names() {
        let named = name_services(&[
            service("postgres:16", "db"),
            service("redis:7", ""),
            service("mysql", "db"),
            service("x", "Bad_Alias"),
        ]);
        let names: Vec<_> = named.iter().map(|s| s.container_name.as_str()).collect();
        assert_eq!(names, ["db", "svc-0", "svc-1", "svc-2"]);
    }

    #[test]
    fn host_aliases_list_derived_names_and_aliases() {
        let named = name_services(&[
            service("registry.example.com/tools/postgres:16", "db pg"),
            service("docker:dind", ""),
        ]);
        let names = host_alias_names(&named).unwrap();
        assert_eq!(
            names,
            ["registry.example.com-tools-postgres", "db", "pg", "docker"]
        );
    }

    #[test]
    fn invalid_alias_is_refused() {
        let named = name_services(&[service("redis", "Not_Valid")]);
        let error = host_alias_names(&named).unwrap_err();
        assert!(
            error.starts_with("provided host alias Not_Valid for service redis is invalid DNS."),
            "{error}"
        );
    }
}
