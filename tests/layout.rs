//! The shape of the house, checked: obs-runtime's folders and obs-macros' phases depend on
//! each other one way only, and no source file of the macros or the runtime grows past one
//! idea.
//!
//! The orders are the ones docs/design.md opens with. A `crate::x` path in code (comments and
//! `#[cfg(test)]` modules aside) from a folder to one later in the order is a loop in the
//! making, and fails here with the file that has it. So does a path through one of `lib.rs`'s
//! re-exports (`crate::catalog`, `crate::Error`): it hides which part the name belongs to, so
//! an upward import through it would pass unseen.

use std::fs;
use std::path::{Path, PathBuf};

/// The runtime's parts in dependency order: each may use only those before it.
const ORDER: [&str; 14] = [
    "leaf",
    "otlp",
    "export",
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

/// The runtime: its parts in order, its leaves.
const RUNTIME: Layout = Layout {
    src: "obs-runtime/src",
    order: &ORDER,
    leaves: &LEAVES,
};

/// obs-macros-core (`obs-macros/core`), the attributes' phases in the order the driver in
/// `lib.rs` runs them: each may use only those before it.
const MACRO_ORDER: [&str; 7] = ["leaf", "args", "input", "valid", "plan", "expand", "lib"];

/// The files of obs-macros-core that depend on nothing but each other: the shapes of a
/// function, the Prometheus name checks, the values shared with the runtime.
const MACRO_LEAVES: [&str; 3] = ["item", "names", "shared"];

/// The macros' phases, in order.
const MACROS: Layout = Layout {
    src: "obs-macros/core/src",
    order: &MACRO_ORDER,
    leaves: &MACRO_LEAVES,
};

/// One crate's parts in dependency order.
struct Layout {
    /// Its source folder, from the workspace root.
    src: &'static str,
    /// Its parts: each may use only those before it.
    order: &'static [&'static str],
    /// The files at the root of `src` that form the first part, `leaf`.
    leaves: &'static [&'static str],
}

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

/// The part a file belongs to: its folder, or for a file at the root `leaf`, `lib` or its own
/// name (the runtime's `exposition`, `page`; the macros' `input`, `valid`, `plan`).
fn part_of(layout: &Layout, src: &Path, file: &Path) -> String {
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
    if layout.leaves.contains(&stem) {
        "leaf".to_owned()
    } else {
        stem.to_owned()
    }
}

/// The part a top-level name of the crate (`crate::NAME`) belongs to: `None` for a name that
/// is not a module of the crate root (a re-export, such as `crate::Builder`).
fn part_of_name(layout: &Layout, name: &str) -> Option<&'static str> {
    if layout.leaves.contains(&name) {
        return Some("leaf");
    }
    if name == "__private" {
        return Some("lib");
    }
    layout.order.iter().copied().find(|p| *p == name)
}

/// The code of a file without comments and without its unit tests (`#[cfg(test)] mod …`).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The imports of `layout`'s crate against its order, and those through `lib.rs`'s
/// re-exports.
fn wrong_imports(layout: &Layout) -> (Vec<String>, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(layout.src);
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 10,
        "found {} files under {}",
        files.len(),
        src.display()
    );
    let mut upward = Vec::new();
    let mut through_root = Vec::new();
    // A sibling `tests.rs` is a `#[cfg(test)] mod tests;`: unit tests, which may drive the
    // phases in order (the grammar's tests parse, then validate).
    let files = files.iter().filter(|f| !f.ends_with("tests.rs"));
    for file in files {
        let from = part_of(layout, &src, file);
        let rank = layout
            .order
            .iter()
            .position(|p| *p == from)
            .unwrap_or_else(|| {
                panic!(
                    "{} is in part {from:?}, which is not in the order: add it where it belongs",
                    file.display()
                )
            });
        let text = fs::read_to_string(file).expect("readable");
        for name in crate_paths(&code(&text)) {
            let Some(to) = part_of_name(layout, &name) else {
                if from != "lib" {
                    through_root.push(format!("{} uses crate::{name}", file.display()));
                }
                continue;
            };
            let to_rank = layout.order.iter().position(|p| *p == to).expect("listed");
            if to != from && to_rank > rank {
                upward.push(format!("{} uses crate::{name} ({to})", file.display()));
            }
        }
    }
    (upward, through_root)
}

/// The first segment of every `crate::` path in `code` (not `my_crate::`).
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            !code[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn runtime_folders_depend_one_way() {
    let (upward, through_root) = wrong_imports(&RUNTIME);
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
fn macro_phases_run_one_way() {
    let (upward, through_root) = wrong_imports(&MACROS);
    assert!(
        upward.is_empty(),
        "a phase of obs-macros-core uses a later one (the order is {MACRO_ORDER:?}): hand \
         what it needs forward through the phase's output instead:\n{}",
        upward.join("\n")
    );
    assert!(
        through_root.is_empty(),
        "imports through lib.rs's re-exports: name the owning module instead (crate::Kind \
         is crate::args::Kind):\n{}",
        through_root.join("\n")
    );
}

#[test]
fn no_source_file_holds_more_than_one_idea() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("obs-runtime/src"), &mut files);
    sources(&root.join("obs-macros/src"), &mut files);
    sources(&root.join("obs-macros/core/src"), &mut files);
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
    let text = "use crate::setup::Builder;\n// crate::serve in a comment is fine\nmy_crate::obs\n";
    assert_eq!(crate_paths(&code(text)), ["setup"]);
    assert_eq!(part_of_name(&RUNTIME, "setup"), Some("setup"));
    assert_eq!(part_of_name(&RUNTIME, "sync"), Some("leaf"));
    assert_eq!(part_of_name(&RUNTIME, "Builder"), None);
    // In the macros, the plan naming the expansion is against the order, and `crate::Kind`
    // is a re-export.
    assert_eq!(part_of_name(&MACROS, "shared"), Some("leaf"));
    assert_eq!(part_of_name(&MACROS, "expand"), Some("expand"));
    assert_eq!(part_of_name(&MACROS, "Kind"), None);
    let rank = |part| MACRO_ORDER.iter().position(|p| *p == part);
    assert!(rank("expand") > rank("plan") && rank("valid") > rank("args"));
}
