//! `Reloader`: change detection, rejection of invalid files, missing files.

use std::fs;
use std::time::{Duration, SystemTime};

use runner_config::{Config, ReloadEvent, Reloader};

fn set_mtime(path: &std::path::Path, seconds_ago: u64) {
    let file = fs::File::options()
        .write(true)
        .open(path)
        .expect("the file exists");
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds_ago))
        .expect("the file system records modification times");
}

#[test]
fn reload_keeps_old_config_on_invalid_new_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    fs::write(&path, "concurrent = 3\n").unwrap();
    let (mut reloader, _) = Reloader::new(&path).unwrap();
    assert_eq!(reloader.config().concurrent, 3);

    fs::write(&path, "concurrent = \"many\"\n").unwrap();
    match reloader.poll() {
        ReloadEvent::Rejected(error) => {
            assert_eq!(error.problems()[0].key(), "concurrent");
            assert_eq!(error.problems()[0].location().line(), 1);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(reloader.config().concurrent, 3);
    // The same broken file is not reported again until it changes.
    assert!(matches!(reloader.poll(), ReloadEvent::Unchanged));

    fs::write(&path, "concurrent = 7\n").unwrap();
    match reloader.poll() {
        ReloadEvent::Reloaded(loaded) => assert_eq!(loaded.config.concurrent, 7),
        other => panic!("expected a reload, got {other:?}"),
    }
    assert_eq!(reloader.config().concurrent, 7);
}

#[test]
fn touching_without_changing_content_is_not_a_reload() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    fs::write(&path, "concurrent = 3\n").unwrap();
    set_mtime(&path, 60);
    let (mut reloader, _) = Reloader::new(&path).unwrap();
    set_mtime(&path, 30);
    assert!(matches!(reloader.poll(), ReloadEvent::Unchanged));
    assert!(matches!(reloader.reload(), ReloadEvent::Reloaded(_)));
}

#[test]
fn replacement_with_an_older_mtime_is_picked_up() {
    // Upstream only reloads when the mtime is newer; `cp -p` of an older file is missed.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    fs::write(&path, "concurrent = 3\n").unwrap();
    set_mtime(&path, 10);
    let (mut reloader, _) = Reloader::new(&path).unwrap();
    let replacement = directory.path().join("new.toml");
    fs::write(&replacement, "concurrent = 9\n").unwrap();
    set_mtime(&replacement, 3600);
    fs::rename(&replacement, &path).unwrap();
    assert!(matches!(reloader.poll(), ReloadEvent::Reloaded(_)));
    assert_eq!(reloader.config().concurrent, 9);
}

#[test]
fn with_config_does_not_reload_the_file_it_came_from() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    fs::write(&path, "concurrent = 3\n").unwrap();
    let loaded = runner_config::load(&path).unwrap();
    let mut reloader = Reloader::with_config(&path, loaded.config);
    assert!(matches!(reloader.poll(), ReloadEvent::Unchanged));
    fs::write(&path, "concurrent = 8\n").unwrap();
    assert!(matches!(reloader.poll(), ReloadEvent::Reloaded(_)));
}

#[test]
fn same_size_rewrite_within_the_same_second_is_noticed() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    fs::write(&path, "concurrent = 3\n").unwrap();
    let (mut reloader, _) = Reloader::new(&path).unwrap();
    fs::write(&path, "concurrent = 4\n").unwrap();
    assert!(matches!(reloader.poll(), ReloadEvent::Reloaded(_)));
    assert_eq!(reloader.config().concurrent, 4);
}

#[test]
fn missing_file_is_reported_once_and_picked_up_when_it_appears() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("config.toml");
    assert!(Reloader::new(&path).unwrap_err().is_not_found());

    // The caller already knows the file is missing: no event until it appears.
    let mut reloader = Reloader::with_config(&path, Config::default());
    assert!(matches!(reloader.poll(), ReloadEvent::Unchanged));
    fs::write(&path, "concurrent = 2\n").unwrap();
    assert!(matches!(reloader.poll(), ReloadEvent::Reloaded(_)));
    assert_eq!(reloader.config().concurrent, 2);

    fs::remove_file(&path).unwrap();
    match reloader.poll() {
        ReloadEvent::Rejected(error) => assert!(error.is_not_found()),
        other => panic!("expected the missing file to be reported, got {other:?}"),
    }
    assert!(matches!(reloader.poll(), ReloadEvent::Unchanged));
    assert_eq!(reloader.config().concurrent, 2);
}
