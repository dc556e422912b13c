//! Helpers shared by the behaviour tests: a raw HTTP client, the exposition-format parser,
//! promtool, and the examples' builder.
// Every test binary compiles this module with `mod common;` and uses a part of it; without
// these, each would warn about the parts it does not use (the re-exports below included).
#![allow(dead_code, unused_imports, unreachable_pub)]

mod http;
mod page;
pub mod prometheus;

use std::io::Write;
use std::process::{Command, Stdio};

pub use http::{Response, raw, request};
pub use obs_testkit::{example, examples};
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

/// What Python's `prometheus_client` makes of an OpenMetrics page: its strict parser
/// (`prometheus_client.openmetrics.parser`) reads the whole page, and the helper prints one
/// line per sample that carries an exemplar: `name labels-json trace_id span_id value ts`.
/// `Err` with the parser's complaint if it refuses the page; `None` when python3 or the package
/// is missing and this is not CI (where `.ci/run` installs it, and its absence is a failure).
pub fn openmetrics_parse(page: &str) -> Option<Result<Vec<String>, String>> {
    const SCRIPT: &str = r#"
import json, sys
try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError as e:
    print(e)
    sys.exit(3)
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        if s.exemplar is not None:
            e = s.exemplar
            print(s.name, json.dumps(s.labels, sort_keys=True, separators=(",", ":")),
                  e.labels.get("trace_id"), e.labels.get("span_id"), repr(e.value), e.timestamp)
"#;
    let missing = |why: &str| {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with prometheus_client is needed in CI: python3 -m pip install \
             prometheus_client ({why})"
        );
        eprintln!("SKIPPED OpenMetrics check: {why}; python3 -m pip install prometheus_client");
        None
    };
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return missing(&format!("python3 not found ({e})")),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(0) => Some(Ok(stdout.lines().map(str::to_owned).collect())),
        Some(3) => missing(stdout.trim()),
        _ => Some(Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ))),
    }
}
