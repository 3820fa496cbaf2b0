//! How our helper binary reaches the pod (issue #15): the cache and artifact stages call
//! `gitlab-runner-rs` in its helper modes inside the helper container, so the binary must be
//! there whatever image that container runs.
//!
//! The default helper image is ours, `gitlab-runner-rs-helper:<arch>-v<version>` (Debian slim,
//! bash, git, git-lfs, certificates, our statically linked binary at
//! `/usr/bin/gitlab-runner-helper`; built by `scripts/build-images.sh`). When a job has cache or
//! artifact stages, the pod gets an `init-permissions` init container from the helper image that
//! copies the binary into the scripts `emptyDir` (`<scripts_base_dir>/scripts-<project>-<job>`),
//! mounted in every container, and checks that it is ours (its `--version` block names the Rust
//! version; upstream's Go helper at the same path would take our arguments wrongly). The stages
//! then call it by that absolute path, independent of the image's `PATH`.
//!
//! A helper image without our binary fails the init container, hence the pod, and the job fails
//! as a system failure naming the setting to change; it never passes without its artifacts.
//! Jobs without cache or artifacts get no init container, so they start as fast as before.

use k8s_openapi::api::core::v1::{Container, Pod};
use runner_executor::JobSpec;

use crate::settings::Settings;

/// Repository of the default helper image; users who push it to a registry set `helper_image`.
pub const DEFAULT_HELPER_IMAGE_REPOSITORY: &str = "gitlab-runner-rs-helper";

/// Where the helper image carries our binary.
pub const HELPER_BINARY_PATH: &str = "/usr/bin/gitlab-runner-helper";

/// Where upstream's helper images carry dumb-init (`FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR`).
const DUMB_INIT_PATH: &str = "/usr/bin/dumb-init";

/// The init container that installs the binary (upstream's name, so
/// `init_permissions_container_security_context` applies to it).
pub(crate) const INIT_CONTAINER: &str = "init-permissions";

/// The file name of the copy in the scripts directory.
const COPY_NAME: &str = "gitlab-runner-helper";

/// The default helper image's tag for this build: `<arch>-v<version>`, with upstream's
/// architecture tokens (`x86_64`, `arm64`, `arm`, ...).
pub fn default_helper_image_tag() -> String {
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    };
    format!("{arch}-v{}", env!("CARGO_PKG_VERSION"))
}

/// `<scripts_base_dir>/scripts-<project>-<job>`: the shared `emptyDir` of the pod.
pub(crate) fn scripts_dir(settings: &Settings, job: &JobSpec) -> String {
    format!(
        "{}/scripts-{}-{}",
        settings.scripts_base_dir, job.project_id, job.id
    )
}

/// The path the cache and artifact stages call.
pub(crate) fn installed_path(settings: &Settings, job: &JobSpec) -> String {
    format!("{}/{COPY_NAME}", scripts_dir(settings, job))
}

/// Whether any stage of `job` calls the helper binary (cache or artifact transfer).
pub(crate) fn needed(job: &JobSpec) -> bool {
    let t = &job.transfer;
    [
        &t.restore_cache,
        &t.download_artifacts,
        &t.archive_cache,
        &t.archive_cache_on_failure,
        &t.upload_artifacts_on_success,
        &t.upload_artifacts_on_failure,
    ]
    .iter()
    .any(|lines| !lines.is_empty())
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The init container's shell program: copy `name` (from its usual path, else `PATH`) into
/// `dir`; for the helper binary also check that the copy runs and is ours. Errors go to
/// stderr, which becomes the container's termination message.
pub(crate) fn install_script(dir: &str, helper: bool, dumb_init: bool) -> String {
    let mut script = String::from("set -e\n");
    let copy = |name: &str, usual: &str| {
        let target = quote(&format!("{dir}/{name}"));
        format!(
            "src={usual}\nif [ ! -x \"$src\" ]; then src=$(command -v {name} || true); fi\n\
             if [ -z \"$src\" ]; then echo '{usual} not found in the helper image' >&2; exit 1; fi\n\
             mkdir -p {dir}\ncp \"$src\" {target}\nchmod 0755 {target}\n",
            dir = quote(dir)
        )
    };
    if helper {
        script.push_str(&copy(COPY_NAME, HELPER_BINARY_PATH));
        let target = quote(&format!("{dir}/{COPY_NAME}"));
        script.push_str(&format!(
            "case \"$({target} --version 2>&1)\" in\n*'Rust version'*) ;;\n\
             *) echo \"$src is not the gitlab-runner-rs helper binary\" >&2; exit 1 ;;\nesac\n"
        ));
    }
    if dumb_init {
        script.push_str(&copy("dumb-init", DUMB_INIT_PATH));
    }
    script
}

/// The init container, or `None` when nothing needs installing.
pub(crate) fn init_container(
    base: Container,
    dir: &str,
    helper: bool,
    dumb_init: bool,
) -> Option<Container> {
    (helper || dumb_init).then(|| Container {
        name: INIT_CONTAINER.to_owned(),
        command: Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            install_script(dir, helper, dumb_init),
        ]),
        // The script's stderr explains a failure; the kubelet copies it into the status.
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        ..base
    })
}

/// Why the pod cannot run when its init container failed, with what to set; `None` otherwise.
pub(crate) fn init_failure(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let init = status
        .init_container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == INIT_CONTAINER)?;
    let terminated = init.state.as_ref()?.terminated.as_ref()?;
    if terminated.exit_code == 0 {
        return None;
    }
    let container = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .and_then(|list| list.iter().find(|c| c.name == INIT_CONTAINER));
    let image = container.and_then(|c| c.image.clone()).unwrap_or_default();
    let script = container
        .and_then(|c| c.command.as_ref())
        .map(|c| c.join(" "))
        .unwrap_or_default();
    let mut wanted = Vec::new();
    if script.contains(HELPER_BINARY_PATH) {
        wanted.push(format!("gitlab-runner-rs at {HELPER_BINARY_PATH}"));
    }
    if script.contains(DUMB_INIT_PATH) {
        wanted.push(format!(
            "dumb-init at {DUMB_INIT_PATH} (FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR)"
        ));
    }
    let detail = terminated
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Some(format!(
        "installing the helper tools failed: init container {INIT_CONTAINER} of image \"{image}\" exited with code {}{detail}; \
         set helper_image in [runners.kubernetes] to an image that has {} \
         (the {DEFAULT_HELPER_IMAGE_REPOSITORY} image, built by scripts/build-images.sh)",
        terminated.exit_code,
        wanted.join(" and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_arch_and_version() {
        let tag = default_helper_image_tag();
        assert!(
            tag.ends_with(&format!("-v{}", env!("CARGO_PKG_VERSION"))),
            "{tag}"
        );
        if cfg!(target_arch = "x86_64") {
            assert!(tag.starts_with("x86_64-v"), "{tag}");
        }
    }

    fn run(script: &str, path: &str) -> (i32, String) {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    #[test]
    fn the_script_installs_our_binary_and_refuses_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let target = dir.path().join("scripts dir");
        let script = install_script(target.to_str().unwrap(), true, false);
        let path = format!("{}:/usr/bin:/bin", bin.display());

        let (code, stderr) = run(&script, &path);
        assert_eq!(code, 1);
        assert!(
            stderr.contains("/usr/bin/gitlab-runner-helper not found"),
            "{stderr}"
        );

        let helper = bin.join("gitlab-runner-helper");
        std::fs::write(
            &helper,
            "#!/bin/sh\necho 'Version: 19.4.0'\necho 'Go version: go1.24'\n",
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (code, stderr) = run(&script, &path);
        assert_eq!(code, 1);
        assert!(
            stderr.contains("is not the gitlab-runner-rs helper binary"),
            "{stderr}"
        );

        std::fs::write(
            &helper,
            "#!/bin/sh\necho 'Version: 0.1.0'\necho 'Rust version: 1.95'\n",
        )
        .unwrap();
        let (code, stderr) = run(&script, &path);
        assert_eq!(code, 0, "{stderr}");
        let copy = target.join("gitlab-runner-helper");
        assert_eq!(
            std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
}
