//! Pod and container security contexts (K5): the four container contexts fall back on the
//! top-level `privileged`, `allow_privilege_escalation`, `cap_add` and `cap_drop` settings.

use k8s_openapi::api::core::v1::{
    AppArmorProfile, Capabilities, PodSecurityContext as K8sPodSecurityContext, SELinuxOptions,
    SeccompProfile, SecurityContext,
};

use crate::settings::{ContainerSecurityContext, PodSecurityContext, Profile, Settings};

/// The capability dropped on Linux unless explicitly added.
const DEFAULT_DROP: &str = "NET_RAW";

/// The security context of one container, `None` when nothing at all is set.
pub(crate) fn container_context(
    settings: &Settings,
    own: &ContainerSecurityContext,
) -> Option<SecurityContext> {
    let add: Vec<String> = own
        .capabilities_add
        .clone()
        .unwrap_or_else(|| settings.cap_add.clone());
    let mut drop: Vec<String> = own
        .capabilities_drop
        .clone()
        .unwrap_or_else(|| settings.cap_drop.clone());
    if own.capabilities_drop.is_none()
        && !add.iter().any(|c| c == DEFAULT_DROP)
        && !drop.iter().any(|c| c == DEFAULT_DROP)
    {
        drop.push(DEFAULT_DROP.to_owned());
    }
    // `cap_drop` wins over `cap_add` for the same capability.
    let add: Vec<String> = add.into_iter().filter(|c| !drop.contains(c)).collect();
    let capabilities = (!add.is_empty() || !drop.is_empty()).then(|| Capabilities {
        add: (!add.is_empty()).then_some(add),
        drop: (!drop.is_empty()).then_some(drop),
    });
    let proc_mount =
        own.proc_mount
            .as_deref()
            .and_then(|value| match value.to_ascii_lowercase().as_str() {
                "default" => Some("Default".to_owned()),
                "unmasked" => Some("Unmasked".to_owned()),
                other => {
                    tracing::warn!(value = other, "invalid proc-mount value");
                    None
                }
            });
    let context = SecurityContext {
        privileged: own.privileged.or(settings.privileged),
        allow_privilege_escalation: own
            .allow_privilege_escalation
            .or(settings.allow_privilege_escalation),
        capabilities,
        run_as_user: own.run_as_user,
        run_as_group: own.run_as_group,
        run_as_non_root: own.run_as_non_root,
        read_only_root_filesystem: own.read_only_root_filesystem,
        se_linux_options: own.selinux_type.clone().map(|type_| SELinuxOptions {
            type_: Some(type_),
            ..SELinuxOptions::default()
        }),
        proc_mount,
        seccomp_profile: own.seccomp_profile.as_ref().and_then(seccomp),
        app_armor_profile: own.app_armor_profile.as_ref().and_then(app_armor),
        ..SecurityContext::default()
    };
    (context != SecurityContext::default()).then_some(context)
}

/// The pod security context, `None` when every field is unset.
pub(crate) fn pod_context(pod: &PodSecurityContext) -> Option<K8sPodSecurityContext> {
    let context = K8sPodSecurityContext {
        fs_group: pod.fs_group,
        run_as_group: pod.run_as_group,
        run_as_user: pod.run_as_user,
        run_as_non_root: pod.run_as_non_root,
        supplemental_groups: (!pod.supplemental_groups.is_empty())
            .then(|| pod.supplemental_groups.clone()),
        se_linux_options: pod.selinux_type.clone().map(|type_| SELinuxOptions {
            type_: Some(type_),
            ..SELinuxOptions::default()
        }),
        seccomp_profile: pod.seccomp_profile.as_ref().and_then(seccomp),
        ..K8sPodSecurityContext::default()
    };
    (context != K8sPodSecurityContext::default()).then_some(context)
}

fn checked_profile(profile: &Profile, what: &str) -> Option<(String, Option<String>)> {
    match profile.profile_type.as_str() {
        "RuntimeDefault" | "Unconfined" => Some((profile.profile_type.clone(), None)),
        "Localhost" if profile.localhost_profile.is_some() => Some((
            profile.profile_type.clone(),
            profile.localhost_profile.clone(),
        )),
        "Localhost" => {
            tracing::warn!("{what} profile type is Localhost but localhost_profile is not set");
            None
        }
        other => {
            tracing::warn!(value = other, "invalid {what} profile type value");
            None
        }
    }
}

fn seccomp(profile: &Profile) -> Option<SeccompProfile> {
    checked_profile(profile, "seccomp").map(|(type_, localhost_profile)| SeccompProfile {
        type_,
        localhost_profile,
    })
}

fn app_armor(profile: &Profile) -> Option<AppArmorProfile> {
    checked_profile(profile, "app armor").map(|(type_, localhost_profile)| AppArmorProfile {
        type_,
        localhost_profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_raw_is_dropped_by_default_and_own_values_win() {
        let settings = Settings {
            privileged: Some(true),
            ..Settings::default()
        };
        let own = ContainerSecurityContext {
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        };
        let context = container_context(&settings, &own).unwrap();
        assert_eq!(context.privileged, Some(false));
        assert_eq!(context.read_only_root_filesystem, Some(true));
        assert_eq!(
            context.capabilities.unwrap().drop,
            Some(vec!["NET_RAW".to_owned()])
        );
    }

    #[test]
    fn cap_drop_wins_over_cap_add() {
        let settings = Settings {
            cap_add: vec!["SYS_ADMIN".to_owned(), "NET_RAW".to_owned()],
            cap_drop: vec!["SYS_ADMIN".to_owned()],
            ..Settings::default()
        };
        let capabilities = container_context(&settings, &ContainerSecurityContext::default())
            .unwrap()
            .capabilities
            .unwrap();
        assert_eq!(capabilities.add, Some(vec!["NET_RAW".to_owned()]));
        assert_eq!(capabilities.drop, Some(vec!["SYS_ADMIN".to_owned()]));
    }

    #[test]
    fn empty_pod_context_is_not_sent_and_bad_profiles_are_dropped() {
        assert!(pod_context(&PodSecurityContext::default()).is_none());
        let pod = PodSecurityContext {
            run_as_user: Some(1000),
            seccomp_profile: Some(Profile {
                profile_type: "Localhost".to_owned(),
                localhost_profile: None,
            }),
            ..Default::default()
        };
        let context = pod_context(&pod).unwrap();
        assert_eq!(context.run_as_user, Some(1000));
        assert!(context.seccomp_profile.is_none());
    }
}
