//! Victor, the AI agent service of seed plan 003 ("Production Monitoring and Observability
//! Guide", written for Python), with obs: requests, the coordinator, tools, LLM calls and the
//! tool cache are functions and types; the plan's request, tool, cache and business metrics,
//! its traces and its Kubernetes health probes come from attributes, the `metrics` facade and
//! `obs_runtime::health`.
//!
//! ```text
//! cargo run --example seed_victor
//! curl -s http://127.0.0.1:9464/metrics | grep '^victor_'
//! curl -s http://127.0.0.1:9464/health/ready     # {"status":"pass","checks":[…]}
//! VICTOR_DATABASE=down cargo run --example seed_victor   # the ready probe answers 503
//! ```
//!
//! It serves until Ctrl-C; `VICTOR_REQUESTS=N` stops the workload after `N` requests (the page
//! and the probes are still served). Start-up loads the models (`VICTOR_MODEL_LOAD_MS`,
//! default 200 ms; `/health/startup` answers 503 until then) and warms the tool cache. Every
//! 10 requests follow one script: `read_file` on every request (through `tool_cache`, swept
//! every 10th request), `web_search` on even ones (the 3rd is rate-limited: an `error`),
//! `code_exec` on the 5th and the 10th (the 10th is slow, 150 ms); the 8th request's LLM call
//! times out. Requests alternate between `anthropic` and `openai`.
//!
//! # The plan, and what does it here
//!
//! The plan names no metrics, so they are named `victor_*` after its `record_*` calls:
//!
//! - Request metrics (`record_request(endpoint, provider, success, latency_ms, model)`):
//!   `victor_requests_total{endpoint, provider, model, status}`,
//!   `victor_request_duration_seconds{…}` (p50/p95/p99 are the dashboard's), and
//!   `victor_active_requests`: the three attributes on `handle_request`, labelled by the call.
//! - Tool metrics (`record_tool_execution`): `victor_tool_calls_total{tool, status}`,
//!   `victor_tool_duration_seconds{tool}`, `victor_tool_executions_active{tool}` on
//!   `execute_tool`.
//! - Cache metrics (`record_cache_hit/miss("tool_cache")`, evictions):
//!   `victor_cache_{hits,misses,evictions}_total{cache}` through the `metrics` facade; the hit
//!   rate is `hits / (hits + misses)` in PromQL.
//! - Business metrics: `victor_tasks_total{status}` with `completed`/`failed`
//!   (`status(ok = "completed", ..)` on the coordinator), `victor_llm_tokens_total{provider,
//!   model, type}`, and the cost as the histogram `victor_llm_cost_dollars`, whose `_sum` is
//!   the total cost (a counter of the `metrics` facade counts whole numbers only).
//! - System metrics (memory, CPU, file descriptors, uptime): obs's process metrics,
//!   `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds` and
//!   `process_max_fds`, and `process_start_time_seconds` (uptime is `time() -` it).
//! - Distributed tracing, `process_request` → `call_llm`, `execute_tool` with `user_id`,
//!   `request_id`, `model`, `tokens`: `#[traced(name = .., fields(..))]`; `inject_context` and
//!   `extract_context` are `obs_runtime::propagation` with the `otlp` feature.
//! - Health checks: `health::add_check` for liveness (`process`, `memory`), readiness
//!   (`database`, `cache`) and start-up (`models`, `warmup`), served at `/health/live`,
//!   `/health/ready`, `/health/startup` beside `/metrics`, as the plan's Kubernetes manifest
//!   expects them. `service_version` is the `service.version` resource attribute of the
//!   traces.
//! - The `MonitoringMiddleware`: the attributes on the handler are it.
//! - Alert rules: high error rate (over 5 %) and high latency (p95 over 5 s) are
//!   `objective(success = 95.0)` and `objective(latency = "5s", percentile = 95)` on the
//!   request; high tool error rate and slow tool execution are objectives on `execute_tool`;
//!   coordinator failures one on the coordinator. Low cache hit rate, cost and token spikes,
//!   low request rate, service down, high memory and CPU are thresholds on rates and gauges
//!   (the process's included), not objectives: obs does not generate them.
//!
//! Left out, because it is not instrumentation: the `AlertManager` with its Slack, e-mail and
//! webhook notifiers, severities and cooldowns (Prometheus' Alertmanager routes and
//! deduplicates the generated alerts), `export_json`/`get_summary` (Prometheus' query API),
//! and disk usage (the node's, not the process's: `node_exporter`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use obs_runtime::health::{self, Probe};
use obs_runtime::{ErrorStatus, Status, counted, in_flight, timed, traced};

/// A chat request, as the API receives it.
#[derive(Clone, Copy, Debug)]
struct ChatRequest {
    id: u64,
    user_id: &'static str,
    endpoint: &'static str,
    provider: Provider,
    model: &'static str,
}

/// An LLM provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provider {
    Anthropic,
    OpenAi,
}

/// The `provider` label.
impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
        })
    }
}

/// A tool the agent can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    ReadFile,
    WebSearch,
    CodeExec,
}

/// The `tool` label.
impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::ReadFile => "read_file",
            Tool::WebSearch => "web_search",
            Tool::CodeExec => "code_exec",
        })
    }
}

/// Why a request failed.
#[derive(Debug)]
enum VictorError {
    Tool { tool: Tool, reason: &'static str },
    LlmTimeout(Duration),
}

impl fmt::Display for VictorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VictorError::Tool { tool, reason } => write!(f, "tool {tool} failed: {reason}"),
            VictorError::LlmTimeout(after) => write!(f, "the model did not answer in {after:?}"),
        }
    }
}

impl std::error::Error for VictorError {}

impl ErrorStatus for VictorError {
    fn status(&self) -> Status {
        match self {
            VictorError::Tool { .. } => Status::ERROR,
            VictorError::LlmTimeout(_) => Status::TIMEOUT,
        }
    }
}

/// A cache with the plan's hit, miss and eviction counts.
struct Cache {
    name: &'static str,
    entries: Mutex<HashMap<String, String>>,
}

impl Cache {
    fn new(name: &'static str) -> Self {
        Cache {
            name,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get_or_load(&self, key: &str, load: impl FnOnce() -> String) -> String {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = entries.get(key) {
            metrics::counter!("victor_cache_hits_total", "cache" => self.name).increment(1);
            return value.clone();
        }
        metrics::counter!("victor_cache_misses_total", "cache" => self.name).increment(1);
        let value = load();
        entries.insert(key.to_owned(), value.clone());
        value
    }

    /// Puts an entry in without a lookup (the warm-up).
    fn preload(&self, key: &str, value: String) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), value);
    }

    /// Drops every entry, as the periodic sweep does.
    fn sweep(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let evicted = u64::try_from(entries.len()).unwrap_or(u64::MAX);
        entries.clear();
        metrics::counter!("victor_cache_evictions_total", "cache" => self.name).increment(evicted);
    }

    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// What the service holds.
struct Victor {
    tool_cache: Cache,
    database_up: AtomicBool,
    models_loaded: AtomicBool,
    warmed_up: AtomicBool,
}

/// The request handler: the plan's request metrics and the alerts on error rate and latency.
#[traced(
    name = "process_request",
    skip_all,
    fields(user_id = req.user_id, request_id = req.id)
)]
#[counted(
    name = "victor_requests_total",
    help = "Requests, by endpoint, provider, model and outcome",
    labels(endpoint = req.endpoint, provider = req.provider, model = req.model),
    objective(success = 95.0)
)]
#[timed(
    name = "victor_request_duration_seconds",
    help = "Request latency",
    labels(endpoint = req.endpoint, provider = req.provider, model = req.model),
    buckets = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
    objective(latency = "5s", percentile = 95)
)]
#[in_flight(name = "victor_active_requests", help = "Requests being served")]
fn handle_request(victor: &Victor, req: ChatRequest) -> Result<String, VictorError> {
    tracing::info!(endpoint = req.endpoint, provider = %req.provider, "request received");
    let answer = run_task(victor, req);
    if let Err(e) = &answer {
        tracing::error!(error = %e, "request failed");
    }
    answer
}

/// The coordinator: tools, then the model. The plan's business metric of tasks completed and
/// failed, and its alert on coordinator failures.
#[traced(name = "coordinator", skip_all)]
#[counted(
    name = "victor_tasks_total",
    help = "Agent tasks, completed or failed",
    status(
        ok = "completed",
        error = "failed",
        timeout = "failed",
        panic = "failed",
        cancelled = "failed",
        blocked = "failed"
    ),
    objective(success = 90.0)
)]
fn run_task(victor: &Victor, req: ChatRequest) -> Result<String, VictorError> {
    const PATHS: [&str; 3] = ["src/main.rs", "Cargo.toml", "README.md"];
    let n = req.id - 1;
    #[allow(clippy::cast_possible_truncation)] // below 3
    let path = PATHS[(n % 3) as usize];
    let mut context = victor.tool_cache.get_or_load(path, || {
        execute_tool(Tool::ReadFile, path).unwrap_or_default()
    });
    if n.is_multiple_of(2) {
        let query = if n % 10 == 2 { "rate limited" } else { "docs" };
        context += &execute_tool(Tool::WebSearch, query)?;
    }
    if n % 5 == 4 {
        let code = if n % 10 == 9 { "slow" } else { "print(1)" };
        context += &execute_tool(Tool::CodeExec, code)?;
    }
    let timeout = n % 10 == 7;
    call_llm(req.provider, req.model, &context, timeout)
}

/// One tool run: the plan's tool calls, errors, duration and active executions, and the
/// alerts on tool errors and slow tools.
#[traced(name = "execute_tool", fields(tool.name = %tool))]
#[counted(
    name = "victor_tool_calls_total",
    help = "Tool calls, by tool and outcome",
    labels(tool = tool),
    objective(success = 95.0)
)]
#[timed(
    name = "victor_tool_duration_seconds",
    help = "Tool execution duration",
    labels(tool = tool),
    buckets = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
    objective(latency = "1s", percentile = 95)
)]
#[in_flight(
    name = "victor_tool_executions_active",
    help = "Tool executions running now",
    labels(tool = tool)
)]
fn execute_tool(tool: Tool, input: &str) -> Result<String, VictorError> {
    match (tool, input) {
        (Tool::WebSearch, "rate limited") => Err(VictorError::Tool {
            tool,
            reason: "search API answered 429",
        }),
        (Tool::CodeExec, "slow") => {
            thread::sleep(Duration::from_millis(150));
            Ok("done after a long loop".to_owned())
        }
        _ => Ok(format!("<{tool} {input}>")),
    }
}

/// One completion: its span carries the model and the tokens; tokens and cost go through the
/// `metrics` facade.
#[traced(
    name = "call_llm",
    skip(context),
    fields(model = model, tokens = tracing::field::Empty)
)]
#[counted(
    name = "victor_llm_calls_total",
    help = "LLM calls, by provider, model and outcome",
    labels(provider = provider, model = model)
)]
#[timed(
    name = "victor_llm_duration_seconds",
    help = "LLM call duration",
    labels(provider = provider, model = model),
    buckets = [0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]
)]
fn call_llm(
    provider: Provider,
    model: &'static str,
    context: &str,
    timeout: bool,
) -> Result<String, VictorError> {
    if timeout {
        let deadline = Duration::from_millis(50);
        thread::sleep(deadline);
        return Err(VictorError::LlmTimeout(deadline));
    }
    let (input, output, dollars) = match provider {
        Provider::Anthropic => (500, 150, 0.004),
        Provider::OpenAi => (400, 120, 0.003),
    };
    tracing::Span::current().record("tokens", input + output);
    let name = provider.to_string();
    metrics::counter!("victor_llm_tokens_total", "provider" => name.clone(), "model" => model, "type" => "input")
        .increment(input);
    metrics::counter!("victor_llm_tokens_total", "provider" => name.clone(), "model" => model, "type" => "output")
        .increment(output);
    metrics::histogram!("victor_llm_cost_dollars", "provider" => name, "model" => model)
        .record(dollars);
    Ok(format!(
        "an answer from {model} using {} bytes",
        context.len()
    ))
}

/// Start-up: the models load, then the cache warms up.
#[traced(skip(victor))]
fn start_up(victor: &Victor, load_time: Duration) {
    thread::sleep(load_time);
    victor.models_loaded.store(true, Ordering::Release);
    victor
        .tool_cache
        .preload("README.md", "# Victor".to_owned());
    victor.warmed_up.store(true, Ordering::Release);
    tracing::info!("started");
}

/// The plan's probes: liveness (process, memory), readiness (database, cache), start-up
/// (models, warm-up).
fn register_health_checks(victor: &Arc<Victor>) {
    let timeout = Duration::from_millis(100);
    health::add_check(Probe::Live, "process", timeout, || Ok::<(), String>(()));
    let v = Arc::clone(victor);
    health::add_check(Probe::Live, "memory", timeout, move || {
        // The cache is what grows: a bound on it stands for the memory check.
        if v.tool_cache.len() < 10_000 {
            Ok(())
        } else {
            Err("tool cache over 10,000 entries")
        }
    });
    let v = Arc::clone(victor);
    health::add_check(Probe::Ready, "database", timeout, move || {
        if v.database_up.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err("database unreachable")
        }
    });
    health::add_check(Probe::Ready, "cache", timeout, || Ok::<(), String>(()));
    let v = Arc::clone(victor);
    health::add_check(Probe::Startup, "models", timeout, move || {
        if v.models_loaded.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err("models not loaded yet")
        }
    });
    let v = Arc::clone(victor);
    health::add_check(Probe::Startup, "warmup", timeout, move || {
        if v.warmed_up.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err("cache not warmed up yet")
        }
    });
}

fn main() -> Result<(), obs_runtime::Error> {
    let var = |name: &str| std::env::var(name).ok();
    let victor = Arc::new(Victor {
        tool_cache: Cache::new("tool_cache"),
        database_up: AtomicBool::new(var("VICTOR_DATABASE").as_deref() != Some("down")),
        models_loaded: AtomicBool::new(false),
        warmed_up: AtomicBool::new(false),
    });
    // Before the server starts: the probes fail until start-up is done, never pass empty.
    register_health_checks(&victor);
    let obs = obs_runtime::Builder::new()
        .service_name("victor")
        .resource_attribute("service.version", "1.0.0")
        .histogram_buckets("victor_llm_cost_dollars", [0.001, 0.002, 0.005, 0.01, 0.05])
        .install()?;
    if let Some(url) = obs.metrics_url() {
        println!("serving {url}");
    }
    println!("press Ctrl-C to stop");

    let load_ms = var("VICTOR_MODEL_LOAD_MS")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(200);
    start_up(&victor, Duration::from_millis(load_ms));
    println!("started");

    let limit = var("VICTOR_REQUESTS").and_then(|n| n.parse::<u64>().ok());
    let (mut done, mut ok) = (0u64, 0u64);
    loop {
        if limit.is_none_or(|limit| done < limit) {
            let (provider, model) = if done.is_multiple_of(2) {
                (Provider::Anthropic, "claude-sonnet-4-5")
            } else {
                (Provider::OpenAi, "gpt-4o")
            };
            let req = ChatRequest {
                id: done + 1,
                user_id: if done.is_multiple_of(3) {
                    "u-123"
                } else {
                    "u-456"
                },
                endpoint: "/chat",
                provider,
                model,
            };
            if handle_request(&victor, req).is_ok() {
                ok += 1;
            }
            if done % 10 == 9 {
                victor.tool_cache.sweep();
            }
            done += 1;
            if limit == Some(done) {
                println!("workload done: {done} requests, {ok} succeeded");
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
}
