//! Archive formats: zip and tar+zstd round trips of arbitrary trees (proptest), format
//! detection, safe extraction, gzip, raw.

use std::collections::BTreeMap;
use std::fs::Permissions;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use runner_artifacts::{
    ArchiveFormat, CompressionLevel, Error, PathSelector, create_archive, extract_archive,
    extract_zip,
};

use crate::support::write;

#[derive(Debug, Clone)]
enum Node {
    File {
        content: Vec<u8>,
        mode: u32,
        mtime: u64,
    },
    Dir {
        mode: u32,
    },
    Link {
        target: String,
    },
}

/// What a tree looks like: kind, mode, content or target, mtime, owner.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    File {
        content: Vec<u8>,
        mode: u32,
        mtime: i64,
        uid: u32,
    },
    Dir {
        mode: u32,
        mtime: i64,
    },
    Link {
        target: PathBuf,
    },
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}",
        "[a-z]{1,3}\\.[a-z]{1,3}",
        Just(".hidden".to_owned()),
        Just("with space".to_owned()),
        Just("ünïcödé".to_owned()),
        Just("100%".to_owned()),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    prop_oneof![
        4 => (proptest::collection::vec(any::<u8>(), 0..2048), prop::sample::select(vec![0o644, 0o755, 0o600, 0o700, 0o444, 0o4755]), 315_532_800u64..4_000_000_000)
            .prop_map(|(content, mode, mtime)| Node::File { content, mode, mtime }),
        1 => prop::sample::select(vec![0o755, 0o700, 0o750]).prop_map(|mode| Node::Dir { mode }),
        1 => prop_oneof![Just("target".to_owned()), Just("../outside".to_owned()), Just("/etc/hostname".to_owned()), "[a-z]{1,5}/[a-z]{1,5}"]
            .prop_map(|target| Node::Link { target }),
    ]
}

fn tree() -> impl Strategy<Value = Vec<(Vec<String>, Node)>> {
    proptest::collection::vec((proptest::collection::vec(name(), 1..4), node()), 1..24)
}

/// Builds the tree, skipping entries whose path conflicts with an earlier one.
fn build(root: &Path, entries: &[(Vec<String>, Node)]) {
    let mut taken: BTreeMap<PathBuf, bool> = BTreeMap::new(); // path -> is a directory
    let mut dir_modes = Vec::new();
    'entries: for (components, node) in entries {
        let mut path = PathBuf::new();
        for parent in &components[..components.len() - 1] {
            path.push(parent);
            match taken.get(&path) {
                Some(false) => continue 'entries,
                Some(true) => {}
                None => {
                    std::fs::create_dir(root.join(&path)).unwrap();
                    taken.insert(path.clone(), true);
                }
            }
        }
        path.push(components.last().unwrap());
        if taken.contains_key(&path) {
            continue;
        }
        let full = root.join(&path);
        match node {
            Node::File {
                content,
                mode,
                mtime,
            } => {
                std::fs::write(&full, content).unwrap();
                let file = std::fs::File::options().write(true).open(&full).unwrap();
                file.set_modified(UNIX_EPOCH + Duration::from_secs(*mtime))
                    .unwrap();
                std::fs::set_permissions(&full, Permissions::from_mode(*mode)).unwrap();
                taken.insert(path, false);
            }
            Node::Dir { mode } => {
                std::fs::create_dir(&full).unwrap();
                dir_modes.push((full, *mode));
                taken.insert(path, true);
            }
            Node::Link { target } => {
                std::os::unix::fs::symlink(target, &full).unwrap();
                taken.insert(path, false);
            }
        }
    }
    for (directory, mode) in dir_modes {
        std::fs::set_permissions(directory, Permissions::from_mode(mode)).unwrap();
    }
}

fn observe(root: &Path) -> BTreeMap<PathBuf, Seen> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let child = relative.join(entry.file_name());
            let metadata = entry.path().symlink_metadata().unwrap();
            let mtime = metadata.mtime();
            let node = if metadata.file_type().is_symlink() {
                Seen::Link {
                    target: std::fs::read_link(entry.path()).unwrap(),
                }
            } else if metadata.is_dir() {
                pending.push(child.clone());
                Seen::Dir {
                    mode: metadata.mode() & 0o7777,
                    mtime,
                }
            } else {
                Seen::File {
                    content: std::fs::read(entry.path()).unwrap(),
                    mode: metadata.mode() & 0o7777,
                    mtime,
                    uid: metadata.uid(),
                }
            };
            seen.insert(child, node);
        }
    }
    seen
}

fn archive_tree(root: &Path, archive: &Path) {
    archive_tree_as(ArchiveFormat::Zip, root, archive);
}

fn archive_tree_as(format: ArchiveFormat, root: &Path, archive: &Path) {
    let selection = PathSelector {
        paths: vec![".".into()],
        ..PathSelector::default()
    }
    .select(root)
    .unwrap();
    create_archive(format, CompressionLevel::Fastest, &selection, archive).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn archive_then_extract_gives_the_same_tree(entries in tree()) {
        let source = tempfile::tempdir().unwrap();
        let root = source.path().join("project");
        std::fs::create_dir(&root).unwrap();
        build(&root, &entries);
        let archive = source.path().join("archive.zip");
        archive_tree(&root, &archive);
        let target = tempfile::tempdir().unwrap();
        extract_zip(&archive, target.path()).unwrap();
        prop_assert_eq!(observe(&root), observe(target.path()));
    }

    #[test]
    fn tar_zstd_then_extract_gives_the_same_tree(entries in tree()) {
        let source = tempfile::tempdir().unwrap();
        let root = source.path().join("project");
        std::fs::create_dir(&root).unwrap();
        build(&root, &entries);
        // The cache file keeps its zip name whatever the format; extraction sniffs.
        let archive = source.path().join("cache.zip");
        archive_tree_as(ArchiveFormat::TarZstd, &root, &archive);
        let target = tempfile::tempdir().unwrap();
        extract_archive(&archive, target.path()).unwrap();
        prop_assert_eq!(observe(&root), observe(target.path()));
    }
}

#[test]
fn tar_zstd_keeps_modes_symlinks_and_mtimes() {
    let source = tempfile::tempdir().unwrap();
    let root = source.path().join("project");
    write(&root, "bin/tool", "#!/bin/sh\n");
    write(&root, "data/plain.txt", "plain");
    std::fs::set_permissions(root.join("bin/tool"), Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(root.join("data/plain.txt"), Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("../bin/tool", root.join("data/link")).unwrap();
    let old = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(root.join("data/plain.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let archive = source.path().join("cache.zip");
    archive_tree_as(ArchiveFormat::TarZstd, &root, &archive);
    let bytes = std::fs::read(&archive).unwrap();
    assert_eq!(bytes[..4], [0x28, 0xB5, 0x2F, 0xFD], "a zstd frame");

    let target = tempfile::tempdir().unwrap();
    let stats = extract_archive(&archive, target.path()).unwrap();
    assert_eq!((stats.files, stats.symlinks), (2, 1));
    let tool = std::fs::metadata(target.path().join("bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o4755);
    let plain = std::fs::metadata(target.path().join("data/plain.txt")).unwrap();
    assert_eq!(plain.mode() & 0o7777, 0o600);
    assert_eq!(plain.modified().unwrap(), old);
    assert_eq!(
        std::fs::read_link(target.path().join("data/link")).unwrap(),
        PathBuf::from("../bin/tool")
    );
    assert_eq!(observe(&root), observe(target.path()));
}

#[test]
fn extraction_detects_the_format_from_the_first_bytes() {
    let source = tempfile::tempdir().unwrap();
    let root = source.path().join("project");
    write(&root, "a.txt", "zip");
    let zip = source.path().join("zip.bin");
    archive_tree_as(ArchiveFormat::Zip, &root, &zip);
    let target = tempfile::tempdir().unwrap();
    extract_archive(&zip, target.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(target.path().join("a.txt")).unwrap(),
        "zip"
    );

    let gzip = source.path().join("gzip.bin");
    std::fs::write(&gzip, [0x1F, 0x8B, 0x08, 0x00]).unwrap();
    let error = extract_archive(&gzip, target.path()).unwrap_err();
    assert!(
        matches!(&error, Error::UnsupportedFormat { format } if format == "gzip"),
        "{error}"
    );

    let truncated = source.path().join("truncated.bin");
    std::fs::write(&truncated, [0x28, 0xB5, 0x2F, 0xFD, 0x00]).unwrap();
    let error = extract_archive(&truncated, target.path()).unwrap_err();
    assert!(matches!(error, Error::CorruptArchive { .. }), "{error}");
}

#[test]
fn extraction_replaces_existing_files_and_links() {
    let source = tempfile::tempdir().unwrap();
    write(source.path(), "p/a.txt", "new");
    let archive = source.path().join("a.zip");
    archive_tree(&source.path().join("p"), &archive);

    let target = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc/hostname", target.path().join("a.txt")).unwrap();
    extract_zip(&archive, target.path()).unwrap();
    let metadata = target.path().join("a.txt").symlink_metadata().unwrap();
    assert!(metadata.is_file(), "the symlink was replaced, not followed");
    assert_eq!(
        std::fs::read_to_string(target.path().join("a.txt")).unwrap(),
        "new"
    );
}

/// A zip written by hand with a hostile entry.
fn hostile_zip(path: &Path, entries: &[(&str, Option<&str>)]) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, link_target) in entries {
        let options = zip::write::SimpleFileOptions::default();
        match link_target {
            Some(target) => writer.add_symlink(*name, *target, options).unwrap(),
            None => {
                writer.start_file(*name, options).unwrap();
                std::io::Write::write_all(&mut writer, b"pwned").unwrap();
            }
        }
    }
    writer.finish().unwrap();
}

#[test]
fn entries_escaping_the_target_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();

    let traversal = work.path().join("traversal.zip");
    hostile_zip(&traversal, &[("../outside/evil", None)]);
    let error = extract_zip(&traversal, &target).unwrap_err();
    assert!(
        matches!(error, Error::UnsafeEntry { ref name } if name == "../outside/evil"),
        "{error}"
    );

    let through_link = work.path().join("link.zip");
    hostile_zip(
        &through_link,
        &[
            ("link", Some(outside.to_str().unwrap())),
            ("link/evil", None),
        ],
    );
    let error = extract_zip(&through_link, &target).unwrap_err();
    assert!(error.is_corrupt_archive(), "{error}");
    assert!(
        !outside.join("evil").exists(),
        "nothing was written through the symlink"
    );
}

#[test]
fn corrupt_archives_are_reported_as_such() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("cache.zip");
    std::fs::write(&archive, b"PK\x03\x04 this is not really a zip").unwrap();
    let error = extract_zip(&archive, work.path()).unwrap_err();
    assert!(error.is_corrupt_archive(), "{error}");
}

#[test]
fn gzip_writes_one_member_per_file_with_names_and_mtimes() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("p");
    write(&root, "reports/junit.xml", "<testsuite/>");
    write(&root, "reports/100%.xml", "<x/>");
    let selection = PathSelector {
        paths: vec!["reports/*.xml".into()],
        ..PathSelector::default()
    }
    .select(&root)
    .unwrap();
    let archive = work.path().join("report.gz");
    create_archive(
        ArchiveFormat::Gzip,
        CompressionLevel::Default,
        &selection,
        &archive,
    )
    .unwrap();

    let bytes = std::fs::read(&archive).unwrap();
    let mut decoder = flate2::bufread::MultiGzDecoder::new(&bytes[..]);
    let mut all = String::new();
    std::io::Read::read_to_string(&mut decoder, &mut all).unwrap();
    assert_eq!(all, "<x/><testsuite/>");
    let first = flate2::bufread::GzDecoder::new(&bytes[..]);
    let header = first.header().unwrap();
    assert_eq!(header.filename(), Some(&b"e:100%25.xml"[..]));
    assert_eq!(header.comment(), Some(&b"e:reports%2F100%25.xml"[..]));
}

#[test]
fn raw_takes_exactly_one_file() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("p");
    write(&root, "a.bin", "aaa");
    write(&root, "b.bin", "bbb");
    let one = PathSelector {
        paths: vec!["a.bin".into()],
        ..PathSelector::default()
    }
    .select(&root)
    .unwrap();
    let archive = work.path().join("raw");
    create_archive(
        ArchiveFormat::Raw,
        CompressionLevel::Default,
        &one,
        &archive,
    )
    .unwrap();
    assert_eq!(std::fs::read(&archive).unwrap(), b"aaa");
    let two = PathSelector {
        paths: vec!["*.bin".into()],
        ..PathSelector::default()
    }
    .select(&root)
    .unwrap();
    let error = create_archive(
        ArchiveFormat::Raw,
        CompressionLevel::Default,
        &two,
        &archive,
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "only one file can be sent as raw");
}
