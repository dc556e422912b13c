//! The external tools some tests run (promtool, Prometheus, Python's `prometheus_client`,
//! Chromium): one rule when one is missing. `.ci/run` installs them and CI sets `CI`, so there
//! a missing tool fails the test; elsewhere the test says it skipped the check, and passes.

use std::fmt::Display;
use std::io::Write as _;
use std::path::{Path, PathBuf};
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
    run_promtool(Path::new("promtool"), args, stdin)
}

/// Runs Debian trixie's promtool 2.53 (see [`trixie`]) with `args`, as [`promtool`] runs
/// bookworm's 2.42: the rules tests that write native histograms in `input_series` need it.
///
/// # Panics
///
/// In CI when `OBS_PROMTOOL_NATIVE` does not name it, or if its pipes fail.
#[track_caller]
pub fn native_promtool(args: &[&str], stdin: Option<&str>) -> Option<(bool, String)> {
    let path = trixie("OBS_PROMTOOL_NATIVE", "promtool")?;
    run_promtool(&path, args, stdin)
}

/// Debian trixie's 2.53 `binary` (`promtool` or `prometheus`, the first release here with
/// native histograms in promtool's test input and `scrape_classic_histograms`), as the
/// variable `var` names it: `.ci/run` unpacks the packages and sets it; `None` elsewhere,
/// after [`missing`].
///
/// # Panics
///
/// In CI when `var` does not name a file.
#[track_caller]
pub fn trixie(var: &str, binary: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(path) if path.is_file() => Some(path),
        found => {
            missing(
                &format!("{binary} 2.53"),
                &format!(
                    "{var}=/path/to/{binary} (.ci/run unpacks Debian trixie's {binary} package \
                     into ~/.cache/obs-ci/prometheus-native)"
                ),
                format!("{var} is {found:?}"),
            );
            None
        }
    }
}

#[track_caller]
fn run_promtool(program: &Path, args: &[&str], stdin: Option<&str>) -> Option<(bool, String)> {
    let child = Command::new(program)
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
