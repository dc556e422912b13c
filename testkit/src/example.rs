//! Examples built with the cargo running the test (a no-op when `cargo test` already built
//! them), their executables read from cargo's JSON messages.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Builds the examples `names` with `cargo build` and `args` (`--package obs`, `--features
/// otlp`, `--workspace`: what the test's package needs), in release if the test is, and
/// returns each one's executable, by example name.
///
/// # Panics
///
/// If cargo fails, or builds no executable for one of `names`.
pub fn examples(args: &[&str], names: &[&str]) -> Vec<(String, PathBuf)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--quiet", "--message-format=json"])
        .args(args);
    for name in names {
        command.args(["--example", name]);
    }
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building the examples {names:?} failed"
    );
    // One JSON message a line; the lines that are not one (none today) are skipped.
    let built: Vec<(String, PathBuf)> = String::from_utf8(out.stdout)
        .expect("cargo prints UTF-8")
        .lines()
        .filter_map(|line| executable(&serde_json::from_str(line).ok()?))
        .collect();
    for name in names {
        assert!(
            built.iter().any(|(n, _)| n == name),
            "cargo printed no executable for example {name}"
        );
    }
    built
}

/// Builds the example `name` of the package under test and returns its executable.
///
/// # Panics
///
/// If cargo fails, or builds no such example.
pub fn example(name: &str) -> PathBuf {
    examples(&[], &[name])
        .into_iter()
        .find_map(|(n, path)| (n == name).then_some(path))
        .expect("checked by examples()")
}

/// The example and executable of a `compiler-artifact` message that has one.
fn executable(message: &serde_json::Value) -> Option<(String, PathBuf)> {
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let target = &message["target"];
    let kinds = target["kind"].as_array()?;
    if !kinds.iter().any(|k| k == "example") {
        return None;
    }
    let name = target["name"].as_str()?.to_owned();
    let path = PathBuf::from(message["executable"].as_str()?);
    Some((name, path))
}
