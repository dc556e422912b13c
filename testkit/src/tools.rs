//! The external tools some tests run (promtool, Prometheus, Python's `prometheus_client`,
//! Chromium): one rule when one is missing. `.ci/run` installs them and CI sets `CI`, so there
//! a missing tool fails the test; elsewhere the test says it skipped the check, and passes.

use std::fmt::Display;
use std::io::Write as _;
use std::process::{Command, Stdio};

/// Called when `tool` is not installed: panics in CI (`CI` set), naming `install`, the way to
/// get it; elsewhere prints a `SKIPPED` notice so the test can skip what needs the tool.
///
/// # Panics
///
/// In CI.
#[track_caller]
pub fn missing(tool: &str, install: &str, why: impl Display) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{tool} is needed in CI: {install} ({why})"
    );
    eprintln!("SKIPPED the {tool} check: {why}; {install}");
}

/// Runs `promtool` with `args`, `stdin` written to its standard input: whether it exited 0,
/// and what it printed (stdout, then stderr). `None` when promtool is not installed outside
/// CI (see [`missing`]).
///
/// # Panics
///
/// In CI when promtool is not installed, or if its pipes fail.
#[track_caller]
pub fn promtool(args: &[&str], stdin: Option<&str>) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            missing(
                "promtool",
                "apt-get install prometheus",
                format!("promtool not found: {e}"),
            );
            return None;
        }
    };
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())
            .expect("promtool reads its input");
    }
    let out = child.wait_with_output().expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), report))
}

/// `promtool check metrics` on a text page: see [`promtool`].
///
/// # Panics
///
/// As [`promtool`].
#[track_caller]
pub fn promtool_check_metrics(page: &str) -> Option<(bool, String)> {
    promtool(&["check", "metrics"], Some(page))
}
