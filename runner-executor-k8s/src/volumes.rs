//! Pod volumes and the mounts every container gets (K6): config volumes plus the `repo` emptyDir
//! at the builds root, unless a config volume is mounted exactly there (the seed's
//! read-only-root-filesystem setup mounts its own `repo` emptyDir at `/builds`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, KeyToPath,
    PersistentVolumeClaimVolumeSource, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::settings::{Mount, Volumes};

/// Volumes of the pod and the mounts of each container.
pub(crate) fn volumes(
    config: &Volumes,
    builds_dir: &str,
) -> Result<(Vec<Volume>, Vec<VolumeMount>), String> {
    let mut volumes: Vec<Volume> = Vec::new();
    let mut mounts: Vec<VolumeMount> = Vec::new();
    let mut add = |mount: &Mount, volume: Volume| push(&mut volumes, &mut mounts, mount, volume);
    for host_path in &config.host_path {
        let path = host_path
            .host_path
            .clone()
            .unwrap_or_else(|| host_path.mount.mount_path.clone());
        add(
            &host_path.mount,
            Volume {
                name: host_path.mount.name.clone(),
                host_path: Some(HostPathVolumeSource { path, type_: None }),
                ..Volume::default()
            },
        )?;
    }
    for pvc in &config.pvc {
        add(
            &pvc.mount,
            Volume {
                name: pvc.mount.name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: pvc.mount.name.clone(),
                    read_only: pvc.mount.read_only.then_some(true),
                }),
                ..Volume::default()
            },
        )?;
    }
    for config_map in &config.config_map {
        add(
            &config_map.mount,
            Volume {
                name: config_map.mount.name.clone(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map.mount.name.clone(),
                    items: items(&config_map.items),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
        )?;
    }
    for secret in &config.secret {
        add(
            &secret.mount,
            Volume {
                name: secret.mount.name.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.mount.name.clone()),
                    items: items(&secret.items),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
        )?;
    }
    for empty_dir in &config.empty_dir {
        add(
            &empty_dir.mount,
            Volume {
                name: empty_dir.mount.name.clone(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: (!empty_dir.medium.is_empty()).then(|| empty_dir.medium.clone()),
                    size_limit: empty_dir.size_limit.clone().map(Quantity),
                }),
                ..Volume::default()
            },
        )?;
    }
    let builds_root_mounted = mounts
        .iter()
        .any(|m| m.mount_path.trim_end_matches('/') == builds_dir.trim_end_matches('/'));
    if !builds_root_mounted {
        let repo = Mount {
            name: "repo".to_owned(),
            mount_path: builds_dir.to_owned(),
            ..Mount::default()
        };
        let volume = Volume {
            name: "repo".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        };
        push(&mut volumes, &mut mounts, &repo, volume)?;
    }
    Ok((volumes, mounts))
}

fn push(
    volumes: &mut Vec<Volume>,
    mounts: &mut Vec<VolumeMount>,
    mount: &Mount,
    volume: Volume,
) -> Result<(), String> {
    if mount.name.is_empty() || mount.mount_path.is_empty() {
        return Err(format!(
            "volume {:?}: name and mount_path are required",
            mount.name
        ));
    }
    if !volumes.iter().any(|v| v.name == volume.name) {
        volumes.push(volume);
    }
    mounts.push(VolumeMount {
        name: mount.name.clone(),
        mount_path: mount.mount_path.clone(),
        sub_path: mount.sub_path.clone(),
        read_only: mount.read_only.then_some(true),
        mount_propagation: mount.mount_propagation.clone(),
        ..VolumeMount::default()
    });
    Ok(())
}

/// Whether the builds root is a configured volume other than an emptyDir (shared builds dir, §3).
pub(crate) fn is_builds_dir_shared(config: &Volumes, builds_dir: &str) -> bool {
    let same = |path: &str| path.trim_end_matches('/') == builds_dir.trim_end_matches('/');
    config.host_path.iter().any(|v| same(&v.mount.mount_path))
        || config.pvc.iter().any(|v| same(&v.mount.mount_path))
        || config.config_map.iter().any(|v| same(&v.mount.mount_path))
        || config.secret.iter().any(|v| same(&v.mount.mount_path))
}

fn items(items: &BTreeMap<String, String>) -> Option<Vec<KeyToPath>> {
    (!items.is_empty()).then(|| {
        items
            .iter()
            .map(|(key, path)| KeyToPath {
                key: key.clone(),
                path: path.clone(),
                mode: None,
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{EmptyDirVolume, HostPathVolume};

    fn mount(name: &str, path: &str) -> Mount {
        Mount {
            name: name.to_owned(),
            mount_path: path.to_owned(),
            ..Mount::default()
        }
    }

    #[test]
    fn repo_volume_is_added_unless_the_builds_root_is_configured() {
        let (volumes, mounts) = volumes(&Volumes::default(), "/builds").unwrap();
        assert_eq!(volumes.len(), 1);
        assert_eq!(mounts[0].mount_path, "/builds");

        let config = Volumes {
            empty_dir: vec![EmptyDirVolume {
                mount: mount("repo", "/builds"),
                medium: "Memory".to_owned(),
                size_limit: None,
            }],
            ..Volumes::default()
        };
        let (volumes, mounts) = super::volumes(&config, "/builds").unwrap();
        assert_eq!(volumes.len(), 1);
        assert_eq!(
            volumes[0].empty_dir.as_ref().unwrap().medium.as_deref(),
            Some("Memory")
        );
        assert_eq!(mounts.len(), 1);
    }

    #[test]
    fn host_path_defaults_to_the_mount_path_and_shares_the_builds_dir() {
        let config = Volumes {
            host_path: vec![HostPathVolume {
                mount: mount("cache", "/builds"),
                host_path: None,
            }],
            ..Volumes::default()
        };
        let (volumes, _) = super::volumes(&config, "/builds").unwrap();
        assert_eq!(volumes[0].host_path.as_ref().unwrap().path, "/builds");
        assert!(is_builds_dir_shared(&config, "/builds/"));
    }

    #[test]
    fn missing_mount_path_is_an_error() {
        let config = Volumes {
            host_path: vec![HostPathVolume {
                mount: mount("x", ""),
                host_path: None,
            }],
            ..Volumes::default()
        };
        assert!(super::volumes(&config, "/builds").is_err());
    }
}
