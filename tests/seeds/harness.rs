//! What every seed test does: build and start an example, scrape and check its page, rules
//! and dashboard, and read its exported spans and JSON logs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common::{self, Page, Sample};

const EXAMPLES: [&str; 5] = [
    "seed_viki",
    "seed_jeeves",
    "seed_sixseven",
    "seed_victor",
    "seed_retrieval",
];

/// Builds the five examples once, with the cargo running this test (a no-op when `cargo test`
/// already built them), and returns the executable of `name`.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| common::examples(&[], &EXAMPLES));
    let found = built.iter().find(|(stem, _)| stem == name);
    let (_, path) =
        found.unwrap_or_else(|| panic!("cargo printed no executable for example {name}"));
    path.clone()
}

/// A running example: killed when the test ends, whatever way.
pub(crate) struct Run {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the tests set, always: a free port, console spans flushed every 100 ms, JSON logs.
const BASE_ENV: [(&str, &str); 4] = [
    ("OTEL_EXPORTER_PROMETHEUS_PORT", "0"),
    ("OTEL_TRACES_EXPORTER", "console"),
    ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ("OBS_LOG_FORMAT", "json"),
];

/// Starts example `name` with `env` (on top of [`BASE_ENV`], with this process's obs and
/// OpenTelemetry variables removed) and waits for it to say where it serves.
pub(crate) fn start(name: &str, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(example(name));
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("OBS_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    let mut child = command
        .envs(BASE_ENV)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .strip_prefix("serving ")
        .unwrap_or_else(|| panic!("the first line names the URL: {first}"));
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&stdout);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&stderr);
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    Run {
        child,
        addr,
        stdout,
        stderr,
    }
}

impl Run {
    /// Waits for a stdout line starting with `prefix` and returns it.
    pub(crate) fn wait_for_line(&self, prefix: &str) -> String {
        common::eventually(
            &format!("a stdout line starting with {prefix:?}"),
            Duration::from_secs(60),
            || {
                let stdout = self.stdout.lock().unwrap();
                match stdout.iter().find(|l| l.starts_with(prefix)) {
                    Some(line) => Ok(line.clone()),
                    None => Err(common::Text(format!(
                        "stdout:\n{}\nstderr:\n{}",
                        stdout.join("\n"),
                        self.stderr.lock().unwrap()
                    ))),
                }
            },
        )
    }

    /// The page, checked by promtool.
    pub(crate) fn page(&self) -> Page {
        let response = common::request(self.addr, "GET", "/metrics");
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");
        let page = response.body;
        if let Some((clean, report)) = common::promtool_check_metrics(&page) {
            assert!(clean, "promtool check metrics:\n{report}\n{page}");
        }
        Page::parse(&page)
    }

    /// The generated rules, checked by `promtool check rules`.
    pub(crate) fn rules(&self) -> String {
        let rules = self.get("/obs/rules.yml").body;
        let path = std::env::temp_dir().join(format!(
            "obs-seeds-{}-{}.rules.yml",
            std::process::id(),
            self.addr.port()
        ));
        std::fs::write(&path, &rules).unwrap();
        if let Some((ok, report)) =
            common::promtool(&["check", "rules", path.to_str().unwrap()], None)
        {
            assert!(ok, "promtool check rules:\n{report}\n{rules}");
        }
        let _ = std::fs::remove_file(&path);
        rules
    }

    /// Every query of the generated dashboard parses: promtool has no dashboard check, so each
    /// becomes a recording rule, Grafana's variables replaced as Grafana would.
    pub(crate) fn check_dashboard(&self) {
        let json: serde_json::Value =
            serde_json::from_str(&self.get("/obs/dashboard.json").body).expect("valid JSON");
        let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
        let exprs = json["panels"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["targets"].as_array().unwrap())
            .map(|t| t["expr"].as_str().unwrap());
        for (i, expr) in exprs.enumerate() {
            let concrete = expr
                .replace("$__rate_interval", "1m")
                .replace("$job", "seed")
                .replace("$function", ".*");
            let _ = writeln!(
                file,
                "      - record: dashboard:query_{i}\n        expr: {}",
                serde_json::to_string(&concrete).unwrap()
            );
        }
        let path = std::env::temp_dir().join(format!(
            "obs-seeds-{}-{}.dashboard.yml",
            std::process::id(),
            self.addr.port()
        ));
        std::fs::write(&path, &file).unwrap();
        if let Some((ok, report)) =
            common::promtool(&["check", "rules", path.to_str().unwrap()], None)
        {
            assert!(ok, "a dashboard query does not parse:\n{report}\n{file}");
        }
        let _ = std::fs::remove_file(&path);
    }

    pub(crate) fn get(&self, path: &str) -> common::Response {
        common::request(self.addr, "GET", path)
    }

    /// The exported span lines, once at least `n` have arrived.
    pub(crate) fn spans(&self, n: usize) -> Vec<Span> {
        common::eventually(
            &format!("{n} exported spans"),
            Duration::from_secs(30),
            || {
                let spans: Vec<Span> = self
                    .stdout
                    .lock()
                    .unwrap()
                    .iter()
                    .filter_map(|l| Span::parse(l))
                    .collect();
                if spans.len() >= n {
                    Ok(spans)
                } else {
                    Err(spans.len())
                }
            },
        )
    }

    /// The JSON log lines on stderr.
    pub(crate) fn logs(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// One console span line: `span name=… duration=…ms status=… [description=…] trace_id=…
/// span_id=… parent_id=…`.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) trace_id: String,
    pub(crate) id: String,
    pub(crate) parent: Option<String>,
}

impl Span {
    fn parse(line: &str) -> Option<Span> {
        let rest = line.strip_prefix("span name=")?;
        let (name, rest) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"')?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = rest.find(' ')?;
            (rest[..end].to_owned(), &rest[end..])
        };
        let word = |key: &str| {
            let at = rest.find(&format!(" {key}="))? + key.len() + 2;
            Some(rest[at..].split(' ').next()?.to_owned())
        };
        Some(Span {
            name,
            status: word("status")?,
            trace_id: word("trace_id")?,
            id: word("span_id")?,
            parent: word("parent_id").filter(|p| p != "none"),
        })
    }
}

/// The spans of each trace, by trace id.
pub(crate) fn traces(spans: &[Span]) -> BTreeMap<String, Vec<Span>> {
    let mut out: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for span in spans {
        out.entry(span.trace_id.clone())
            .or_default()
            .push(span.clone());
    }
    out
}

/// A trace as `child < parent` edges by name, sorted, with the root as `root`.
pub(crate) fn tree(trace: &[Span]) -> Vec<String> {
    let by_id: BTreeMap<&str, &Span> = trace.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut edges: Vec<String> = trace
        .iter()
        .map(|s| match &s.parent {
            None => format!("{} < root", s.name),
            Some(parent) => {
                let parent = by_id.get(parent.as_str()).map_or("?", |p| p.name.as_str());
                format!("{} < {parent}", s.name)
            }
        })
        .collect();
    edges.sort();
    edges
}

/// The value of `name{labels}`, its labels in page order, which must be on the page and a
/// count (every value these tests assert is one).
pub(crate) fn value(page: &Page, name: &str, labels: &[(&str, &str)]) -> u64 {
    page.get(name, labels)
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} on the page:\n{page}"))
        .count()
}

/// `base` and then `more`: a series' labels from the ones it shares with others.
pub(crate) fn plus<'a>(
    base: &[(&'a str, &'a str)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

/// The `# TYPE` of every family whose name starts with `prefix`.
pub(crate) fn families(page: &Page, prefix: &str) -> BTreeMap<String, String> {
    page.families()
        .iter()
        .filter(|f| f.name.starts_with(prefix))
        .filter_map(|f| Some((f.name.clone(), f.kind.clone()?)))
        .collect()
}

/// The samples of family `name` (histograms: of its `_count`).
fn family_samples<'a>(page: &'a Page, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
    page.samples().iter().filter(move |s| {
        s.name
            .strip_prefix(name)
            .is_some_and(|suffix| suffix.is_empty() || suffix == "_count")
    })
}

/// The label names of the samples of family `name` (histograms: of its `_count`).
pub(crate) fn label_names(page: &Page, name: &str) -> BTreeSet<String> {
    family_samples(page, name)
        .flat_map(|s| s.labels.iter().map(|(k, _)| k.clone()))
        .collect()
}

/// The values label `label` takes in family `name`.
pub(crate) fn label_values(page: &Page, name: &str, label: &str) -> BTreeSet<String> {
    family_samples(page, name)
        .filter_map(|s| s.label(label).map(str::to_owned))
        .collect()
}

pub(crate) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Every JSON log line written inside a span carries a trace id that is one of the exported
/// traces; returns the lines with `message`.
pub(crate) fn logs_in_traces(
    run: &Run,
    traces: &BTreeMap<String, Vec<Span>>,
    message: &str,
) -> Vec<serde_json::Value> {
    let logs = run.logs();
    assert!(!logs.is_empty(), "JSON logs on stderr");
    for line in &logs {
        if line.get("span").is_some() {
            let trace = line["trace_id"]
                .as_str()
                .unwrap_or_else(|| panic!("a line inside a span carries its trace id: {line}"));
            assert!(traces.contains_key(trace), "{trace} is exported: {line}");
        }
    }
    logs.into_iter()
        .filter(|l| l["message"] == message)
        .collect()
}
