//! The shape of the house, checked: obs-runtime's folders depend on each other one way only,
//! and no source file of either crate grows past one idea.
//!
//! The order is the one docs/design.md opens with. A `crate::x` path in code (comments and
//! `#[cfg(test)]` modules aside) from a folder to one later in the order is a loop in the
//! making, and fails here with the file that has it. So does a path through one of `lib.rs`'s
//! re-exports (`crate::catalog`, `crate::Error`): it hides which part the name belongs to, so
//! an upward import through it would pass unseen.

use std::fs;
use std::path::{Path, PathBuf};

/// The runtime's parts in dependency order: each may use only those before it.
const ORDER: [&str; 13] = [
    "leaf",
    "otlp",
    "exposition",
    "metrics",
    "traces",
    "logs",
    "http",
    "generate",
    "page",
    "live",
    "serve",
    "setup",
    "lib",
];

/// The files at the root of `obs-runtime/src` that depend on nothing but each other.
const LEAVES: [&str; 9] = [
    "autoref", "clock", "current", "env", "error", "fmt_safe", "json", "status", "sync",
];

/// The most lines of code (comments, blank lines and unit tests aside) a file may have.
const MAX_CODE_LINES: usize = 600;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The part a file of obs-runtime belongs to: its folder, or `leaf`, `exposition`, `page`,
/// `lib` for the files at the root.
fn part_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
    let first = parts.next().expect("a file");
    if rel.components().count() > 1 {
        return first;
    }
    let stem = first.trim_end_matches(".rs");
    if stem == "__private" {
        return "lib".to_owned();
    }
    if LEAVES.contains(&stem) {
        "leaf".to_owned()
    } else {
        stem.to_owned()
    }
}

/// The part a top-level name of the crate (`crate::NAME`) belongs to: `None` for a name that
/// is not a module of the crate root (a re-export, such as `crate::Builder`).
fn part_of_name(name: &str) -> Option<&'static str> {
    if LEAVES.contains(&name) {
        return Some("leaf");
    }
    if name == "__private" {
        return Some("lib");
    }
    ORDER.iter().copied().find(|p| *p == name)
}

/// The code of a file without comments and without its unit tests (`#[cfg(test)] mod …`).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn runtime_folders_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("obs-runtime/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 20,
        "found {} files under {src:?}",
        files.len()
    );
    let mut upward = Vec::new();
    let mut through_root = Vec::new();
    for file in &files {
        let from = part_of(&src, file);
        let rank = ORDER.iter().position(|p| *p == from).unwrap_or_else(|| {
            panic!("{file:?} is in part {from:?}, which is not in ORDER: add it where it belongs")
        });
        let text = fs::read_to_string(file).expect("readable");
        let code = code(&text);
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let Some(to) = part_of_name(&name) else {
                if from != "lib" {
                    through_root.push(format!("{} uses crate::{name}", file.display()));
                }
                continue;
            };
            let to_rank = ORDER.iter().position(|p| *p == to).expect("listed");
            if to != from && to_rank > rank {
                upward.push(format!("{} uses crate::{name} ({to})", file.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the order {ORDER:?}:\n{}",
        upward.join("\n")
    );
    assert!(
        through_root.is_empty(),
        "imports through lib.rs's re-exports: name the owning module instead (crate::catalog \
         is crate::metrics::catalog, crate::Error is crate::error::Error):\n{}",
        through_root.join("\n")
    );
}

#[test]
fn no_source_file_holds_more_than_one_idea() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("obs-runtime/src"), &mut files);
    sources(&root.join("obs-macros/src"), &mut files);
    let mut long = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("readable");
        let lines = code(&text).lines().filter(|l| !l.trim().is_empty()).count();
        if lines > MAX_CODE_LINES {
            long.push(format!("{}: {lines} lines of code", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files past {MAX_CODE_LINES} lines of code (split them by idea; unit tests may go \
         to a sibling tests.rs):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_see_an_upward_import() {
    // The scanner itself: a leaf naming `crate::setup` is against the order.
    let text = "use crate::setup::Builder;\n// crate::serve in a comment is fine\n";
    let names: Vec<_> = code(text)
        .match_indices("crate::")
        .map(|(at, _)| {
            code(text)[at + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .collect();
    assert_eq!(names, ["setup"]);
    assert_eq!(part_of_name("setup"), Some("setup"));
    assert_eq!(part_of_name("sync"), Some("leaf"));
    assert_eq!(part_of_name("Builder"), None);
}
