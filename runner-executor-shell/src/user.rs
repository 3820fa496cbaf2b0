//! [`JobUser`]: the account every stage runs as with `run --user` (upstream-details.md §8), and
//! the directories the executor creates for it.

use std::io;
use std::path::Path;

use crate::error::Error;

/// The account the shell executor runs every stage as (`run --user`), looked up once.
///
/// With it each stage is `su -s /bin/bash <name> -c "bash -l"` (`/bin/sh` and `sh -l` for
/// `shell = "sh"`), upstream's command line; the runner must be root for `su` to switch
/// without a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl JobUser {
    /// Looks `name` up in the system's user database.
    ///
    /// ```
    /// use runner_executor_shell::JobUser;
    ///
    /// assert_eq!(JobUser::lookup("root").unwrap().uid(), 0);
    /// assert!(JobUser::lookup("no-such-user-here").unwrap_err().is_unknown_user());
    /// ```
    pub fn lookup(name: &str) -> Result<Self, Error> {
        match nix::unistd::User::from_name(name) {
            Ok(Some(user)) => Ok(Self {
                name: name.to_owned(),
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            }),
            Ok(None) => Err(Error::UnknownUser {
                user: name.to_owned(),
            }),
            Err(errno) => Err(Error::LookupUser {
                user: name.to_owned(),
                source: io::Error::from(errno),
            }),
        }
    }

    /// The user name, as given to `su`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The numeric user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The user's primary group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }
}

/// Creates `path` and its missing parents, giving every directory it creates to `user`, so
/// stages running as `user` can write there. Directories that already exist keep their owner:
/// a root-owned builds directory left by runs without `--user` is the operator's to fix, as
/// upstream (which creates nothing) leaves it.
pub(crate) fn create_dir_all_owned(path: &Path, user: &JobUser) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = Some(path);
    while let Some(dir) = current {
        if dir.as_os_str().is_empty() || dir.exists() {
            break;
        }
        missing.push(dir);
        current = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        match std::fs::create_dir(dir) {
            Ok(()) => std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))?,
            // Another job of this runner created it meanwhile; it did the chown.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn creates_missing_directories_owned_by_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let me = JobUser {
            name: "me".to_owned(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        };
        let target = dir.path().join("a/b/c");
        create_dir_all_owned(&target, &me).unwrap();
        for created in ["a", "a/b", "a/b/c"] {
            let meta = std::fs::metadata(dir.path().join(created)).unwrap();
            assert!(meta.is_dir());
            assert_eq!((meta.uid(), meta.gid()), (me.uid, me.gid));
        }
        // Existing directories are left alone, and a second call is not an error.
        create_dir_all_owned(&target, &me).unwrap();
    }

    #[test]
    fn unknown_user_names_the_user() {
        let error = JobUser::lookup("gitlab-runner-rs-no-such-user").unwrap_err();
        assert!(error.is_unknown_user());
        assert_eq!(
            error.to_string(),
            "user \"gitlab-runner-rs-no-such-user\" does not exist"
        );
    }
}
