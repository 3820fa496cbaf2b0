//! The `--docker-*`, `--kubernetes-*` and `--cache-*` flags of `register` and `run-single`
//! (cli.md 3.2; names and environment variables as config-toml.md 5, 9, 4.5), and the
//! `[runners.docker]`, `[runners.kubernetes]` and `[runners.cache]` sections they fill.

use runner_config::{CacheConfig, CacheS3Config, DockerConfig, KubernetesConfig, StringOrArray};

/// `[runners.docker]` from flags.
#[derive(Debug, clap::Args, Clone, Default)]
pub(crate) struct DockerFlags {
    /// Default Docker image.
    #[arg(id = "docker-image", long = "docker-image", env = "DOCKER_IMAGE")]
    pub(crate) image: Option<String>,
    /// Docker daemon endpoint.
    #[arg(id = "docker-host", long = "docker-host", env = "DOCKER_HOST")]
    pub(crate) host: Option<String>,
    /// Use TLS and verify the daemon.
    #[arg(
        id = "docker-tls-verify",
        long = "docker-tls-verify",
        env = "DOCKER_TLS_VERIFY"
    )]
    pub(crate) tls_verify: bool,
    /// Privileged build and service containers.
    #[arg(
        id = "docker-privileged",
        long = "docker-privileged",
        env = "DOCKER_PRIVILEGED"
    )]
    pub(crate) privileged: bool,
    /// Volumes in `docker -v` syntax (repeat).
    #[arg(
        id = "docker-volumes",
        long = "docker-volumes",
        env = "DOCKER_VOLUMES",
        value_delimiter = ','
    )]
    pub(crate) volumes: Vec<String>,
    /// Pull policies, tried in order (repeat).
    #[arg(
        id = "docker-pull-policy",
        long = "docker-pull-policy",
        env = "DOCKER_PULL_POLICY",
        value_delimiter = ','
    )]
    pub(crate) pull_policy: Vec<String>,
    /// Pull policies a job may request (repeat).
    #[arg(
        id = "docker-allowed-pull-policies",
        long = "docker-allowed-pull-policies",
        env = "DOCKER_ALLOWED_PULL_POLICIES",
        value_delimiter = ','
    )]
    pub(crate) allowed_pull_policies: Vec<String>,
    /// Images jobs may use (globs, repeat).
    #[arg(
        id = "docker-allowed-images",
        long = "docker-allowed-images",
        env = "DOCKER_ALLOWED_IMAGES",
        value_delimiter = ','
    )]
    pub(crate) allowed_images: Vec<String>,
    /// Services jobs may use (globs, repeat).
    #[arg(
        id = "docker-allowed-services",
        long = "docker-allowed-services",
        env = "DOCKER_ALLOWED_SERVICES",
        value_delimiter = ','
    )]
    pub(crate) allowed_services: Vec<String>,
    /// Network the job containers join.
    #[arg(
        id = "docker-network-mode",
        long = "docker-network-mode",
        env = "DOCKER_NETWORK_MODE"
    )]
    pub(crate) network_mode: Option<String>,
    /// No automatic cache volume.
    #[arg(
        id = "docker-disable-cache",
        long = "docker-disable-cache",
        env = "DOCKER_DISABLE_CACHE"
    )]
    pub(crate) disable_cache: bool,
    /// Helper image override.
    #[arg(
        id = "docker-helper-image",
        long = "docker-helper-image",
        env = "DOCKER_HELPER_IMAGE"
    )]
    pub(crate) helper_image: Option<String>,
    /// Memory limit of the build container (`512m`).
    #[arg(id = "docker-memory", long = "docker-memory", env = "DOCKER_MEMORY")]
    pub(crate) memory: Option<String>,
    /// CPUs of the build container (`1.5`).
    #[arg(id = "docker-cpus", long = "docker-cpus", env = "DOCKER_CPUS")]
    pub(crate) cpus: Option<String>,
    /// `/dev/shm` size in bytes.
    #[arg(
        id = "docker-shm-size",
        long = "docker-shm-size",
        env = "DOCKER_SHM_SIZE"
    )]
    pub(crate) shm_size: Option<i64>,
    /// DNS servers (repeat).
    #[arg(
        id = "docker-dns",
        long = "docker-dns",
        env = "DOCKER_DNS",
        value_delimiter = ','
    )]
    pub(crate) dns: Vec<String>,
    /// `host:ip` entries (repeat).
    #[arg(
        id = "docker-extra-hosts",
        long = "docker-extra-hosts",
        env = "DOCKER_EXTRA_HOSTS",
        value_delimiter = ','
    )]
    pub(crate) extra_hosts: Vec<String>,
}

impl DockerFlags {
    /// The section these flags describe (every other key at its default).
    pub(crate) fn config(&self) -> DockerConfig {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        DockerConfig {
            image: text(&self.image),
            host: text(&self.host),
            tls_verify: self.tls_verify,
            privileged: self.privileged,
            volumes: self.volumes.clone(),
            pull_policy: StringOrArray::from(self.pull_policy.clone()),
            allowed_pull_policies: self.allowed_pull_policies.clone(),
            allowed_images: self.allowed_images.clone(),
            allowed_services: self.allowed_services.clone(),
            network_mode: text(&self.network_mode),
            disable_cache: self.disable_cache,
            helper_image: text(&self.helper_image),
            memory: text(&self.memory),
            cpus: text(&self.cpus),
            shm_size: self.shm_size.unwrap_or(0),
            dns: self.dns.clone(),
            extra_hosts: self.extra_hosts.clone(),
            ..DockerConfig::default()
        }
    }
}

/// `[runners.kubernetes]` from flags.
#[derive(Debug, clap::Args, Clone, Default)]
pub(crate) struct KubernetesFlags {
    /// Kubernetes namespace.
    #[arg(
        id = "kubernetes-namespace",
        long = "kubernetes-namespace",
        env = "KUBERNETES_NAMESPACE"
    )]
    pub(crate) namespace: Option<String>,
    /// Default job image.
    #[arg(
        id = "kubernetes-image",
        long = "kubernetes-image",
        env = "KUBERNETES_IMAGE"
    )]
    pub(crate) image: Option<String>,
    /// API server URL.
    #[arg(
        id = "kubernetes-host",
        long = "kubernetes-host",
        env = "KUBERNETES_HOST"
    )]
    pub(crate) host: Option<String>,
    /// Privileged containers.
    #[arg(
        id = "kubernetes-privileged",
        long = "kubernetes-privileged",
        env = "KUBERNETES_PRIVILEGED"
    )]
    pub(crate) privileged: bool,
    /// The pod's service account.
    #[arg(
        id = "kubernetes-service-account",
        long = "kubernetes-service-account",
        env = "KUBERNETES_SERVICE_ACCOUNT"
    )]
    pub(crate) service_account: Option<String>,
    /// Pull policies, tried in order (repeat).
    #[arg(
        id = "kubernetes-pull-policy",
        long = "kubernetes-pull-policy",
        env = "KUBERNETES_PULL_POLICY",
        value_delimiter = ','
    )]
    pub(crate) pull_policy: Vec<String>,
    /// Helper image override.
    #[arg(
        id = "kubernetes-helper-image",
        long = "kubernetes-helper-image",
        env = "KUBERNETES_HELPER_IMAGE"
    )]
    pub(crate) helper_image: Option<String>,
    /// CPU limit of the build container.
    #[arg(
        id = "kubernetes-cpu-limit",
        long = "kubernetes-cpu-limit",
        env = "KUBERNETES_CPU_LIMIT"
    )]
    pub(crate) cpu_limit: Option<String>,
    /// Memory limit of the build container.
    #[arg(
        id = "kubernetes-memory-limit",
        long = "kubernetes-memory-limit",
        env = "KUBERNETES_MEMORY_LIMIT"
    )]
    pub(crate) memory_limit: Option<String>,
    /// CPU request of the build container.
    #[arg(
        id = "kubernetes-cpu-request",
        long = "kubernetes-cpu-request",
        env = "KUBERNETES_CPU_REQUEST"
    )]
    pub(crate) cpu_request: Option<String>,
    /// Memory request of the build container.
    #[arg(
        id = "kubernetes-memory-request",
        long = "kubernetes-memory-request",
        env = "KUBERNETES_MEMORY_REQUEST"
    )]
    pub(crate) memory_request: Option<String>,
    /// Seconds to wait for the pod to run.
    #[arg(
        id = "kubernetes-poll-timeout",
        long = "kubernetes-poll-timeout",
        env = "KUBERNETES_POLL_TIMEOUT"
    )]
    pub(crate) poll_timeout: Option<i64>,
}

impl KubernetesFlags {
    /// The section these flags describe (every other key at its default).
    pub(crate) fn config(&self) -> KubernetesConfig {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        KubernetesConfig {
            namespace: text(&self.namespace),
            image: text(&self.image),
            host: text(&self.host),
            privileged: self.privileged.then_some(true),
            service_account: text(&self.service_account),
            pull_policy: StringOrArray::from(self.pull_policy.clone()),
            helper_image: text(&self.helper_image),
            cpu_limit: text(&self.cpu_limit),
            memory_limit: text(&self.memory_limit),
            cpu_request: text(&self.cpu_request),
            memory_request: text(&self.memory_request),
            poll_timeout: self.poll_timeout.unwrap_or(0),
            ..KubernetesConfig::default()
        }
    }
}

/// `[runners.cache]` from flags.
#[derive(Debug, clap::Args, Clone, Default)]
pub(crate) struct CacheFlags {
    /// Shared cache type: s3, gcs, azure.
    #[arg(id = "cache-type", long = "cache-type", env = "CACHE_TYPE")]
    pub(crate) cache_type: Option<String>,
    /// Prefix of object names.
    #[arg(id = "cache-path", long = "cache-path", env = "CACHE_PATH")]
    pub(crate) path: Option<String>,
    /// Share the cache between runners.
    #[arg(id = "cache-shared", long = "cache-shared", env = "CACHE_SHARED")]
    pub(crate) shared: bool,
    /// S3 server `host[:port]`.
    #[arg(
        id = "cache-s3-server-address",
        long = "cache-s3-server-address",
        env = "CACHE_S3_SERVER_ADDRESS"
    )]
    pub(crate) s3_server_address: Option<String>,
    /// S3 access key.
    #[arg(
        id = "cache-s3-access-key",
        long = "cache-s3-access-key",
        env = "CACHE_S3_ACCESS_KEY",
        hide_env_values = true
    )]
    pub(crate) s3_access_key: Option<String>,
    /// S3 secret key.
    #[arg(
        id = "cache-s3-secret-key",
        long = "cache-s3-secret-key",
        env = "CACHE_S3_SECRET_KEY",
        hide_env_values = true
    )]
    pub(crate) s3_secret_key: Option<String>,
    /// S3 bucket.
    #[arg(
        id = "cache-s3-bucket-name",
        long = "cache-s3-bucket-name",
        env = "CACHE_S3_BUCKET_NAME"
    )]
    pub(crate) s3_bucket_name: Option<String>,
    /// S3 region.
    #[arg(
        id = "cache-s3-bucket-location",
        long = "cache-s3-bucket-location",
        env = "CACHE_S3_BUCKET_LOCATION"
    )]
    pub(crate) s3_bucket_location: Option<String>,
    /// Talk to S3 over plain http.
    #[arg(
        id = "cache-s3-insecure",
        long = "cache-s3-insecure",
        env = "CACHE_S3_INSECURE"
    )]
    pub(crate) s3_insecure: bool,
}

impl CacheFlags {
    /// The section these flags describe, or `None` when none of them is set.
    pub(crate) fn config(&self) -> Option<CacheConfig> {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let s3 = [
            &self.s3_server_address,
            &self.s3_access_key,
            &self.s3_secret_key,
            &self.s3_bucket_name,
            &self.s3_bucket_location,
        ]
        .iter()
        .any(|value| value.is_some())
            || self.s3_insecure;
        let any = s3 || self.cache_type.is_some() || self.path.is_some() || self.shared;
        any.then(|| CacheConfig {
            cache_type: text(&self.cache_type),
            path: text(&self.path),
            shared: self.shared,
            s3: s3.then(|| CacheS3Config {
                server_address: text(&self.s3_server_address),
                access_key: text(&self.s3_access_key).into(),
                secret_key: text(&self.s3_secret_key).into(),
                bucket_name: text(&self.s3_bucket_name),
                bucket_location: text(&self.s3_bucket_location),
                insecure: self.s3_insecure,
                ..CacheS3Config::default()
            }),
            ..CacheConfig::default()
        })
    }
}
