//! Helpers shared by the behaviour tests: a raw HTTP client, a Prometheus server, Python's
//! OpenMetrics parser, and obs-testkit's tools (the exposition-format parser, promtool, the
//! `eventually` poll, the examples' builder) re-exported.
// Every test binary compiles this module with `mod common;` and uses a part of it; without
// these, each would warn about the parts it does not use (the re-exports below included).
#![allow(dead_code, unused_imports, unreachable_pub)]

mod http;
pub mod prometheus;

use std::io::Write;
use std::process::{Command, Stdio};

pub use http::{Response, raw, request};
pub use obs_testkit::{
    Family, Page, ParseError, Sample, Text, eventually, example, examples, missing,
    native_promtool, parse_labels, promtool, promtool_check_metrics, wait_until,
};

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
    let skip = |why: &str| {
        missing(
            "python3 with prometheus_client",
            "python3 -m pip install prometheus_client",
            why,
        );
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
        Err(e) => return skip(&format!("python3 not found ({e})")),
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
        Some(3) => skip(stdout.trim()),
        _ => Some(Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ))),
    }
}
