//! The entry `register` starts from: flags and environment, then `--template-config`
//! filling what they left empty.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use runner_config::RunnerConfig;

use crate::cli::RunnerArgs;

/// The entry as far as flags and environment define it; the name defaults to the host name.
pub(super) fn runner_from_flags(flags: &RunnerArgs) -> RunnerConfig {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let path = |value: &Option<std::path::PathBuf>| {
        value
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    let mut runner = RunnerConfig {
        name: flags.name.clone().unwrap_or_else(hostname),
        url: text(&flags.url),
        shell: text(&flags.shell),
        limit: flags.limit.unwrap_or(0),
        request_concurrency: flags.request_concurrency.unwrap_or(0),
        output_limit: flags.output_limit.unwrap_or(0),
        builds_dir: text(&flags.builds_dir),
        cache_dir: text(&flags.cache_dir),
        environment: flags.env.clone(),
        pre_get_sources_script: text(&flags.pre_get_sources_script),
        post_get_sources_script: text(&flags.post_get_sources_script),
        pre_build_script: text(&flags.pre_build_script),
        post_build_script: text(&flags.post_build_script),
        tls_ca_file: path(&flags.tls_ca_file),
        tls_cert_file: path(&flags.tls_cert_file),
        tls_key_file: path(&flags.tls_key_file),
        clone_url: text(&flags.clone_url),
        // Known early so verify reports this executor's features; validated when asked.
        executor: flags.executor.as_deref().and_then(|name| name.parse().ok()),
        ..RunnerConfig::default()
    };
    for flag in &flags.feature_flags {
        if let Some((name, value)) = flag.split_once(':') {
            if let Ok(value) = value.trim().parse::<bool>() {
                runner.feature_flags.insert(name.trim().to_owned(), value);
            }
        }
    }
    // An executor's section comes with its executor, or with the flag naming its image or
    // namespace; other executors' flags (DOCKER_HOST in the environment, say) stay out.
    let executor = runner.executor.map(|e| e.as_str()).unwrap_or("");
    if executor.starts_with("docker") || flags.docker.image.is_some() {
        runner.docker = Some(flags.docker.config());
    }
    if executor == "kubernetes" || flags.kubernetes.namespace.is_some() {
        runner.kubernetes = Some(flags.kubernetes.config());
    }
    if executor == "custom" || flags.custom.is_set() {
        runner.custom = Some(flags.custom.config());
    }
    runner.cache = flags.cache.config();
    runner
}

/// Fills fields still empty in `runner` from the single `[[runners]]` entry of the
/// template (its credentials are discarded), like upstream's `mergo.Merge`.
pub(super) fn merge_template(runner: &mut RunnerConfig, template: &Path) -> anyhow::Result<()> {
    let loaded = runner_config::load_template(template)
        .map_err(|error| anyhow!("couldn't load configuration template file: {error}"))?;
    let [entry] = loaded.config.runners.as_slice() else {
        bail!("configuration template must contain exactly one [[runners]] entry");
    };
    let credentials = ["token", "id", "token_obtained_at", "token_expires_at"];
    let mut target = serde_json::to_value(&*runner)?;
    let mut source = serde_json::to_value(entry)?;
    for value in [&mut target, &mut source] {
        if let Some(object) = value.as_object_mut() {
            for key in credentials {
                object.remove(key);
            }
        }
    }
    fill_empty(&mut target, source);
    let merged: RunnerConfig = serde_json::from_value(target)
        .context("error while merging configuration with configuration template")?;
    *runner = RunnerConfig {
        id: runner.id,
        token: runner.token.clone(),
        token_obtained_at: runner.token_obtained_at,
        token_expires_at: runner.token_expires_at,
        ..merged
    };
    Ok(())
}

fn fill_empty(target: &mut serde_json::Value, source: serde_json::Value) {
    use serde_json::Value;
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) if !is_empty_json(existing) => fill_empty(existing, value),
                    _ => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, source) if is_empty_json(target) => *target = source,
        _ => {}
    }
}

fn is_empty_json(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(number) => number.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
    }
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_config::DockerConfig;

    #[test]
    fn section_flags_fill_their_sections() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([
            "gitlab-runner-rs",
            "register",
            "--executor",
            "docker",
            "--docker-image",
            "alpine:3",
            "--docker-privileged",
            "--docker-volumes",
            "/cache",
            "--docker-volumes",
            "/certs/client",
            "--docker-pull-policy",
            "if-not-present",
            "--cache-type",
            "s3",
            "--cache-s3-bucket-name",
            "runners",
            "--cache-s3-insecure",
        ])
        .unwrap();
        let Some(crate::cli::Command::Register(args)) = cli.command else {
            panic!("register");
        };
        let runner = runner_from_flags(&args.runner);
        let docker = runner.docker.unwrap();
        assert_eq!(docker.image, "alpine:3");
        assert!(docker.privileged);
        assert_eq!(docker.volumes, ["/cache", "/certs/client"]);
        assert_eq!(docker.pull_policy.as_slice(), ["if-not-present"]);
        assert!(runner.kubernetes.is_none());
        let cache = runner.cache.unwrap();
        assert_eq!(cache.cache_type, "s3");
        let s3 = cache.s3.unwrap();
        assert_eq!(s3.bucket_name, "runners");
        assert!(s3.insecure);
    }

    #[test]
    fn template_fills_only_empty_fields_and_drops_its_token() {
        let dir = tempfile_dir();
        let template = dir.join("template.toml");
        std::fs::write(&template, "[[runners]]\n  name = \"from-template\"\n  token = \"glrt-template\"\n  limit = 4\n  builds_dir = \"/builds\"\n  [runners.docker]\n    image = \"alpine\"\n    privileged = true\n").unwrap();
        let mut runner = RunnerConfig {
            name: "from-flags".into(),
            docker: Some(DockerConfig {
                image: "ubuntu".into(),
                ..DockerConfig::default()
            }),
            ..RunnerConfig::default()
        };
        merge_template(&mut runner, &template).unwrap();
        assert_eq!(runner.name, "from-flags");
        assert_eq!(runner.limit, 4);
        assert_eq!(runner.builds_dir, "/builds");
        assert!(runner.token.is_empty());
        let docker = runner.docker.unwrap();
        assert_eq!(docker.image, "ubuntu");
        assert!(docker.privileged);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("register-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
