//! [`Executor`]: the `executor` key of a `[[runners]]` entry.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The executors upstream knows, by the name written in `config.toml`.
///
/// Upstream accepts any string at load and marks the runner unhealthy at poll time; this
/// crate rejects an unknown name at load (seed requirement F7), naming the file, line and key.
///
/// ```
/// use runner_config::Executor;
///
/// let executor: Executor = "docker+machine".parse()?;
/// assert_eq!(executor, Executor::DockerMachine);
/// assert_eq!(executor.to_string(), "docker+machine");
/// assert!("dokcer".parse::<Executor>().is_err());
/// # Ok::<(), runner_config::UnknownExecutor>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Executor {
    /// `shell`: jobs run on the host.
    Shell,
    /// `docker`: jobs run in Docker containers.
    Docker,
    /// `docker-windows`: Docker with Windows containers.
    DockerWindows,
    /// `docker+machine`: Docker on autoscaled docker-machine hosts.
    DockerMachine,
    /// `docker-autoscaler`: Docker on fleeting-provisioned instances.
    DockerAutoscaler,
    /// `instance`: the job runs directly on a fleeting-provisioned instance.
    Instance,
    /// `kubernetes`: jobs run in pods.
    Kubernetes,
    /// `custom`: user-provided drivers (`[runners.custom]`).
    Custom,
    /// `ssh`: jobs run on a remote host over SSH.
    Ssh,
    /// `parallels`: jobs run in Parallels virtual machines.
    Parallels,
    /// `virtualbox`: jobs run in VirtualBox virtual machines.
    Virtualbox,
}

/// An `executor` value that names no known executor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown executor {name:?}, expected one of: {}", Executor::NAMES.join(", "))]
pub struct UnknownExecutor {
    name: String,
}

impl Executor {
    /// Every executor, in upstream's documentation order.
    pub const ALL: [Self; 11] = [
        Self::Shell,
        Self::Docker,
        Self::DockerWindows,
        Self::DockerMachine,
        Self::DockerAutoscaler,
        Self::Instance,
        Self::Kubernetes,
        Self::Custom,
        Self::Ssh,
        Self::Parallels,
        Self::Virtualbox,
    ];

    const NAMES: [&'static str; 11] = [
        "shell",
        "docker",
        "docker-windows",
        "docker+machine",
        "docker-autoscaler",
        "instance",
        "kubernetes",
        "custom",
        "ssh",
        "parallels",
        "virtualbox",
    ];

    /// The name as written in `config.toml`.
    pub fn as_str(self) -> &'static str {
        let index = Self::ALL
            .iter()
            .position(|executor| *executor == self)
            .unwrap_or(0);
        Self::NAMES[index]
    }

    /// Whether jobs run in containers (Docker or Kubernetes), which changes several defaults
    /// (builds dir `/builds`, cache dir `/cache`, custom build dirs on).
    pub fn is_container_based(self) -> bool {
        matches!(
            self,
            Self::Docker
                | Self::DockerWindows
                | Self::DockerMachine
                | Self::DockerAutoscaler
                | Self::Kubernetes
        )
    }
}

impl FromStr for Executor {
    type Err = UnknownExecutor;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .position(|known| *known == name)
            .map(|index| Self::ALL[index])
            .ok_or_else(|| UnknownExecutor {
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for Executor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for Executor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Executor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExecutorVisitor;
        impl Visitor<'_> for ExecutorVisitor {
            type Value = Executor;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter
                    .write_str("an executor name such as \"shell\", \"docker\" or \"kubernetes\"")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Executor, E> {
                value.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(ExecutorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for executor in Executor::ALL {
            assert_eq!(executor.as_str().parse::<Executor>(), Ok(executor));
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let error = "dokcer".parse::<Executor>().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unknown executor \"dokcer\", expected one of: shell, docker,")
        );
    }
}
