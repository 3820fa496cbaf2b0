//! Proptest strategies for the configuration model and for hand-written-looking documents,
//! for this crate's property tests and for other crates' tests (feature `test-util`).

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

mod document;

pub use document::{GeneratedDocument, arb_document};

use crate::{
    CacheConfig, CacheS3Config, Config, ContainerSecurityContext, CustomBuildDir, DockerConfig,
    EmptyDirVolume, Executor, GoDuration, HostAlias, HostPathVolume, KubernetesConfig,
    KubernetesVolumes, LogFormat, LogLevel, RunnerConfig, Secret, Service, SessionServer,
    StringOrArray, Timestamp,
};

/// Any text, including quotes, backslashes, newlines and non-ASCII characters.
pub fn arb_text() -> impl Strategy<Value = String> {
    "[ -~\t\n\"'\\\\éµ中]{0,24}"
}

/// A valid label key and value (upstream's patterns).
fn arb_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map("[a-z_][a-z0-9._-]{2,12}", "[a-zA-Z0-9._-]{1,12}", 0..4)
}

/// A map with keys that need quoting in TOML (`kubernetes.io/os`).
fn arb_string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map("[a-z]{1,6}(\\.[a-z]{1,6})?(/[a-z]{1,6})?", arb_text(), 0..3)
}

/// Any Go duration.
pub fn arb_duration() -> impl Strategy<Value = GoDuration> {
    prop_oneof![
        any::<i64>().prop_map(GoDuration::from_nanos),
        (0i64..100_000).prop_map(GoDuration::from_secs),
    ]
}

/// Any timestamp TOML can express, with or without fractional seconds.
pub fn arb_timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        Just(Timestamp::ZERO),
        (-62_135_596_800i64..=253_402_300_799, 0u32..1_000_000_000)
            .prop_map(|(seconds, nanos)| Timestamp::from_unix(seconds, nanos)),
    ]
}

fn arb_url() -> impl Strategy<Value = String> {
    (
        "(https?)",
        "[a-z]{1,10}",
        option::of(1u16..65535),
        "(/[a-z]{1,5}){0,2}",
    )
        .prop_map(|(scheme, host, port, path)| match port {
            Some(port) => format!("{scheme}://{host}.example.com:{port}{path}"),
            None => format!("{scheme}://{host}.example.com{path}"),
        })
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_text(),
        arb_text(),
        vec(arb_text(), 0..3),
        vec(arb_text(), 0..2),
        vec(arb_text(), 0..2),
    )
        .prop_map(|(name, alias, command, entrypoint, environment)| Service {
            name,
            alias,
            command,
            entrypoint,
            environment,
            ..Service::default()
        })
}

/// A `[runners.docker]` section.
pub fn arb_docker() -> impl Strategy<Value = DockerConfig> {
    (
        (
            arb_text(),
            any::<bool>(),
            vec(arb_text(), 0..3),
            vec(arb_text(), 0..3),
            vec(arb_text(), 0..3),
        ),
        (
            any::<i64>(),
            arb_text(),
            option::of(any::<bool>()),
            any::<i64>(),
            vec(arb_service(), 0..3),
        ),
        (arb_string_map(), option::of(any::<i64>()), arb_text()),
    )
        .prop_map(
            |(
                (image, privileged, volumes, pull_policy, dns),
                (shm_size, memory, services_privileged, wait_for_services_timeout, services),
                (sysctls, services_limit, helper_image_flavor),
            )| DockerConfig {
                image,
                privileged,
                volumes,
                pull_policy: StringOrArray(pull_policy),
                allowed_pull_policies: dns.clone(),
                dns,
                shm_size,
                memory,
                services_privileged,
                wait_for_services_timeout,
                services,
                sysctls,
                services_limit,
                helper_image_flavor,
                ..DockerConfig::default()
            },
        )
}

/// A `[runners.kubernetes]` section.
pub fn arb_kubernetes() -> impl Strategy<Value = KubernetesConfig> {
    (
        (
            arb_text(),
            any::<i64>(),
            any::<i64>(),
            arb_string_map(),
            arb_string_map(),
        ),
        (
            option::of(any::<bool>()),
            option::of(arb_duration()),
            vec((arb_text(), arb_text()), 0..3),
            vec((arb_text(), arb_text(), arb_text()), 0..3),
        ),
        (
            arb_text(),
            arb_text(),
            option::of(any::<i64>()),
            vec(arb_text(), 0..3),
        ),
    )
        .prop_map(
            |(
                (namespace, poll_interval, poll_timeout, node_selector, pod_annotations),
                (read_only_root_filesystem, cleanup_resources_timeout, empty_dirs, host_paths),
                (cpu_limit, memory_limit_overwrite_max_allowed, run_as_user, hostnames),
            )| KubernetesConfig {
                namespace,
                poll_interval,
                poll_timeout,
                node_selector,
                pod_annotations,
                cleanup_resources_timeout,
                cpu_limit,
                memory_limit_overwrite_max_allowed,
                build_container_security_context: ContainerSecurityContext {
                    read_only_root_filesystem,
                    run_as_user,
                    ..ContainerSecurityContext::default()
                },
                volumes: KubernetesVolumes {
                    empty_dir: empty_dirs
                        .into_iter()
                        .map(|(name, medium)| EmptyDirVolume {
                            mount_path: format!("/{name}"),
                            name,
                            medium,
                            ..EmptyDirVolume::default()
                        })
                        .collect(),
                    host_path: host_paths
                        .into_iter()
                        .map(|(name, mount_path, host_path)| HostPathVolume {
                            name,
                            mount_path,
                            host_path,
                            read_only: true,
                            ..HostPathVolume::default()
                        })
                        .collect(),
                    ..KubernetesVolumes::default()
                },
                host_aliases: if hostnames.is_empty() {
                    Vec::new()
                } else {
                    vec![HostAlias {
                        ip: "127.0.0.1".to_owned(),
                        hostnames,
                    }]
                },
                ..KubernetesConfig::default()
            },
        )
}

fn arb_cache() -> impl Strategy<Value = CacheConfig> {
    (
        arb_text(),
        any::<bool>(),
        any::<i64>(),
        option::of((arb_text(), arb_text(), option::of(any::<bool>()))),
    )
        .prop_map(
            |(path, shared, max_uploaded_archive_size, s3)| CacheConfig {
                cache_type: "s3".to_owned(),
                path,
                shared,
                max_uploaded_archive_size,
                s3: s3.map(|(bucket_name, secret_key, dual_stack)| CacheS3Config {
                    bucket_name,
                    secret_key: Secret::new(secret_key),
                    dual_stack,
                    ..CacheS3Config::default()
                }),
                ..CacheConfig::default()
            },
        )
}

/// A `[[runners]]` entry that loads without problems.
pub fn arb_runner() -> impl Strategy<Value = RunnerConfig> {
    (
        (
            arb_text(),
            arb_url(),
            any::<i64>(),
            arb_text(),
            arb_timestamp(),
            arb_timestamp(),
        ),
        (
            option::of(proptest::sample::select(Executor::ALL.to_vec())),
            0..=RunnerConfig::MAX_LIMIT,
            any::<i64>(),
            option::of(arb_duration()),
            vec(arb_text(), 0..3),
            arb_text(),
        ),
        (
            arb_labels(),
            btree_map("FF_[A-Z_]{1,12}", any::<bool>(), 0..3),
            option::of(any::<bool>()),
            arb_text(),
        ),
        (
            option::of(arb_docker()),
            option::of(arb_kubernetes()),
            option::of(arb_cache()),
        ),
    )
        .prop_map(
            |(
                (name, url, id, token, token_obtained_at, token_expires_at),
                (executor, limit, output_limit, unhealthy_interval, environment, pre_build_script),
                (labels, feature_flags, custom_build_dir, tls_ca_file),
                (docker, kubernetes, cache),
            )| RunnerConfig {
                name,
                url,
                id,
                token: Secret::new(token),
                token_obtained_at,
                token_expires_at,
                executor,
                limit,
                output_limit,
                unhealthy_interval,
                environment,
                pre_build_script,
                labels,
                feature_flags,
                custom_build_dir: CustomBuildDir {
                    enabled: custom_build_dir,
                },
                tls_ca_file,
                docker,
                kubernetes,
                cache,
                ..RunnerConfig::default()
            },
        )
}

/// A whole configuration that loads without problems.
pub fn arb_config() -> impl Strategy<Value = Config> {
    (
        (
            1i64..64,
            any::<i64>(),
            any::<i64>(),
            option::of(arb_duration()),
        ),
        (
            option::of(proptest::sample::select(vec![
                LogLevel::Debug,
                LogLevel::Info,
                LogLevel::Warning,
            ])),
            option::of(proptest::sample::select(vec![
                LogFormat::Runner,
                LogFormat::Json,
            ])),
            arb_text(),
            arb_labels(),
        ),
        ("[a-z0-9.:]{0,12}", any::<i64>(), option::of(arb_text())),
        vec(arb_runner(), 0..4),
    )
        .prop_map(
            |(
                (concurrent, check_interval, shutdown_timeout, connection_max_age),
                (log_level, log_format, listen_address, labels),
                (advertise_address, session_timeout, sentry_dsn),
                runners,
            )| Config {
                concurrent,
                check_interval,
                shutdown_timeout,
                connection_max_age,
                log_level,
                log_format,
                listen_address,
                labels,
                session_server: SessionServer {
                    advertise_address,
                    session_timeout,
                    ..SessionServer::default()
                },
                sentry_dsn: sentry_dsn.map(Secret::new),
                runners,
                ..Config::default()
            },
        )
}
