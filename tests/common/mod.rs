//! Helpers shared by the behaviour tests: a raw HTTP client, the exposition-format parser, and
//! promtool.
// Every test binary compiles this module with `mod common;` and uses a part of it; without
// these, each would warn about the parts it does not use (the re-exports below included).
#![allow(dead_code, unused_imports, unreachable_pub)]

mod http;
mod page;

use std::io::Write;
use std::process::{Command, Stdio};

pub use http::{Response, raw, request};
pub use page::{Family, Page, ParseError, Sample, parse_labels};

/// Runs `promtool check metrics` on `page`. Returns `None` when promtool is not installed and
/// this is not CI (where `.ci/run` installs it, and its absence is a failure).
pub fn promtool_check_metrics(page: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is needed in CI: apt-get install prometheus ({e})"
            );
            eprintln!(
                "SKIPPED promtool check: promtool not found ({e}); apt-get install prometheus"
            );
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}
