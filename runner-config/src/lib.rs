//! The `config.toml` of gitlab-runner-rs: the official runner's configuration file.
//!
//! placeholder docs

mod cache;
mod config;
mod diagnostic;
mod docker;
mod duration;
mod edit;
mod env;
mod executor;
mod kubernetes;
mod kubernetes_pod;
mod kubernetes_security;
mod kubernetes_volumes;
mod layout;
mod load;
mod lock;
mod logging;
mod other_executors;
mod reload;
mod runner;
mod secret;
mod skip;
mod source_map;
mod string_or_array;
#[cfg(feature = "test-util")]
pub mod test_util;
mod timestamp;
mod tracked;
mod validate;
mod write;

pub use cache::{CacheAzureConfig, CacheConfig, CacheGcsConfig, CacheS3Config};
pub use config::{
    Config, Experimental, LogrotateConfig, MachineConfig, MachineShutdownDrain, SessionServer, SnowplowConfig,
    UsageLogger,
};
pub use diagnostic::{Location, Problem, ProblemKind, Warning, WarningKind};
pub use docker::{DockerConfig, Service};
pub use duration::{DurationError, GoDuration};
pub use edit::{ConfigDocument, EditError, RunnerSelector};
pub use executor::{Executor, UnknownExecutor};
pub use kubernetes::KubernetesConfig;
pub use kubernetes_pod::{
    ContainerLifecycle, DnsConfig, DnsConfigOption, ExecAction, HostAlias, HttpGetAction, HttpHeader,
    KubernetesAffinity, KubernetesAutoscaler, LabelSelector, LifecycleHandler, NodeAffinity, NodeSelector,
    NodeSelectorTerm, PodAffinity, PodAffinityTerm, PodSpecPatch, PreferredSchedulingTerm, SelectorRequirement,
    TcpSocketAction, WeightedPodAffinityTerm,
};
pub use kubernetes_security::{Capabilities, ContainerSecurityContext, PodSecurityContext, SecurityProfile};
pub use kubernetes_volumes::{
    ConfigMapVolume, CsiVolume, EmptyDirVolume, HostPathVolume, KubernetesVolumes, NfsVolume, PvcVolume, SecretVolume,
};
pub use load::{default_config_path, load, load_str, LoadError, Loaded};
pub use lock::{ConfigLock, LockError};
pub use logging::{InvalidLogFormat, InvalidLogLevel, LogFormat, LogLevel};
pub use other_executors::{
    AutoscalerConfig, AutoscalerPolicy, ConnectorConfig, CustomConfig, DockerMachine, InstanceConfig,
    MachineAutoscaling, ParallelsConfig, ScaleThrottle, SshConfig, StateStorage, VirtualBoxConfig, VmIsolation,
};
pub use reload::{ReloadEvent, Reloader};
pub use runner::{
    ArtifactConfig, BootVerify, CustomBuildDir, JobQueuingDuration, MetricsReferee, Monitoring, Referees,
    RunnerConfig, RunnerExperimental,
};
pub use secret::Secret;
pub use string_or_array::StringOrArray;
pub use timestamp::Timestamp;
