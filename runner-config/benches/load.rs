//! Loading a 100-runner configuration (target: under 5 ms) and editing one entry of it.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use runner_config::{ConfigDocument, RunnerSelector, Secret, Timestamp, load_str};

/// A realistic file: a global section, then 100 runners alternating between a Docker entry
/// with an S3 cache and services and a Kubernetes entry with volumes and security contexts.
fn hundred_runners() -> String {
    let mut text = String::from(
        "# 100 runners\nconcurrent = 100\ncheck_interval = 3\nlog_level = \"info\"\nlisten_address = \":9252\"\n\n[session_server]\n  session_timeout = 1800\n",
    );
    for index in 0..100 {
        let common = format!(
            "\n[[runners]]\n  name = \"runner-{index:03}\"\n  url = \"https://gitlab.example.com\"\n  id = {index}\n  token = \"glrt-t1_token{index:012}\"\n  token_obtained_at = 2026-02-10T08:00:00Z\n  token_expires_at = 0001-01-01T00:00:00Z\n  limit = 4\n  request_concurrency = 2\n  environment = [\"GIT_DEPTH=20\", \"LC_ALL=C.UTF-8\"]\n"
        );
        text.push_str(&common);
        if index % 2 == 0 {
            let _ = write!(
                text,
                "  executor = \"docker\"\n  [runners.feature_flags]\n    FF_NETWORK_PER_BUILD = true\n  [runners.cache]\n    Type = \"s3\"\n    Shared = true\n    [runners.cache.s3]\n      ServerAddress = \"minio.example.com:9000\"\n      AccessKey = \"key\"\n      SecretKey = \"secret\"\n      BucketName = \"cache\"\n  [runners.docker]\n    image = \"alpine:3.20\"\n    privileged = false\n    pull_policy = [\"if-not-present\", \"always\"]\n    volumes = [\"/cache\", \"/certs:/certs:ro\"]\n    memory = \"4g\"\n    shm_size = 268435456\n    [[runners.docker.services]]\n      name = \"postgres:16\"\n      alias = \"db\"\n"
            );
        } else {
            let _ = write!(
                text,
                "  executor = \"kubernetes\"\n  [runners.feature_flags]\n    FF_NETWORK_PER_BUILD = true\n  [runners.kubernetes]\n    namespace = \"ci\"\n    image = \"alpine:3.20\"\n    poll_timeout = 600\n    cpu_limit = \"2\"\n    memory_limit = \"4Gi\"\n    [runners.kubernetes.node_selector]\n      \"kubernetes.io/os\" = \"linux\"\n    [runners.kubernetes.build_container_security_context]\n      read_only_root_filesystem = true\n      [runners.kubernetes.build_container_security_context.capabilities]\n        drop = [\"ALL\"]\n    [[runners.kubernetes.volumes.empty_dir]]\n      name = \"scratch\"\n      mount_path = \"/scratch\"\n      medium = \"Memory\"\n"
            );
        }
    }
    text
}

fn load_hundred_runners(criterion: &mut Criterion) {
    let text = hundred_runners();
    let loaded = match load_str(&text, "bench.toml") {
        Ok(loaded) => loaded,
        Err(error) => panic!("the benchmark file does not load: {error}"),
    };
    assert_eq!(loaded.config.runners.len(), 100);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    criterion.bench_function("load_str 100 runners", |bencher| {
        bencher.iter(|| load_str(black_box(&text), "bench.toml"))
    });
    // The floor: the same file through plain `toml` decoding, without locations, warnings or
    // validation.
    criterion.bench_function("toml::from_str 100 runners (baseline)", |bencher| {
        bencher.iter(|| toml::from_str::<runner_config::Config>(black_box(&text)))
    });
    criterion.bench_function("update_token in 100 runners", |bencher| {
        bencher.iter(|| {
            let mut document =
                ConfigDocument::parse(black_box(&text), "bench.toml").expect("parses");
            document
                .update_token(
                    &RunnerSelector::Index(57),
                    &Secret::new("glrt-new"),
                    Timestamp::ZERO,
                    Timestamp::ZERO,
                )
                .expect("runner 57 exists");
            document.to_string()
        })
    });
}

criterion_group!(benches, load_hundred_runners);
criterion_main!(benches);
