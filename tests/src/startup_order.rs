//! The start-up order file of the release binary (`runner-bin/link/startup.order`): which
//! functions `run` executes from start-up into its idle poll loop, read from a callgrind
//! profile, and how many of them a given binary still has.
//!
//! `runner-bin/build.rs` hands the file to lld so those functions sit together; why that
//! halves idle RSS is explained there. The `startup-order` tool regenerates the file and the
//! job-loop bench reports how well it still matches.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Command;

/// The comment lines that open a generated order file (lld skips lines starting with `#`).
pub const ORDER_FILE_HEADER: &str = "\
# Functions that `gitlab-runner-rs run` executes from start-up into its idle poll loop.
# lld places them first and together (runner-bin/build.rs says why); names that no longer
# exist are skipped. Regenerate after dependency or toolchain upgrades with:
#   cargo build --release -p runner-bin
#   cargo run -p runner-e2e --bin startup-order -- target/release/gitlab-runner-rs runner-bin/link/startup.order
";

/// The functions of object `object_name` (matched on its file name) that ran in a callgrind
/// profile, sorted and without duplicates.
///
/// The profile uses callgrind's name compression: `fn=(12) name` defines id 12, a later
/// `fn=(12)` refers to it; objects (`ob=`, `cob=`) and functions (`fn=`, `cfn=`) have separate
/// id spaces. A called function (`cfn=`) belongs to the object of the preceding `cob=`, or to
/// the caller's object when there is none.
pub fn functions_in_profile(profile: &str, object_name: &str) -> Vec<String> {
    let mut objects: HashMap<String, String> = HashMap::new();
    let mut functions: HashMap<String, String> = HashMap::new();
    let mut current_object: Option<String> = None;
    let mut callee_object: Option<String> = None;
    let mut found = BTreeSet::new();
    let is_ours = |object: Option<&String>| {
        object.is_some_and(|path| {
            Path::new(path)
                .file_name()
                .is_some_and(|name| name == object_name)
        })
    };
    for line in profile.lines() {
        if let Some(rest) = line.strip_prefix("ob=") {
            current_object = resolve(rest, &mut objects);
        } else if let Some(rest) = line.strip_prefix("cob=") {
            callee_object = resolve(rest, &mut objects);
        } else if let Some(rest) = line.strip_prefix("fn=") {
            if let Some(name) = resolve(rest, &mut functions)
                && is_ours(current_object.as_ref())
            {
                found.insert(name);
            }
        } else if let Some(rest) = line.strip_prefix("cfn=") {
            let object = callee_object.take().or_else(|| current_object.clone());
            if let Some(name) = resolve(rest, &mut functions)
                && is_ours(object.as_ref())
            {
                found.insert(name);
            }
        }
    }
    // Addresses without a symbol and valgrind's own labels, such as `(below main)`, name no
    // symbol the linker could place; `name'2` is callgrind's second level of a recursion.
    found
        .into_iter()
        .filter(|name| !name.starts_with("0x") && !name.starts_with('(') && !name.contains(' '))
        .map(|name| match name.split_once('\'') {
            Some((symbol, level)) if level.bytes().all(|b| b.is_ascii_digit()) => symbol.to_owned(),
            _ => name,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// `(12) name` defines and returns `name`; `(12)` returns what 12 was defined as; a plain
/// `name` (an uncompressed profile) is returned as is.
fn resolve(field: &str, names: &mut HashMap<String, String>) -> Option<String> {
    let Some(rest) = field.strip_prefix('(') else {
        return Some(field.to_owned());
    };
    let (id, name) = rest.split_once(')')?;
    match name.strip_prefix(' ') {
        Some(name) => {
            names.insert(id.to_owned(), name.to_owned());
            Some(name.to_owned())
        }
        None => names.get(id).cloned(),
    }
}

/// The order file for `functions`: the header, then one name per line.
pub fn order_file(functions: &[String]) -> String {
    let mut text = String::from(ORDER_FILE_HEADER);
    for name in functions {
        text.push_str(name);
        text.push('\n');
    }
    text
}

/// The names an order file lists (comments and blank lines skipped, as lld does).
pub fn listed_functions(order_file: &str) -> Vec<&str> {
    order_file
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// How many of the order file's functions `binary` defines, out of how many it lists;
/// `None` when `nm` (binutils) cannot read the binary's symbol table.
pub fn coverage(binary: &Path, order_file: &str) -> Option<(usize, usize)> {
    let output = Command::new("nm")
        .arg("--defined-only")
        .arg(binary)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let table = String::from_utf8_lossy(&output.stdout);
    let defined: HashSet<&str> = table
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    let listed = listed_functions(order_file);
    let found = listed.iter().filter(|name| defined.contains(*name)).count();
    Some((found, listed.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A callgrind profile in its compressed form: our binary calls into libc and back.
    const PROFILE: &str = "\
version: 1
creator: callgrind-3.19.0
cmd: /work/target/release/gitlab-runner-rs run
events: Ir
ob=(1) /work/target/release/gitlab-runner-rs
fl=(1) ???
fn=(1) main
0x1000 3
cob=(2) /usr/lib/x86_64-linux-gnu/libc.so.6
cfi=(2) ???
cfn=(2) malloc
calls=1 0x2000
0x1004 10
cfn=(3) _ZN4core3fmt5write17h0123456789abcdefE
calls=1 0x1100
0x1008 20
cfn=(8) _ZN4core3fmt5write17h0123456789abcdefE'2
calls=1 0x1100
0x100c 2

ob=(2)
fl=(2)
fn=(2)
0x2000 5
cob=(1)
cfn=(4) _ZN5tokio7runtime4park17hfedcba9876543210E
calls=1 0x1200
0x2004 2
cfn=(5) free
calls=1 0x2100
0x2008 1

fn=(7) (below main)
0x2200 1

fn=(5)
0x2100 1

ob=(1)
fn=(3)
0x1100 7
fn=(6) 0x0000000000001300
0x1300 1
";

    #[test]
    fn collects_the_functions_of_the_named_object_only() {
        let functions = functions_in_profile(PROFILE, "gitlab-runner-rs");
        assert_eq!(
            functions,
            [
                "_ZN4core3fmt5write17h0123456789abcdefE",
                "_ZN5tokio7runtime4park17hfedcba9876543210E",
                "main",
            ]
        );
    }

    #[test]
    fn an_object_that_did_not_run_gives_nothing() {
        assert!(functions_in_profile(PROFILE, "libm.so.6").is_empty());
        let libc = functions_in_profile(PROFILE, "libc.so.6");
        assert_eq!(libc, ["free", "malloc"]);
    }

    #[test]
    fn the_order_file_round_trips_through_its_reader() {
        let functions = functions_in_profile(PROFILE, "gitlab-runner-rs");
        let text = order_file(&functions);
        assert!(text.starts_with("# "));
        assert_eq!(listed_functions(&text), functions);
    }
}
