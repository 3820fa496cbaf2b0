//! Container configurations of a job: build, helper (`predefined`) and services
//! (executors.md §7.5, §7.6), and the host settings they share (D2: `dns` on every container).

use std::collections::BTreeMap;
use std::net::IpAddr;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, DeviceRequest, EndpointSettings, HostConfig,
    HostConfigLogConfig, NetworkingConfig, ResourcesUlimits,
};

use crate::error::{Error, Result};
use crate::settings::{ContainerOptions, DockerSettings};
use crate::units::{parse_cpus, parse_memory};

/// Upstream's shell detection (§4.11): exec the first shell found, reading the script on stdin.
pub(crate) const DETECT_SHELL: &str = "if [ -x /usr/local/bin/bash ]; then\n\texec /usr/local/bin/bash \"$@\"\n\
elif [ -x /usr/bin/bash ]; then\n\texec /usr/bin/bash \"$@\"\n\
elif [ -x /bin/bash ]; then\n\texec /bin/bash \"$@\"\n\
elif [ -x /usr/local/bin/sh ]; then\n\texec /usr/local/bin/sh \"$@\"\n\
elif [ -x /usr/bin/sh ]; then\n\texec /usr/bin/sh \"$@\"\n\
elif [ -x /bin/sh ]; then\n\texec /bin/sh \"$@\"\n\
elif [ -x /busybox/sh ]; then\n\texec /busybox/sh \"$@\"\n\
else\n\techo shell not found\n\texit 1\nfi\n";

/// The detect-shell command line.
pub(crate) fn shell_command() -> Vec<String> {
    vec!["sh".to_owned(), "-c".to_owned(), DETECT_SHELL.to_owned()]
}

/// Which container of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Build,
    Helper,
    Service,
}

/// Host-level settings shared by the job's containers, validated once.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedHost {
    pub(crate) binds: Vec<String>,
    pub(crate) network: Option<String>,
    pub(crate) extra_hosts: Vec<String>,
}

/// The `HostConfig` of a container with `role`.
pub(crate) fn host_config(
    settings: &DockerSettings,
    shared: &SharedHost,
    role: Role,
    image: &str,
) -> Result<HostConfig> {
    for server in &settings.dns {
        server.parse::<IpAddr>().map_err(|error| {
            Error::config(format!("invalid DNS server address \"{server}\": {error}"))
        })?;
    }
    let optional = |values: &Vec<String>| (!values.is_empty()).then(|| values.clone());
    let mut host = HostConfig {
        binds: optional(&shared.binds),
        dns: optional(&settings.dns),
        dns_search: optional(&settings.dns_search),
        extra_hosts: optional(&shared.extra_hosts),
        network_mode: shared.network.clone(),
        shm_size: (settings.shm_size > 0).then_some(settings.shm_size),
        ..HostConfig::default()
    };
    match role {
        Role::Helper => {
            // Network, hosts and resolv.conf come with the build container's namespace;
            // Docker rejects these options together with `container:` network mode.
            host.dns = None;
            host.dns_search = None;
            host.extra_hosts = None;
            host.privileged = Some(settings.privileged);
        }
        Role::Build => {
            host.privileged = Some(
                settings.privileged
                    && may_be_privileged(&settings.allowed_privileged_images, image),
            );
            host.memory = settings.memory.as_deref().map(parse_memory).transpose()?;
            host.memory_swap = settings
                .memory_swap
                .as_deref()
                .map(parse_memory)
                .transpose()?;
            host.memory_reservation = settings
                .memory_reservation
                .as_deref()
                .map(parse_memory)
                .transpose()?;
            host.nano_cpus = settings.cpus.as_deref().map(parse_cpus).transpose()?;
            host.cap_add = optional(&settings.cap_add);
            host.cap_drop = optional(&settings.cap_drop);
            host.security_opt = optional(&settings.security_opt);
            host.oom_kill_disable = settings.oom_kill_disable.then_some(true);
            if !settings.devices.is_empty() {
                host.devices = Some(
                    settings
                        .devices
                        .iter()
                        .map(|d| parse_device(d))
                        .collect::<Result<_>>()?,
                );
            }
        }
        Role::Service => {
            host.privileged = Some(
                settings.services_privileged.unwrap_or(settings.privileged)
                    && may_be_privileged(&settings.allowed_privileged_services, image),
            );
        }
    }
    match role {
        Role::Build => apply_options(&mut host, &settings.build_options)?,
        Role::Service => apply_options(&mut host, &settings.service_options)?,
        Role::Helper => {}
    }
    Ok(host)
}

/// `allowed_privileged_images` / `_services`: only matching images get privileged mode; an
/// empty list lets every image have it.
fn may_be_privileged(allowed: &[String], image: &str) -> bool {
    allowed.is_empty()
        || allowed
            .iter()
            .any(|pattern| runner_executor::allow_list::matches(pattern, image))
}

/// Adds the options set in `options` to `host`; unset ones keep what `host` has.
fn apply_options(host: &mut HostConfig, options: &ContainerOptions) -> Result<()> {
    let text = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let list = |values: &Vec<String>| (!values.is_empty()).then(|| values.clone());
    let map = |values: &BTreeMap<String, String>| {
        (!values.is_empty()).then(|| values.clone().into_iter().collect())
    };
    host.runtime = text(&options.runtime).or(host.runtime.take());
    host.cgroup_parent = text(&options.cgroup_parent).or(host.cgroup_parent.take());
    host.cpuset_cpus = text(&options.cpuset_cpus).or(host.cpuset_cpus.take());
    host.cpuset_mems = text(&options.cpuset_mems).or(host.cpuset_mems.take());
    host.cpu_shares = options.cpu_shares.or(host.cpu_shares);
    host.userns_mode = text(&options.userns_mode).or(host.userns_mode.take());
    host.oom_score_adj = options.oom_score_adj.or(host.oom_score_adj);
    host.pid_mode = text(&options.pid_mode).or(host.pid_mode.take());
    host.ipc_mode = text(&options.ipc_mode).or(host.ipc_mode.take());
    host.group_add = list(&options.group_add).or(host.group_add.take());
    host.device_cgroup_rules =
        list(&options.device_cgroup_rules).or(host.device_cgroup_rules.take());
    host.security_opt = list(&options.security_opt).or(host.security_opt.take());
    host.sysctls = map(&options.sysctls).or(host.sysctls.take());
    host.tmpfs = map(&options.tmpfs).or(host.tmpfs.take());
    if let Some(memory) = text(&options.memory) {
        host.memory = Some(parse_memory(&memory)?);
    }
    if let Some(swap) = text(&options.memory_swap) {
        host.memory_swap = Some(parse_memory(&swap)?);
    }
    if let Some(reservation) = text(&options.memory_reservation) {
        host.memory_reservation = Some(parse_memory(&reservation)?);
    }
    if let Some(cpus) = text(&options.cpus) {
        host.nano_cpus = Some(parse_cpus(&cpus)?);
    }
    host.volumes_from = list(&options.volumes_from).or(host.volumes_from.take());
    host.links = list(&options.links).or(host.links.take());
    if !options.log_options.is_empty() {
        host.log_config = Some(HostConfigLogConfig {
            typ: Some("json-file".to_owned()),
            config: map(&options.log_options),
        });
    }
    if let Some(gpus) = text(&options.gpus) {
        host.device_requests = Some(vec![parse_gpus(&gpus)?]);
    }
    if !options.ulimits.is_empty() {
        host.ulimits = Some(
            options
                .ulimits
                .iter()
                .map(|(name, limits)| parse_ulimit(name, limits))
                .collect::<Result<_>>()?,
        );
    }
    Ok(())
}

/// `gpus` as `docker run --gpus` takes it: `all`, a count, or `device=0,1` (with an optional
/// `"...",capabilities=...` left to the defaults).
fn parse_gpus(spec: &str) -> Result<DeviceRequest> {
    let mut request = DeviceRequest {
        driver: Some(String::new()),
        capabilities: Some(vec![vec!["gpu".to_owned()]]),
        ..DeviceRequest::default()
    };
    let spec = spec.trim().trim_matches('"');
    if spec == "all" {
        request.count = Some(-1);
    } else if let Some(devices) = spec.strip_prefix("device=") {
        request.device_ids = Some(devices.split(',').map(str::to_owned).collect());
    } else {
        request.count = Some(
            spec.parse()
                .map_err(|_| Error::config(format!("invalid gpus value {spec:?}")))?,
        );
    }
    Ok(request)
}

/// `ulimit` entry `nofile = "1024:2048"` (or one number for both) → a Docker ulimit.
fn parse_ulimit(name: &str, limits: &str) -> Result<ResourcesUlimits> {
    let invalid = || Error::config(format!("invalid ulimit {name}: {limits:?}"));
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let soft: i64 = soft.trim().parse().map_err(|_| invalid())?;
    let hard: i64 = hard.trim().parse().map_err(|_| invalid())?;
    Ok(ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(soft),
        hard: Some(hard),
    })
}

/// `host[:container[:perms]]`, default permissions `rwm`.
fn parse_device(spec: &str) -> Result<DeviceMapping> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, container] => (*host, *container, "rwm"),
        [host, container, perms] => (*host, *container, *perms),
        _ => {
            return Err(Error::config(format!(
                "invalid device specification: {spec}"
            )));
        }
    };
    if host.is_empty() {
        return Err(Error::config(format!(
            "invalid device specification: {spec}"
        )));
    }
    Ok(DeviceMapping {
        path_on_host: Some(host.to_owned()),
        path_in_container: Some(container.to_owned()),
        cgroup_permissions: Some(perms.to_owned()),
    })
}

/// Attaches the container to `network` under `aliases`.
pub(crate) fn networking(network: Option<&str>, aliases: Vec<String>) -> Option<NetworkingConfig> {
    let network = network?;
    if matches!(network, "bridge" | "host" | "none" | "default") {
        return None;
    }
    let endpoint = EndpointSettings {
        aliases: Some(aliases),
        ..EndpointSettings::default()
    };
    Some(NetworkingConfig {
        endpoints_config: Some([(network.to_owned(), endpoint)].into_iter().collect()),
    })
}

/// The long-running container of a stage environment: its main process is the detected shell
/// reading the runner's stage wrappers from the open stdin (see the crate documentation).
/// `base` carries image, entrypoint, env, user, host name, labels and host/network settings.
pub(crate) fn stage_container_body(base: ContainerCreateBody) -> ContainerCreateBody {
    ContainerCreateBody {
        cmd: Some(shell_command()),
        tty: Some(false),
        open_stdin: Some(true),
        stdin_once: Some(false),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        ..base
    }
}

/// `(service, version, aliases)` of a service image name (§7.5): `host:port/ns/name:tag`.
pub(crate) fn service_identity(image: &str, user_aliases: &str) -> (String, String, Vec<String>) {
    let (without_digest, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match without_digest[last_slash..].rsplit_once(':') {
        Some((_, tag)) => (
            &without_digest[..last_slash + without_digest[last_slash..].len() - tag.len() - 1],
            tag,
        ),
        None => (without_digest, "latest"),
    };
    let version = digest.map_or_else(|| tag.to_owned(), str::to_owned);
    // The registry's port is dropped from the service name.
    let service = match path.split_once('/') {
        Some((first, rest)) if first.contains(':') => {
            format!("{}/{rest}", first.split(':').next().unwrap_or(first))
        }
        _ => path.to_owned(),
    };
    let mut aliases = vec![service.replace('/', "__")];
    let dashed = service.replace('/', "-");
    if !aliases.contains(&dashed) {
        aliases.push(dashed);
    }
    for alias in user_aliases
        .split([',', ' '])
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        if !aliases.iter().any(|a| a == alias) {
            aliases.push(alias.to_owned());
        }
    }
    (service, version, aliases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_and_aliases() {
        let (service, version, aliases) = service_identity("docker:dind", "");
        assert_eq!((service.as_str(), version.as_str()), ("docker", "dind"));
        assert_eq!(aliases, vec!["docker"]);
        let (service, version, aliases) =
            service_identity("registry.example.com:5000/tools/pg", "db, cache");
        assert_eq!(service, "registry.example.com/tools/pg");
        assert_eq!(version, "latest");
        assert_eq!(
            aliases,
            vec![
                "registry.example.com__tools__pg",
                "registry.example.com-tools-pg",
                "db",
                "cache"
            ]
        );
    }

    #[test]
    fn dns_must_be_addresses() {
        let settings = DockerSettings {
            dns: vec!["dns.example".to_owned()],
            ..DockerSettings::default()
        };
        let error =
            host_config(&settings, &SharedHost::default(), Role::Build, "alpine").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid DNS server address \"dns.example\""),
            "{error}"
        );
    }

    #[test]
    fn resources_apply_to_build_and_dns_to_services() {
        let settings = DockerSettings {
            dns: vec!["10.0.0.53".to_owned()],
            memory: Some("64m".to_owned()),
            cpus: Some("1/2".to_owned()),
            devices: vec!["/dev/fuse".to_owned()],
            ..DockerSettings::default()
        };
        let build = host_config(&settings, &SharedHost::default(), Role::Build, "alpine").unwrap();
        assert_eq!(build.memory, Some(64 * 1024 * 1024));
        assert_eq!(build.nano_cpus, Some(500_000_000));
        assert_eq!(
            build.devices.unwrap()[0].cgroup_permissions.as_deref(),
            Some("rwm")
        );
        let service =
            host_config(&settings, &SharedHost::default(), Role::Service, "redis").unwrap();
        assert_eq!(service.dns, Some(vec!["10.0.0.53".to_owned()]));
        assert_eq!(service.memory, None);
    }

    #[test]
    fn privileged_mode_follows_the_allowed_lists() {
        let settings = DockerSettings {
            privileged: true,
            allowed_privileged_images: vec!["docker:*".to_owned()],
            allowed_privileged_services: vec!["docker:*-dind".to_owned()],
            ..DockerSettings::default()
        };
        let privileged = |role, image| {
            host_config(&settings, &SharedHost::default(), role, image)
                .unwrap()
                .privileged
        };
        assert_eq!(privileged(Role::Build, "docker:27"), Some(true));
        assert_eq!(privileged(Role::Build, "alpine:3"), Some(false));
        assert_eq!(privileged(Role::Service, "docker:27-dind"), Some(true));
        assert_eq!(privileged(Role::Service, "postgres:16"), Some(false));
        let everyone = DockerSettings {
            privileged: true,
            ..DockerSettings::default()
        };
        let build = host_config(&everyone, &SharedHost::default(), Role::Build, "alpine").unwrap();
        assert_eq!(build.privileged, Some(true));
    }

    #[test]
    fn gpus_and_log_options_become_docker_requests() {
        assert_eq!(parse_gpus("all").unwrap().count, Some(-1));
        assert_eq!(parse_gpus("2").unwrap().count, Some(2));
        assert_eq!(
            parse_gpus("device=0,1").unwrap().device_ids,
            Some(vec!["0".to_owned(), "1".to_owned()])
        );
        assert!(parse_gpus("lots").is_err());
        let settings = DockerSettings {
            build_options: ContainerOptions {
                log_options: [("max-size".to_owned(), "10m".to_owned())].into(),
                ..ContainerOptions::default()
            },
            ..DockerSettings::default()
        };
        let build = host_config(&settings, &SharedHost::default(), Role::Build, "alpine").unwrap();
        let log = build.log_config.unwrap();
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        assert_eq!(log.config.unwrap()["max-size"], "10m");
    }
}
