//! End to end: the five seed examples (`examples/seed_*.rs`) as their plans' readers run them.
//! Each runs a short deterministic workload; the test scrapes its page, checks it with
//! promtool, and asserts the plan's metric names, label names and values and the exact
//! counts the workload makes. With the console exporter on, it also checks each trace's span
//! tree from the exported span lines, and that the JSON log lines carry the trace ids.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--message-format=json"]);
        for example in EXAMPLES {
            build.args(["--example", example]);
        }
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let out = build.stderr(Stdio::inherit()).output().expect("cargo runs");
        assert!(out.status.success(), "building the seed examples failed");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
            .filter_map(|l| {
                let start = l.find(r#""executable":""#)? + r#""executable":""#.len();
                let end = start + l[start..].find('"')?;
                let path = PathBuf::from(&l[start..end]);
                let stem = path.file_stem()?.to_string_lossy().into_owned();
                Some((stem, path))
            })
            .collect()
    });
    let found = built.iter().find(|(stem, _)| stem == name);
    let (_, path) =
        found.unwrap_or_else(|| panic!("cargo printed no executable for example {name}"));
    path.clone()
}

/// A running example: killed when the test ends, whatever way.
struct Run {
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
fn start(name: &str, env: &[(&str, &str)]) -> Run {
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
    fn wait_for_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
            {
                return line.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line {prefix:?}; stdout:\n{}\nstderr:\n{}",
                self.stdout.lock().unwrap().join("\n"),
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The page, checked by promtool.
    fn page(&self) -> String {
        let response = common::request(self.addr, "GET", "/metrics");
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");
        let page = response.body;
        if let Some((clean, report)) = common::promtool_check_metrics(&page) {
            assert!(clean, "promtool check metrics:\n{report}\n{page}");
        }
        page
    }

    /// The generated rules, checked by `promtool check rules`.
    fn rules(&self) -> String {
        let rules = self.get("/obs/rules.yml").body;
        let path = std::env::temp_dir().join(format!(
            "obs-seeds-{}-{}.rules.yml",
            std::process::id(),
            self.addr.port()
        ));
        std::fs::write(&path, &rules).unwrap();
        match Command::new("promtool")
            .args(["check", "rules"])
            .arg(&path)
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "promtool check rules:\n{}{}\n{rules}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "promtool is needed in CI ({e})"
                );
                eprintln!("SKIPPED promtool check rules: {e}");
            }
        }
        let _ = std::fs::remove_file(&path);
        rules
    }

    /// Every query of the generated dashboard parses: promtool has no dashboard check, so each
    /// becomes a recording rule, Grafana's variables replaced as Grafana would.
    fn check_dashboard(&self) {
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
        if let Ok(out) = Command::new("promtool")
            .args(["check", "rules"])
            .arg(&path)
            .output()
        {
            assert!(
                out.status.success(),
                "a dashboard query does not parse:\n{}{}\n{file}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = std::fs::remove_file(&path);
    }

    fn get(&self, path: &str) -> common::Response {
        common::request(self.addr, "GET", path)
    }

    /// The exported span lines, once at least `n` have arrived.
    fn spans(&self, n: usize) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans: Vec<Span> = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| Span::parse(l))
                .collect();
            if spans.len() >= n || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The JSON log lines on stderr.
    fn logs(&self) -> Vec<serde_json::Value> {
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
struct Span {
    name: String,
    status: String,
    trace_id: String,
    id: String,
    parent: Option<String>,
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
fn traces(spans: &[Span]) -> BTreeMap<String, Vec<Span>> {
    let mut out: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for span in spans {
        out.entry(span.trace_id.clone())
            .or_default()
            .push(span.clone());
    }
    out
}

/// A trace as `child < parent` edges by name, sorted, with the root as `root`.
fn tree(trace: &[Span]) -> Vec<String> {
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

/// The value of `name{labels}`, which must be on the page and a whole number (every value
/// these tests assert is a count).
fn value(page: &str, name: &str, labels: &str) -> u64 {
    let v = common::sample(page, name, labels)
        .unwrap_or_else(|| panic!("no sample {name}{{{labels}}} on the page:\n{page}"));
    assert!(v >= 0.0 && v.fract() == 0.0, "{name}{{{labels}}} is {v}");
    // A whole number, checked above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = v as u64;
    n
}

/// The `# TYPE` of every family whose name starts with `prefix`.
fn families(page: &str, prefix: &str) -> BTreeMap<String, String> {
    page.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some((name.to_owned(), kind.to_owned()))
        })
        .collect()
}

/// The label names of the samples of family `name` (histograms: of its `_count`).
fn label_names(page: &str, name: &str) -> BTreeSet<String> {
    let prefixes = [format!("{name}{{"), format!("{name}_count{{")];
    page.lines()
        .filter_map(|l| prefixes.iter().find_map(|p| l.strip_prefix(p.as_str())))
        .flat_map(|rest| {
            let labels = &rest[..rest.find("} ").unwrap_or(rest.len())];
            labels
                .split("\",")
                .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The values label `label` takes in family `name`.
fn label_values(page: &str, name: &str, label: &str) -> BTreeSet<String> {
    let prefixes = [format!("{name}{{"), format!("{name}_count{{")];
    let key = format!("{label}=\"");
    page.lines()
        .filter_map(|l| prefixes.iter().find_map(|p| l.strip_prefix(p.as_str())))
        .filter_map(|rest| {
            let at = rest.find(&key)? + key.len();
            Some(rest[at..at + rest[at..].find('"')?].to_owned())
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Every JSON log line written inside a span carries a trace id that is one of the exported
/// traces; returns the lines with `message`.
fn logs_in_traces(
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

/// Seed 000: VIKI, 20 requests.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_viki() {
    let run = start("seed_viki", &[("VIKI_REQUESTS", "20")]);
    run.wait_for_line("workload done: 20 requests, 14 answered");
    let page = run.page();
    let m = r#"function="process_request",module="seed_viki""#;

    assert_eq!(
        families(&page, "viki_"),
        [
            ("viki_active_requests", "gauge"),
            ("viki_cortex_layer_duration_seconds", "histogram"),
            ("viki_request_duration_seconds", "histogram"),
            ("viki_requests_total", "counter"),
            ("viki_skill_duration_seconds", "histogram"),
            ("viki_skill_executions_total", "counter"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    );
    assert!(page.contains("# HELP viki_requests_total Total number of requests\n"));
    // Per 10 requests: 7 answered, 1 blocked, 2 errors (a failed and a timed-out skill).
    assert_eq!(
        label_values(&page, "viki_requests_total", "status"),
        set(&["blocked", "error", "success"])
    );
    let requests = |status: &str| {
        value(
            &page,
            "viki_requests_total",
            &format!(r#"{m},status="{status}""#),
        )
    };
    assert_eq!(requests("success"), 14);
    assert_eq!(requests("error"), 4);
    assert_eq!(requests("blocked"), 2);
    // The plan's buckets; the two slow requests (150 ms) are over 0.1 s.
    let bucket = |le: &str| {
        value(
            &page,
            "viki_request_duration_seconds_bucket",
            &format!(r#"{m},status="success",le="{le}""#),
        )
    };
    assert_eq!(bucket("0.1"), 12);
    assert_eq!(bucket("0.5"), 14);
    assert_eq!(bucket("10"), 14);
    assert!(page.contains(r#"viki_request_duration_seconds_bucket{function="process_request",module="seed_viki",status="success",le="2"}"#));
    assert_eq!(value(&page, "viki_active_requests", m), 0);

    // Skills: success and error only, as in the plan (the smart home timeouts read `error`).
    assert_eq!(
        label_names(&page, "viki_skill_executions_total"),
        set(&["function", "module", "skill_name", "status"])
    );
    assert_eq!(
        label_values(&page, "viki_skill_executions_total", "status"),
        set(&["error", "success"])
    );
    let skill = |name: &str, status: &str| {
        value(
            &page,
            "viki_skill_executions_total",
            &format!(
                r#"function="execute_skill",module="seed_viki",skill_name="{name}",status="{status}""#
            ),
        )
    };
    for (name, ok, failed) in [
        ("weather", 6, 0),
        ("timer", 4, 0),
        ("web_search", 2, 2),
        ("smart_home", 2, 2),
    ] {
        assert_eq!(skill(name, "success"), ok, "{name}");
        assert_eq!(skill(name, "error"), failed, "{name}");
    }
    let weather =
        r#"function="execute_skill",module="seed_viki",skill_name="weather",status="success""#;
    assert_eq!(
        value(
            &page,
            "viki_skill_duration_seconds_bucket",
            &format!(r#"{weather},le="0.1""#)
        ),
        4,
        "the two detailed forecasts take 150 ms"
    );
    assert_eq!(
        value(
            &page,
            "viki_skill_duration_seconds_bucket",
            &format!(r#"{weather},le="5""#)
        ),
        6
    );

    // Cortex layers: one family, `layer_name` from each layer's attribute.
    let layer = |name: &str, status: &str| {
        value(
            &page,
            "viki_cortex_layer_duration_seconds_count",
            &format!(
                r#"function="{name}",module="seed_viki",layer_name="{name}",status="{status}""#
            ),
        )
    };
    assert_eq!(layer("reflex", "success"), 18);
    assert_eq!(layer("reflex", "blocked"), 2);
    assert_eq!(layer("cognition", "success"), 14);
    assert_eq!(layer("cognition", "error"), 4);
    assert_eq!(layer("synthesis", "success"), 14);

    // The objectives' alerts count failures as what is not `success`.
    run.check_dashboard();
    let rules = run.rules();
    assert!(
        rules.contains(r#"rate(viki_requests_total{status!="success"}[1h])"#),
        "{rules}"
    );
    assert!(rules.contains("alert: ObsErrorBudgetFastBurn"), "{rules}");
    assert!(rules.contains("alert: ObsLatencyBudgetFastBurn"), "{rules}");

    // One trace per request: the layers under the request, the skill under cognition.
    let spans = run.spans(90);
    assert_eq!(spans.len(), 90);
    let traces = traces(&spans);
    assert_eq!(traces.len(), 20, "{spans:#?}");
    let shapes: BTreeMap<Vec<String>, usize> =
        traces.values().fold(BTreeMap::new(), |mut all, trace| {
            *all.entry(tree(trace)).or_default() += 1;
            all
        });
    let answered = vec![
        "cognition < process_request".to_owned(),
        "execute_skill < cognition".to_owned(),
        "process_request < root".to_owned(),
        "reflex < process_request".to_owned(),
        "synthesis < process_request".to_owned(),
    ];
    assert_eq!(shapes.get(&answered), Some(&14), "{shapes:#?}");
    let blocked = vec![
        "process_request < root".to_owned(),
        "reflex < process_request".to_owned(),
    ];
    assert_eq!(shapes.get(&blocked), Some(&2), "{shapes:#?}");
    let failed_requests = spans
        .iter()
        .filter(|s| s.name == "process_request" && s.status == "error")
        .count();
    assert_eq!(
        failed_requests, 6,
        "errors and blocked requests mark their span"
    );

    // Logs carry the request's trace id; skill failures are logged inside their span.
    let failures = logs_in_traces(&run, &traces, "skill failed");
    assert_eq!(failures.len(), 4);
    for line in &failures {
        // The request's user and the skill, from the enclosing spans' fields.
        assert!(line["context"]["user_id"].is_string(), "{line}");
        assert_eq!(line["context"]["skill_name"], line["fields"]["skill"]);
    }
    assert!(
        failures
            .iter()
            .any(|l| l["fields"]["error"] == "timed out after 60ms"),
        "{failures:?}"
    );
    assert_eq!(logs_in_traces(&run, &traces, "request started").len(), 20);
}

/// Seed 001: jeeves, 20 requests through the gateway.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_jeeves() {
    let run = start("seed_jeeves", &[("JEEVES_REQUESTS", "20")]);
    run.wait_for_line("workload done: 20 requests, 16 succeeded");
    let page = run.page();

    let kinds = families(&page, "jeeves_");
    for (name, kind) in [
        ("jeeves_pipeline_executions_total", "counter"),
        ("jeeves_pipeline_duration_seconds", "histogram"),
        ("jeeves_agent_executions_total", "counter"),
        ("jeeves_agent_duration_seconds", "histogram"),
        ("jeeves_llm_calls_total", "counter"),
        ("jeeves_llm_tokens_total", "counter"),
        ("jeeves_llm_duration_seconds", "histogram"),
        ("jeeves_db_connections", "gauge"),
        ("jeeves_db_query_duration_seconds", "histogram"),
        ("jeeves_interrupts_total", "counter"),
        ("jeeves_http_requests_total", "counter"),
        ("jeeves_http_request_duration_seconds", "histogram"),
        ("jeeves_db_pool_size", "gauge"),
        ("jeeves_db_pool_active_connections", "gauge"),
        ("jeeves_db_pool_idle_connections", "gauge"),
    ] {
        assert_eq!(
            kinds.get(name).map(String::as_str),
            Some(kind),
            "{name}: {kinds:?}"
        );
    }

    // Pipelines: `answer` on even requests, `triage` on odd ones; per 10, one provider error
    // (triage) and one timeout (answer).
    assert_eq!(
        label_names(&page, "jeeves_pipeline_executions_total"),
        set(&["function", "module", "pipeline", "status"])
    );
    assert_eq!(
        label_values(&page, "jeeves_pipeline_executions_total", "status"),
        set(&["error", "success", "timeout"])
    );
    let pipeline = |name: &str, status: &str| {
        value(
            &page,
            "jeeves_pipeline_executions_total",
            &format!(
                r#"function="PipelineRunner::execute",module="seed_jeeves",pipeline="{name}",status="{status}""#
            ),
        )
    };
    assert_eq!(pipeline("answer", "success"), 8);
    assert_eq!(pipeline("answer", "timeout"), 2);
    assert_eq!(pipeline("triage", "success"), 8);
    assert_eq!(pipeline("triage", "error"), 2);
    let answer_ok = r#"function="PipelineRunner::execute",module="seed_jeeves",pipeline="answer",status="success""#;
    let le = |le: &str| {
        value(
            &page,
            "jeeves_pipeline_duration_seconds_bucket",
            &format!(r#"{answer_ok},le="{le}""#),
        )
    };
    assert_eq!(le("0.1"), 6, "the two slow selects take 120 ms");
    assert_eq!(le("0.5"), 8);
    assert_eq!(le("60"), 8);

    let agent = |name: &str, status: &str| {
        value(
            &page,
            "jeeves_agent_executions_total",
            &format!(
                r#"function="Agent::process",module="seed_jeeves",agent="{name}",status="{status}""#
            ),
        )
    };
    assert_eq!(agent("planner", "success"), 20);
    assert_eq!(agent("retriever", "success"), 8);
    assert_eq!(agent("retriever", "timeout"), 2);
    assert_eq!(agent("writer", "success"), 16);
    assert_eq!(agent("writer", "error"), 2);

    // LLM calls per provider and model; tokens of the successful calls, by type.
    assert_eq!(
        label_names(&page, "jeeves_llm_calls_total"),
        set(&["function", "module", "model", "provider", "status"])
    );
    let llm = |provider: &str, model: &str, status: &str| {
        value(
            &page,
            "jeeves_llm_calls_total",
            &format!(
                r#"function="Provider::generate",module="seed_jeeves",provider="{provider}",model="{model}",status="{status}""#
            ),
        )
    };
    assert_eq!(llm("anthropic", "claude-sonnet-4-5", "success"), 20);
    assert_eq!(llm("llama-server", "llama-3.1-8b", "success"), 8);
    assert_eq!(llm("llama-server", "llama-3.1-8b", "timeout"), 2);
    assert_eq!(llm("openai", "gpt-4o", "success"), 16);
    assert_eq!(llm("openai", "gpt-4o", "error"), 2);
    let tokens = |provider: &str, model: &str, kind: &str| {
        value(
            &page,
            "jeeves_llm_tokens_total",
            &format!(r#"model="{model}",provider="{provider}",type="{kind}""#),
        )
    };
    assert_eq!(tokens("anthropic", "claude-sonnet-4-5", "input"), 2400);
    assert_eq!(tokens("anthropic", "claude-sonnet-4-5", "output"), 800);
    assert_eq!(tokens("llama-server", "llama-3.1-8b", "input"), 2400);
    assert_eq!(tokens("openai", "gpt-4o", "output"), 4000);

    // The database: per operation, and the pool's gauges back at rest.
    let query = |op: &str| {
        value(
            &page,
            "jeeves_db_query_duration_seconds_count",
            &format!(
                r#"function="Database::query",module="seed_jeeves",operation="{op}",status="success""#
            ),
        )
    };
    assert_eq!(query("insert"), 20);
    assert_eq!(query("select"), 8);
    assert_eq!(query("update"), 16);
    let select_fast = r#"function="Database::query",module="seed_jeeves",operation="select",status="success",le="0.1""#;
    assert_eq!(
        value(
            &page,
            "jeeves_db_query_duration_seconds_bucket",
            select_fast
        ),
        6
    );
    for (gauge, v) in [
        ("jeeves_db_pool_size", 10),
        ("jeeves_db_connections", 10),
        ("jeeves_db_pool_active_connections", 0),
        ("jeeves_db_pool_idle_connections", 10),
    ] {
        assert_eq!(value(&page, gauge, ""), v, "{gauge}");
    }

    let interrupt = |kind: &str, status: &str| {
        value(
            &page,
            "jeeves_interrupts_total",
            &format!(
                r#"function="raise_interrupt",module="seed_jeeves",kind="{kind}",status="{status}""#
            ),
        )
    };
    assert_eq!(interrupt("clarification", "success"), 2);
    assert_eq!(interrupt("confirmation", "timeout"), 2);

    // The gateway's `status` is the HTTP code.
    assert_eq!(
        label_names(&page, "jeeves_http_requests_total"),
        set(&["endpoint", "function", "method", "module", "status"])
    );
    let http = |code: &str| {
        value(
            &page,
            "jeeves_http_requests_total",
            &format!(
                r#"function="Gateway::handle",module="seed_jeeves",method="POST",endpoint="/v1/pipelines/run",status="{code}""#
            ),
        )
    };
    assert_eq!(http("200"), 16);
    assert_eq!(http("500"), 2);
    assert_eq!(http("504"), 2);

    // The four SLOs are alerts; the gateway's error ratio counts what is not 200.
    run.check_dashboard();
    let rules = run.rules();
    for function in [
        "PipelineRunner::execute",
        "Provider::generate",
        "Database::query",
    ] {
        assert!(
            rules.contains(&format!(
                "alert: ObsErrorBudgetFastBurn\n        expr: (obs:jeeves_{}:error_ratio_rate1h{{function=\"{function}\"",
                match function {
                    "PipelineRunner::execute" => "pipeline_executions",
                    "Provider::generate" => "llm_calls",
                    _ => "db_queries",
                }
            )),
            "{function}: {rules}"
        );
    }
    assert!(rules.contains(r#"rate(jeeves_pipeline_duration_seconds_bucket{function="PipelineRunner::execute",module="seed_jeeves",le=~"5(\\.0*)?"}[1h])"#), "{rules}");
    assert!(
        rules.contains(r#"rate(jeeves_http_requests_total{status!="200"}[5m])"#),
        "{rules}"
    );

    // Traces: the plan's span names, nested as the calls are.
    let spans = run.spans(184);
    assert_eq!(spans.len(), 184);
    let traces = traces(&spans);
    assert_eq!(traces.len(), 20);
    let mut edges: BTreeSet<String> = BTreeSet::new();
    for trace in traces.values() {
        edges.extend(tree(trace));
    }
    assert_eq!(
        edges,
        set(&[
            "agent.process < pipeline.execute",
            "db.query < agent.process",
            "db.query < pipeline.execute",
            "http.request < root",
            "interrupt.raise < agent.process",
            "llm.generate < agent.process",
            "pipeline.execute < http.request",
        ])
    );
    let count = |name: &str| spans.iter().filter(|s| s.name == name).count();
    assert_eq!(count("llm.generate"), 48);
    assert_eq!(count("db.query"), 44);
    assert_eq!(logs_in_traces(&run, &traces, "pipeline.started").len(), 20);
    assert_eq!(logs_in_traces(&run, &traces, "pipeline failed").len(), 4);
}

/// Seed 002: sixseven, 20 commands.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_sixseven() {
    let run = start("seed_sixseven", &[("SIXSEVEN_COMMANDS", "20")]);
    run.wait_for_line("workload done: 20 commands, 12 jobs succeeded");
    let page = run.page();

    for (name, kind) in [
        ("sixseven_commands_total", "counter"),
        ("sixseven_job_duration_seconds", "histogram"),
        ("sixseven_active_jobs", "gauge"),
        ("sixseven_api_latency_seconds", "histogram"),
        ("sixseven_external_api_calls_total", "counter"),
        ("sixseven_external_api_latency_seconds", "histogram"),
    ] {
        assert_eq!(
            families(&page, name).get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }

    // The plan's command statuses: `created` when the job is, then `succeeded` or `failed`.
    assert_eq!(
        label_names(&page, "sixseven_commands_total"),
        set(&["function", "intent", "module", "status"])
    );
    assert_eq!(
        label_values(&page, "sixseven_commands_total", "status"),
        set(&["created", "failed", "succeeded"])
    );
    let commands = |function: &str, intent: &str, status: &str| {
        value(
            &page,
            "sixseven_commands_total",
            &format!(
                r#"function="{function}",module="seed_sixseven",intent="{intent}",status="{status}""#
            ),
        )
    };
    assert_eq!(commands("Api::create_job", "research", "created"), 10);
    assert_eq!(commands("Api::create_job", "creative", "created"), 6);
    assert_eq!(commands("run_job", "research", "succeeded"), 8);
    assert_eq!(commands("run_job", "research", "failed"), 2);
    assert_eq!(commands("run_job", "creative", "succeeded"), 4);
    assert_eq!(commands("run_job", "creative", "failed"), 2);

    assert_eq!(
        label_names(&page, "sixseven_job_duration_seconds"),
        set(&["function", "job_type", "module", "status"])
    );
    let research_ok =
        r#"function="run_job",module="seed_sixseven",job_type="research",status="succeeded""#;
    assert_eq!(
        value(
            &page,
            "sixseven_job_duration_seconds_bucket",
            &format!(r#"{research_ok},le="0.1""#)
        ),
        6,
        "the two battery researches poll four times, 30 ms each"
    );
    assert_eq!(
        value(&page, "sixseven_job_duration_seconds_count", research_ok),
        8
    );
    for job_type in ["research", "creative"] {
        let labels = format!(r#"function="run_job",module="seed_sixseven",job_type="{job_type}""#);
        assert_eq!(value(&page, "sixseven_active_jobs", &labels), 0);
    }

    // The API's latency by endpoint, method and HTTP status code.
    assert_eq!(
        label_names(&page, "sixseven_api_latency_seconds"),
        set(&["endpoint", "function", "method", "module", "status_code"])
    );
    let api = |function: &str, endpoint: &str, method: &str, code: &str| {
        value(
            &page,
            "sixseven_api_latency_seconds_count",
            &format!(
                r#"function="{function}",module="seed_sixseven",endpoint="{endpoint}",method="{method}",status_code="{code}""#
            ),
        )
    };
    assert_eq!(api("Api::handle_command", "/command", "POST", "200"), 16);
    assert_eq!(api("Api::handle_command", "/command", "POST", "400"), 2);
    assert_eq!(api("Api::handle_command", "/command", "POST", "429"), 2);
    assert_eq!(api("Api::get_job", "/jobs/{job_id}", "GET", "200"), 16);

    // Calls to Yutori and Freepik, `success` or `error` (a timed-out poll is an error).
    assert_eq!(
        label_values(&page, "sixseven_external_api_calls_total", "status"),
        set(&["error", "success"])
    );
    let external = |function: &str, provider: &str, status: &str| {
        value(
            &page,
            "sixseven_external_api_calls_total",
            &format!(
                r#"function="{function}",module="seed_sixseven",provider="{provider}",status="{status}""#
            ),
        )
    };
    assert_eq!(external("http_get", "yutori", "success"), 22);
    assert_eq!(external("http_get", "yutori", "error"), 2);
    assert_eq!(external("http_post", "yutori", "success"), 10);
    assert_eq!(external("http_post", "freepik", "success"), 4);
    assert_eq!(external("http_post", "freepik", "error"), 2);

    // `created` and `succeeded` both mean success, each for its own function.
    run.check_dashboard();
    let rules = run.rules();
    assert!(
        rules.contains(r#"rate(sixseven_commands_total{function="run_job",module="seed_sixseven",status!="succeeded"}[1h])"#),
        "{rules}"
    );
    assert!(
        rules.contains(r#"rate(sixseven_commands_total{status!="created"}[1h])"#),
        "{rules}"
    );

    // The plan's trace hierarchy; the job's thread is in the command's trace.
    let spans = run.spans(146);
    assert_eq!(spans.len(), 146);
    let traces = traces(&spans);
    let mut edges: BTreeSet<String> = BTreeSet::new();
    for trace in traces.values() {
        edges.extend(tree(trace));
    }
    assert_eq!(
        edges,
        set(&[
            "create_job < handle_command",
            "create_yutori_task < execute_research",
            "execute_creative < handle_command",
            "execute_research < handle_command",
            "get_job < root",
            "handle_command < root",
            "http_get < poll_yutori_task",
            "http_post < create_yutori_task",
            "http_post < execute_creative",
            "parse_intent < handle_command",
            "poll_yutori_task < execute_research",
        ])
    );
    let completed = logs_in_traces(&run, &traces, "job_completed");
    assert_eq!(completed.len(), 16);
    for line in &completed {
        // The plan's context on every line: the session and the job, from the spans' fields.
        assert!(line["context"]["session_id"].is_string(), "{line}");
        assert_eq!(line["context"]["response.job_id"], line["fields"]["job_id"]);
        let trace = &traces[line["trace_id"].as_str().unwrap()];
        assert!(
            trace.iter().any(|s| s.name == "handle_command"),
            "the background job logs in its command's trace: {line}"
        );
    }
}

/// Seed 003: Victor, 20 requests, and its health probes from start-up on.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_victor() {
    let run = start(
        "seed_victor",
        &[("VICTOR_REQUESTS", "20"), ("VICTOR_MODEL_LOAD_MS", "1500")],
    );
    // Loading the models: the start-up probe fails, and says why.
    let startup = run.get("/health/startup");
    assert_eq!(
        startup.status_line, "HTTP/1.1 503 Service Unavailable",
        "{}",
        startup.body
    );
    assert!(
        startup
            .body
            .contains(r#"{"name":"models","status":"fail","error":"models not loaded yet""#),
        "{}",
        startup.body
    );
    run.wait_for_line("workload done: 20 requests, 16 succeeded");
    for (probe, checks) in [
        ("/health/startup", ["models", "warmup"]),
        ("/health/live", ["process", "memory"]),
        ("/health/ready", ["database", "cache"]),
    ] {
        let response = run.get(probe);
        assert_eq!(response.status_line, "HTTP/1.1 200 OK", "{probe}");
        let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        let names: Vec<&str> = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, checks, "{probe}");
    }

    let page = run.page();
    // The plan's system metrics are the process's.
    if cfg!(target_os = "linux") {
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(page.contains(&format!("\n{name} ")), "{name}");
        }
    }
    let request = |provider: &str, model: &str, status: &str| {
        value(
            &page,
            "victor_requests_total",
            &format!(
                r#"function="handle_request",module="seed_victor",endpoint="/chat",provider="{provider}",model="{model}",status="{status}""#
            ),
        )
    };
    assert_eq!(request("anthropic", "claude-sonnet-4-5", "ok"), 8);
    assert_eq!(request("anthropic", "claude-sonnet-4-5", "error"), 2);
    assert_eq!(request("openai", "gpt-4o", "ok"), 8);
    assert_eq!(request("openai", "gpt-4o", "timeout"), 2);
    assert_eq!(
        value(
            &page,
            "victor_active_requests",
            r#"function="handle_request",module="seed_victor""#
        ),
        0
    );
    let tasks = |status: &str| {
        value(
            &page,
            "victor_tasks_total",
            &format!(r#"function="run_task",module="seed_victor",status="{status}""#),
        )
    };
    assert_eq!(tasks("completed"), 16);
    assert_eq!(tasks("failed"), 4);

    // Tools: `read_file` runs on cache misses only.
    let tool = |name: &str, status: &str| {
        value(
            &page,
            "victor_tool_calls_total",
            &format!(
                r#"function="execute_tool",module="seed_victor",tool="{name}",status="{status}""#
            ),
        )
    };
    assert_eq!(tool("read_file", "ok"), 5);
    assert_eq!(tool("web_search", "ok"), 8);
    assert_eq!(tool("web_search", "error"), 2);
    assert_eq!(tool("code_exec", "ok"), 4);
    let code_exec = r#"function="execute_tool",module="seed_victor",tool="code_exec",status="ok""#;
    assert_eq!(
        value(
            &page,
            "victor_tool_duration_seconds_bucket",
            &format!(r#"{code_exec},le="0.1""#)
        ),
        2,
        "two slow runs of 150 ms"
    );
    for name in ["read_file", "web_search", "code_exec"] {
        let labels = format!(r#"function="execute_tool",module="seed_victor",tool="{name}""#);
        assert_eq!(value(&page, "victor_tool_executions_active", &labels), 0);
    }

    // The cache: 20 lookups, a sweep every 10 requests.
    let cache = r#"cache="tool_cache""#;
    assert_eq!(value(&page, "victor_cache_hits_total", cache), 15);
    assert_eq!(value(&page, "victor_cache_misses_total", cache), 5);
    assert_eq!(value(&page, "victor_cache_evictions_total", cache), 6);

    // LLM calls, tokens, cost.
    let anthropic = r#"model="claude-sonnet-4-5",provider="anthropic""#;
    assert_eq!(
        value(
            &page,
            "victor_llm_tokens_total",
            &format!(r#"{anthropic},type="input""#)
        ),
        4000
    );
    assert_eq!(
        value(
            &page,
            "victor_llm_tokens_total",
            r#"model="gpt-4o",provider="openai",type="output""#
        ),
        960
    );
    assert_eq!(value(&page, "victor_llm_cost_dollars_count", anthropic), 8);
    let cost = common::sample(&page, "victor_llm_cost_dollars_sum", anthropic).unwrap();
    assert!((cost - 0.032).abs() < 1e-9, "{cost}");
    assert_eq!(
        value(
            &page,
            "victor_llm_calls_total",
            r#"function="call_llm",module="seed_victor",provider="openai",model="gpt-4o",status="timeout""#
        ),
        2
    );

    // The alert rules: requests, tools and the coordinator (whose success is `completed`).
    run.check_dashboard();
    let rules = run.rules();
    for (alert, function) in [
        ("ObsErrorBudgetFastBurn", "handle_request"),
        ("ObsLatencyBudgetFastBurn", "handle_request"),
        ("ObsErrorBudgetFastBurn", "execute_tool"),
        ("ObsLatencyBudgetFastBurn", "execute_tool"),
        ("ObsErrorBudgetFastBurn", "run_task"),
    ] {
        let wanted = format!("function: \"{function}\"");
        assert!(
            rules
                .split("- alert: ")
                .any(|a| a.starts_with(alert) && a.contains(&wanted)),
            "{alert} for {function}: {rules}"
        );
    }
    assert!(
        rules.contains(r#"rate(victor_tasks_total{status!="completed"}[5m])"#),
        "{rules}"
    );

    let spans = run.spans(78);
    assert_eq!(spans.len(), 78);
    let traces = traces(&spans);
    let mut edges: BTreeSet<String> = BTreeSet::new();
    for trace in traces.values() {
        edges.extend(tree(trace));
    }
    assert_eq!(
        edges,
        set(&[
            "call_llm < coordinator",
            "coordinator < process_request",
            "execute_tool < coordinator",
            "process_request < root",
            "start_up < root",
        ])
    );
    assert_eq!(logs_in_traces(&run, &traces, "request failed").len(), 4);
}

/// Seed 003: with the database down, the ready probe fails and names it; liveness holds.
#[test]
fn seed_victor_database_down() {
    let run = start(
        "seed_victor",
        &[("VICTOR_REQUESTS", "0"), ("VICTOR_DATABASE", "down")],
    );
    run.wait_for_line("started");
    let ready = run.get("/health/ready");
    assert_eq!(ready.status_line, "HTTP/1.1 503 Service Unavailable");
    assert!(
        ready.body.starts_with(r#"{"status":"fail","checks":[{"name":"database","status":"fail","error":"database unreachable","#),
        "{}",
        ready.body
    );
    assert!(ready.body.contains(r#"{"name":"cache","status":"pass","#));
    assert_eq!(run.get("/health/live").status_line, "HTTP/1.1 200 OK");
}

/// Seed 004: the retrieval pipeline, 20 queries, and its nested span tree.
#[test]
#[allow(clippy::too_many_lines)] // one plan, read top to bottom
fn seed_retrieval() {
    let run = start("seed_retrieval", &[("RETRIEVAL_QUERIES", "20")]);
    run.wait_for_line("workload done: 20 queries, 16 answered");
    let page = run.page();

    for (name, kind) in [
        ("queries_total", "counter"),
        ("query_latency_seconds", "histogram"),
        ("cache_hit_rate", "gauge"),
        ("hallucination_score", "histogram"),
    ] {
        assert_eq!(
            families(&page, name).get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
    assert_eq!(
        label_names(&page, "queries_total"),
        set(&["controller", "function", "module", "status"])
    );
    let queries = |controller: &str, status: &str| {
        value(
            &page,
            "queries_total",
            &format!(
                r#"function="process_query",module="seed_retrieval",controller="{controller}",status="{status}""#
            ),
        )
    };
    assert_eq!(queries("orchestrated", "ok"), 6);
    assert_eq!(queries("orchestrated", "blocked"), 2);
    assert_eq!(queries("orchestrated", "error"), 2);
    assert_eq!(queries("direct", "ok"), 10);
    assert_eq!(
        label_names(&page, "query_latency_seconds"),
        set(&["function", "module", "pipeline", "status"])
    );
    let single_hop =
        r#"function="process_query",module="seed_retrieval",pipeline="single_hop",status="ok""#;
    let bucket = |le: &str| {
        value(
            &page,
            "query_latency_seconds_bucket",
            &format!(r#"{single_hop},le="{le}""#),
        )
    };
    assert_eq!(bucket("0.1"), 8, "the two slow generations take 150 ms");
    assert_eq!(bucket("3"), 10);
    assert!(
        common::sample(&page, "cache_hit_rate", "") == Some(0.5),
        "the second 10 questions hit the embedding cache"
    );
    assert_eq!(value(&page, "hallucination_score_count", ""), 18);
    assert_eq!(
        value(&page, "hallucination_score_bucket", r#"le="0.1""#),
        16,
        "two answers withheld at 0.8"
    );

    run.check_dashboard();
    let rules = run.rules();
    assert!(
        rules.contains(r#"rate(query_latency_seconds_bucket{function="process_query",module="seed_retrieval",le=~"3(\\.0*)?"}[1h])"#),
        "{rules}"
    );
    assert!(
        rules.contains("expr: (obs:queries:error_ratio_rate1h{function=\"process_query\""),
        "{rules}"
    );

    // The plan's tree, for every query: the searches under retrieval, on their own threads.
    let spans = run.spans(178);
    assert_eq!(spans.len(), 178);
    let traces = traces(&spans);
    assert_eq!(traces.len(), 20);
    let full = |verified: bool| {
        let mut edges = vec![
            "bm25_search < retrieval",
            "generation < query_processing",
            "query_analysis < query_processing",
            "query_processing < root",
            "reranking < query_processing",
            "retrieval < query_processing",
            "routing < query_processing",
            "vector_search < retrieval",
        ];
        if verified {
            edges.push("verification < query_processing");
        }
        edges.sort_unstable();
        edges.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let shapes: BTreeMap<Vec<String>, usize> =
        traces.values().fold(BTreeMap::new(), |mut all, trace| {
            *all.entry(tree(trace)).or_default() += 1;
            all
        });
    assert_eq!(shapes.get(&full(true)), Some(&18), "{shapes:#?}");
    assert_eq!(
        shapes.get(&full(false)),
        Some(&2),
        "no verification after a failed generation"
    );
    // A failed step marks its span; the vector search's timeout does not fail the query.
    let failed = |name: &str| {
        spans
            .iter()
            .filter(|s| s.name == name && s.status == "error")
            .count()
    };
    assert_eq!(failed("vector_search"), 2);
    assert_eq!(failed("generation"), 2);
    assert_eq!(failed("verification"), 2);
    assert_eq!(failed("query_processing"), 4);

    // JSON logs: trace ids and a component on each event.
    let withheld = logs_in_traces(&run, &traces, "answer withheld");
    assert_eq!(withheld.len(), 2);
    assert!(
        withheld
            .iter()
            .all(|l| l["fields"]["component"] == "verification")
    );
    let degraded = logs_in_traces(&run, &traces, "answering from BM25 alone");
    assert_eq!(degraded.len(), 2);
    assert_eq!(degraded[0]["span"], "retrieval");
}
