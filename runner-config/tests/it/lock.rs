//! `ConfigLock`: a second holder is refused and told the first one's pid.

use runner_config::{ConfigLock, LockError};

#[test]
fn lock_refuses_a_second_holder_with_the_pid_in_the_message() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("config.toml");
    let first = ConfigLock::acquire(&config).unwrap();
    assert_eq!(first.lock_path(), directory.path().join("config.toml.lock"));

    let error = ConfigLock::acquire(&config).unwrap_err();
    assert!(error.is_held());
    let pid = std::process::id();
    assert_eq!(error.holder_pid(), Some(pid));
    let message = error.to_string();
    assert!(message.contains(&format!("pid {pid}")), "{message}");
    assert!(message.contains(&config.display().to_string()), "{message}");

    drop(first);
    let again = ConfigLock::acquire(&config).unwrap();
    drop(again);
}

#[test]
fn lock_is_refused_across_processes() {
    // A child process (`flock` from util-linux) holds the lock; when the tool is missing
    // the same-process test above still covers the behaviour.
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("config.toml");
    let lock_path = ConfigLock::lock_path_for(&config);
    std::fs::write(&lock_path, "424242\n").unwrap();
    let child = std::process::Command::new("flock")
        .arg("--exclusive")
        .arg(&lock_path)
        .args(["sleep", "5"])
        .spawn();
    let Ok(mut child) = child else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let error = loop {
        match ConfigLock::acquire(&config) {
            Err(error) => break error,
            Ok(lock) => {
                drop(lock);
                std::fs::write(&lock_path, "424242\n").unwrap();
                assert!(
                    std::time::Instant::now() < deadline,
                    "the child never took the lock"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        matches!(
            error,
            LockError::Held {
                pid: Some(424_242),
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn lock_creates_a_missing_directory() {
    let directory = tempfile::tempdir().unwrap();
    let config = directory.path().join("new/dir/config.toml");
    let lock = ConfigLock::acquire(&config).unwrap();
    assert!(lock.lock_path().exists());
}
