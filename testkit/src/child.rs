//! A test run again in a process of its own, for what a process has only once (the global
//! subscriber `init()` sets, standard error as a whole): the parent runs one `#[ignore]`d
//! child test of its own binary and reads what it wrote.

use std::process::Command;

/// Runs the ignored test `name` of the running test binary alone in a child process, with
/// `vars` added to its environment; returns its standard error once it has passed.
///
/// # Panics
///
/// If the child cannot be started, or fails (its standard error in the message).
#[track_caller]
pub fn child_test(name: &str, vars: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args(["--ignored", "--exact", name])
        .envs(vars.iter().copied())
        .output()
        .expect("run the child test");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name} failed: {stderr}");
    stderr
}
