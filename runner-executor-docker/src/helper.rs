//! The helper (`predefined`) container's image and binary (deployment.md §1.7, §2).
//!
//! The image is resolved only when a stage first needs the helper container (or a service
//! needs a health check), so a job that never fetches sources or moves cache or artifacts runs
//! on a daemon that has no helper image at all. The default image is our own
//! [`default_helper_image`]; it is looked up on the daemon, then loaded from a local archive
//! (the air-gapped path, as upstream loads its prebuilt archives), then pulled.
//!
//! The runner's own binary reaches the container through the Docker API: after the container
//! is created and before it starts, a one-file tar archive is streamed to the container's
//! `/` (`PUT /containers/{id}/archive`). Nothing depends on a path the daemon resolves on its
//! own host, so a runner in a container, a remote daemon and Docker-in-Docker all work.

use std::path::{Path, PathBuf};

use bollard::query_parameters::{ImportImageOptionsBuilder, UploadToContainerOptionsBuilder};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use runner_executor::TraceWriter;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::policy::PullPolicy;
use crate::pull::{daemon_message, ensure_image};
use crate::settings::{DockerSettings, RegistryAuth};

/// Where the `gitlab-runner-rs` binary appears in the helper container.
pub const HELPER_BINARY_PATH: &str = "/usr/bin/gitlab-runner-helper";

/// Repository of our helper image (built by `scripts/build-images.sh` or its Dockerfile).
pub const HELPER_IMAGE_REPOSITORY: &str = "gitlab-runner-rs-helper";

/// The architecture token of upstream's helper tags (deployment.md §1.2) for this build.
fn arch_token() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The default `helper_image`: `gitlab-runner-rs-helper:<arch>-v<version>`, tagged like
/// upstream's helper (`x86_64-v0.1.0`); the binary in it must match the runner's version.
pub fn default_helper_image() -> String {
    format!(
        "{HELPER_IMAGE_REPOSITORY}:{}-v{}",
        arch_token(),
        env!("CARGO_PKG_VERSION")
    )
}

/// File name of the archive (`docker save` output, optionally gzipped) that holds
/// [`default_helper_image`]: `gitlab-runner-rs-helper-<arch>.docker.tar[.gz]`.
fn archive_names() -> [String; 2] {
    let base = format!("{HELPER_IMAGE_REPOSITORY}-{}.docker.tar", arch_token());
    [format!("{base}.gz"), base]
}

/// Directories searched for the helper image archive, for a runner executable at `executable`:
/// `<dir>/out/helper-images` (upstream's place for a binary-only install),
/// `<dir>/../lib/gitlab-runner-rs/helper-images` (the package and runner-image layout:
/// `/usr/lib/gitlab-runner-rs/helper-images` for `/usr/bin/gitlab-runner-rs`) and
/// `/usr/share/gitlab-runner-rs/helper-images`.
pub fn helper_archive_dirs(executable: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = executable.parent() {
        dirs.push(dir.join("out/helper-images"));
        if let Some(prefix) = dir.parent() {
            dirs.push(prefix.join("lib/gitlab-runner-rs/helper-images"));
        }
    }
    dirs.push(PathBuf::from("/usr/share/gitlab-runner-rs/helper-images"));
    dirs
}

/// Label of our helper images: the sha256 of the binary at [`HELPER_BINARY_PATH`]
/// (`scripts/build-images.sh` sets it). When it is the runner's own binary's, nothing is copied.
pub const HELPER_BINARY_LABEL: &str = "gitlab-runner-rs.helper-sha256";

/// The sha256 of the runner's binary, computed once per executor (a blocking read of a few
/// tens of megabytes) and shared by its jobs; `None` when the file cannot be read.
pub(crate) type BinaryDigest = std::sync::Arc<OnceCell<Option<String>>>;

/// Whether the image `id` already carries `binary` (its [`HELPER_BINARY_LABEL`] is the
/// binary's sha256), so copying it into each helper container can be skipped: the default
/// deployment (the runner image and the helper archive it ships) copies nothing per job.
pub(crate) async fn image_carries(
    engine: &Engine,
    id: &str,
    binary: &Path,
    digest: &BinaryDigest,
) -> bool {
    let Ok(image) = engine.docker.inspect_image(id).await else {
        return false;
    };
    let Some(label) = image
        .config
        .and_then(|config| config.labels)
        .and_then(|mut labels| labels.remove(HELPER_BINARY_LABEL))
    else {
        return false;
    };
    let path = binary.to_owned();
    let ours = digest
        .get_or_init(|| async move {
            tokio::task::spawn_blocking(move || {
                let mut file = std::fs::File::open(&path).ok()?;
                let mut hasher = Sha256::new();
                std::io::copy(&mut file, &mut hasher).ok()?;
                Some(hex::encode(hasher.finalize()))
            })
            .await
            .ok()
            .flatten()
        })
        .await;
    ours.as_deref() == Some(label.as_str())
}

/// Makes the helper image available and returns its id.
///
/// A configured `helper_image` is used if present, else pulled (as before, `if-not-present`).
/// The default one: present on the daemon → used; else loaded from the first archive found in
/// `helper_archive_dirs`; else pulled, with a warning that says how to provide it.
pub(crate) async fn resolve_image(
    engine: &Engine,
    settings: &DockerSettings,
    auth: &RegistryAuth,
    trace: &mut TraceWriter,
) -> Result<String> {
    if let Some(configured) = settings.helper_image.as_deref().filter(|i| !i.is_empty()) {
        return ensure_image(engine, configured, &[PullPolicy::IfNotPresent], auth, trace).await;
    }
    let reference = default_helper_image();
    if let Ok(found) = engine.docker.inspect_image(&reference).await {
        return Ok(found.id.unwrap_or(reference));
    }
    match load_archive(engine, &settings.helper_archive_dirs).await {
        Ok(Some(path)) => {
            if let Ok(found) = engine.docker.inspect_image(&reference).await {
                tracing::debug!(archive = %path.display(), "loaded the helper image");
                return Ok(found.id.unwrap_or(reference));
            }
            tracing::warn!(
                archive = %path.display(),
                image = %reference,
                "the helper image archive did not contain the helper image"
            );
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "failed to load the helper image archive"),
    }
    trace
        .warning(&format!(
            "The helper image {reference} is not on the Docker daemon and no archive {} was \
             found in {}; pulling it. Build it with scripts/build-images.sh or set \
             helper_image in [runners.docker].",
            archive_names()[0],
            settings
                .helper_archive_dirs
                .iter()
                .map(|dir| dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await;
    trace
        .plain(&format!("Using helper image:  {reference}"))
        .await;
    ensure_image(engine, &reference, &[PullPolicy::Always], auth, trace).await
}

/// Loads the first helper archive found in `dirs` into the daemon (`POST /images/load`; the
/// daemon decompresses gzip itself). `Ok(None)` when there is none.
async fn load_archive(engine: &Engine, dirs: &[PathBuf]) -> Result<Option<PathBuf>, String> {
    let names = archive_names();
    let Some(path) = dirs
        .iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|path| path.is_file())
    else {
        return Ok(None);
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|error| format!("loading {}: {error}", path.display()))?;
    let options = ImportImageOptionsBuilder::default().quiet(true).build();
    let mut progress = engine
        .docker
        .import_image_stream(options, ReaderStream::new(file), None);
    while let Some(item) = progress.next().await {
        item.map_err(|error| format!("loading {}: {}", path.display(), daemon_message(&error)))?;
    }
    Ok(Some(path))
}

/// Copies the binary at `binary` to [`HELPER_BINARY_PATH`] (mode 0755) in the created, not yet
/// started container `id`. The file is streamed, never held in memory.
pub(crate) async fn inject_binary(
    engine: &Engine,
    container: &str,
    id: &str,
    binary: &Path,
) -> Result<()> {
    let failed = |message: String| Error::Api {
        operation: format!(
            "copying the helper binary {} into container {container}",
            binary.display()
        ),
        message,
        invalid_request: false,
    };
    let file = tokio::fs::File::open(binary)
        .await
        .map_err(|error| failed(error.to_string()))?;
    let size = file
        .metadata()
        .await
        .map_err(|error| failed(error.to_string()))?
        .len();
    let header = tar_header(size).map_err(|error| failed(error.to_string()))?;
    // A tar entry is padded to 512 bytes; two zero blocks end the archive.
    let padding = (512 - size % 512) % 512;
    let trailer = vec![0_u8; usize::try_from(padding).unwrap_or(0) + 1024];
    let body = stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(header)) })
        .chain(ReaderStream::new(file.take(size)))
        .chain(stream::once(async move { Ok(Bytes::from(trailer)) }));
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    engine
        .docker
        .upload_to_container(id, Some(options), bollard::body_try_stream(body))
        .await
        .map_err(|error| failed(daemon_message(&error)))
}

/// The ustar header of `usr/bin/gitlab-runner-helper`, `size` bytes, mode 0755, owned by root
/// (POSIX.1-1988 layout; numeric fields are NUL-terminated octal).
fn tar_header(size: u64) -> std::io::Result<Vec<u8>> {
    fn octal(field: &mut [u8], value: u64) {
        let text = format!("{value:0width$o}", width = field.len() - 1);
        field[..text.len()].copy_from_slice(text.as_bytes());
    }
    // 11 octal digits: the largest size a plain ustar header holds.
    if size >= 1 << 33 {
        return Err(std::io::Error::other(
            "the helper binary is larger than 8 GiB",
        ));
    }
    let mut header = vec![0_u8; 512];
    let name = HELPER_BINARY_PATH.trim_start_matches('/').as_bytes();
    header[..name.len()].copy_from_slice(name);
    octal(&mut header[100..108], 0o755);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], size);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field read as spaces.
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_image_is_tagged_by_architecture_and_version() {
        let image = default_helper_image();
        let expected_arch = if cfg!(target_arch = "x86_64") {
            "x86_64"
        } else {
            arch_token()
        };
        assert_eq!(
            image,
            format!(
                "gitlab-runner-rs-helper:{expected_arch}-v{}",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn archives_are_searched_next_to_the_binary_then_in_the_package_dirs() {
        assert_eq!(
            helper_archive_dirs(Path::new("/usr/bin/gitlab-runner-rs")),
            [
                PathBuf::from("/usr/bin/out/helper-images"),
                PathBuf::from("/usr/lib/gitlab-runner-rs/helper-images"),
                PathBuf::from("/usr/share/gitlab-runner-rs/helper-images"),
            ]
        );
    }

    #[test]
    fn the_tar_header_names_an_executable_file_at_the_helper_path() {
        let header = tar_header(1000).unwrap();
        assert_eq!(header.len(), 512);
        assert_eq!(&header[..28], b"usr/bin/gitlab-runner-helper");
        assert_eq!(&header[100..108], b"0000755\0");
        assert_eq!(&header[124..136], b"00000001750\0");
        assert_eq!(header[156], b'0');
        assert_eq!(&header[257..265], b"ustar\x0000");
        // The checksum: the sum of all bytes with the checksum field read as eight spaces.
        let mut blank = header.clone();
        blank[148..156].copy_from_slice(b"        ");
        let sum: u32 = blank.iter().map(|&byte| u32::from(byte)).sum();
        let stored = std::str::from_utf8(&header[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
    }

    /// `docker save` of an image into `dir` under the archive's name, gzipped as
    /// build-images.sh writes it.
    fn save_archive(image: &str, dir: &Path) {
        let saved = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker save {image} | gzip -1 > {}",
                dir.join(&archive_names()[0]).display()
            ))
            .status()
            .expect("docker save runs");
        assert!(saved.success());
    }

    fn docker(args: &[&str]) -> bool {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .expect("the docker CLI runs")
            .status
            .success()
    }

    #[tokio::test]
    #[ignore = "needs docker and scripts/setup-docker.sh"]
    async fn the_archive_in_the_first_search_dir_that_has_one_is_loaded() {
        let image = format!(
            "gitlab-runner-rs-test/archived-helper:{}",
            std::process::id()
        );
        assert!(docker(&[
            "tag",
            "gitlab-runner-rs-test/busybox-helper:latest",
            &image
        ]));
        let empty = tempfile::tempdir().unwrap();
        let with_archive = tempfile::tempdir().unwrap();
        save_archive(&image, with_archive.path());
        assert!(docker(&["rmi", &image]));

        let engine = Engine::connect(&DockerSettings::default()).await.unwrap();
        let dirs = [empty.path().to_owned(), with_archive.path().to_owned()];
        let loaded = load_archive(&engine, &dirs).await;
        let present = docker(&["image", "inspect", &image]);
        docker(&["rmi", &image]);
        assert_eq!(
            loaded,
            Ok(Some(with_archive.path().join(&archive_names()[0])))
        );
        assert!(present, "{image} was not loaded");
        assert_eq!(load_archive(&engine, &dirs[..1]).await, Ok(None));
    }
}
