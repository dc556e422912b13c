//! sixseven, the command and job backend of seed plan 002 ("Observability Guide", written for
//! Python), with obs: the API handlers, the orchestrator, the research and creative agents and
//! their calls to Yutori and Freepik are functions; the plan's metrics, spans and log events
//! come from attributes on them and from `tracing` events.
//!
//! ```text
//! cargo run --example seed_sixseven
//! curl -s http://127.0.0.1:9464/metrics | grep '^sixseven_'
//! OBS_LOG_FORMAT=json OTEL_TRACES_EXPORTER=console SIXSEVEN_COMMANDS=10 cargo run --example seed_sixseven
//! ```
//!
//! It serves until Ctrl-C; `SIXSEVEN_COMMANDS=N` stops the workload after `N` commands (the
//! page is still served). Each command is `POST /command`; a job it creates runs on a thread
//! of its own (as the plan's background tasks), and the client then reads it back with
//! `GET /jobs/{job_id}`. Every 10 commands follow one script: 5 research and 3 creative jobs,
//! of which the creative "city" image fails (Freepik answers 500) and the "protein" research
//! times out polling Yutori, the "battery" research is slow (four polls), one command has no
//! intent (`400`) and one comes from a session over its rate limit (`429`).
//!
//! # The plan, and what does it here
//!
//! - `sixseven_commands_total{intent, status}` with `created`, `succeeded` and `failed`: two
//!   functions share the family, `Api::create_job` with `status(ok = "created")` and `run_job`
//!   with `status(ok = "succeeded", error = "failed", timeout = "failed")`; the generated
//!   rules give each its own success value, so `created` never counts as a failure.
//! - `sixseven_job_duration_seconds{job_type, status}` and `sixseven_active_jobs{job_type}`:
//!   `#[timed]` and `#[in_flight]` on `run_job`, labelled by the call.
//! - `sixseven_api_latency_seconds{endpoint, method, status_code}`: `#[timed]` on each handler
//!   with static `endpoint` and `method`, and the status label renamed and valued as HTTP
//!   codes: `status(label = "status_code", ok = "200", error = "500", blocked = "429", ..)`;
//!   a command without intent is `Status::custom("400")`, an unknown job `"404"`.
//! - `sixseven_external_api_calls_total{provider, status}` and
//!   `sixseven_external_api_latency_seconds{provider}`: `http_get` and `http_post`.
//! - The trace hierarchy `handle_command` → `parse_intent`, `create_job`, `execute_research`
//!   → `create_yutori_task`, `poll_yutori_task` → `http_get`: `#[traced]` on each; the job's
//!   thread enters the command's span (`Span::in_scope`), so the job is in the same trace.
//!   The span attributes `command.text`, `command.has_image`, `response.intent`,
//!   `response.job_id`, `job.type`, `job.status` are `fields(..)` and `Span::record`.
//! - The log events (`command_received`, `intent_parsed`, `job_created`, `job_started`,
//!   `job_progress`, `job_completed`, `research_*`, `creative_*`, `external_api_call`) are
//!   `tracing` events with structured fields; `OBS_LOG_FORMAT=json` writes them as JSON lines.
//!   `request_id` is the trace id on every line inside a request, the background job's
//!   included; `session_id` and `job_id` are fields of the spans, so every line inside them
//!   carries them in its `context`.
//! - The `JobObserver`: nothing to write, the attributes are it.
//! - Alerts: `HighErrorRate` (failed commands over 10 %) is `objective(success = 90.0)` on
//!   `run_job`; `SlowAPIResponse` (p95 over 5 s) is `objective(latency = "5s", percentile =
//!   95)` on `handle_command`; `ExternalAPIFailures` becomes `objective(success = 95.0)` on the
//!   external calls, a ratio where the plan has a rate of errors; `StuckJobs` (more than 10
//!   active for 30 minutes) is a threshold on a gauge, which obs does not generate: the plan's
//!   expression works unchanged on this page.
//!
//! Left out, because it is not instrumentation: setting `X-Request-ID` on responses (the HTTP
//! framework's job; with the `otlp` feature `obs_runtime::propagation` writes `traceparent`),
//! and the log shipping (Filebeat, Datadog agent).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use obs_runtime::{ErrorStatus, Status, counted, in_flight, timed, traced};

/// A command as the client sends it.
#[derive(Clone, Copy, Debug)]
struct Command {
    session_id: &'static str,
    text: &'static str,
    image: Option<&'static str>,
}

/// One cycle of the workload.
const SCRIPT: [Command; 10] = [
    Command {
        session_id: "s-ann",
        text: "research quantum computing",
        image: None,
    },
    Command {
        session_id: "s-bob",
        text: "draw a cat in space",
        image: None,
    },
    Command {
        session_id: "s-ann",
        text: "research fusion energy",
        image: None,
    },
    Command {
        session_id: "s-bob",
        text: "draw a city at night",
        image: None,
    },
    Command {
        session_id: "s-ann",
        text: "research protein folding",
        image: None,
    },
    Command {
        session_id: "s-bob",
        text: "hello there",
        image: None,
    },
    Command {
        session_id: "s-ann",
        text: "research battery chemistry",
        image: None,
    },
    Command {
        session_id: "s-bob",
        text: "draw this in watercolor",
        image: Some("sketch.png"),
    },
    Command {
        session_id: "s-ann",
        text: "research dark matter",
        image: None,
    },
    Command {
        session_id: "s-flood",
        text: "draw a dog",
        image: None,
    },
];

/// What a command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Research,
    Creative,
}

/// The `intent` and `job_type` labels.
impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Intent::Research => "research",
            Intent::Creative => "creative",
        })
    }
}

/// A job, created by a command.
#[derive(Clone, Debug)]
struct Job {
    id: u64,
    intent: Intent,
    query: &'static str,
}

/// Where a job is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum JobState {
    Running,
    Succeeded(String),
    Failed(String),
}

/// An API error, answered with an HTTP status.
#[derive(Debug)]
enum ApiError {
    NoIntent,
    RateLimited,
    UnknownJob(u64),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::NoIntent => f.write_str("no intent in the command"),
            ApiError::RateLimited => f.write_str("too many commands from this session"),
            ApiError::UnknownJob(id) => write!(f, "no job {id}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// The status of an API call is its HTTP code (the handlers rename the label `status_code`).
impl ErrorStatus for ApiError {
    fn status(&self) -> Status {
        match self {
            ApiError::NoIntent => Status::custom("400"),
            ApiError::RateLimited => Status::BLOCKED,
            ApiError::UnknownJob(_) => Status::custom("404"),
        }
    }
}

/// Why a job failed.
#[derive(Debug)]
enum JobError {
    External(HttpError),
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let JobError::External(e) = self;
        write!(f, "external API: {e}")
    }
}

impl std::error::Error for JobError {}

impl ErrorStatus for JobError {
    fn status(&self) -> Status {
        let JobError::External(e) = self;
        e.status()
    }
}

/// An external API that did not answer well.
#[derive(Debug)]
enum HttpError {
    Status(u16),
    TimedOut(Duration),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Status(code) => write!(f, "answered {code}"),
            HttpError::TimedOut(after) => write!(f, "no answer after {after:?}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl ErrorStatus for HttpError {
    fn status(&self) -> Status {
        match self {
            HttpError::Status(_) => Status::ERROR,
            HttpError::TimedOut(_) => Status::TIMEOUT,
        }
    }
}

/// The external providers.
#[derive(Clone, Copy, Debug)]
enum Provider {
    Yutori,
    Freepik,
}

/// The `provider` label.
impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Yutori => "yutori",
            Provider::Freepik => "freepik",
        })
    }
}

/// What `POST /command` answers.
#[derive(Debug)]
struct Accepted {
    job_id: u64,
    running: thread::JoinHandle<()>,
}

/// What `GET /jobs/{job_id}` answers.
#[derive(Debug)]
struct JobView {
    state: JobState,
}

/// The API: handlers, the job store, the rate limiter.
#[derive(Clone, Default)]
struct Api {
    jobs: Arc<Mutex<HashMap<u64, JobState>>>,
    next_id: Arc<Mutex<u64>>,
}

impl Api {
    /// `POST /command`.
    #[traced(
        name = "handle_command",
        skip_all,
        fields(
            command.text = cmd.text,
            command.has_image = cmd.image.is_some(),
            session_id = cmd.session_id,
            response.intent = tracing::field::Empty,
            response.job_id = tracing::field::Empty
        )
    )]
    #[timed(
        name = "sixseven_api_latency_seconds",
        help = "API endpoint response times",
        labels(endpoint = "/command", method = "POST"),
        buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
        status(label = "status_code", ok = "200", error = "500", timeout = "504", blocked = "429", panic = "500", cancelled = "499"),
        objective(latency = "5s", percentile = 95)
    )]
    fn handle_command(&self, cmd: Command) -> Result<Accepted, ApiError> {
        tracing::info!(
            command = cmd.text,
            has_image = cmd.image.is_some(),
            session_id = cmd.session_id,
            "command_received"
        );
        if cmd.session_id == "s-flood" {
            tracing::warn!(session_id = cmd.session_id, "command_error");
            return Err(ApiError::RateLimited);
        }
        let intent = parse_intent(cmd.text)?;
        let span = tracing::Span::current();
        span.record("response.intent", intent.to_string());
        let job = self.create_job(intent, cmd.text);
        span.record("response.job_id", job.id);
        let api = self.clone();
        let job_id = job.id;
        // The job runs in the background, in the command's trace.
        let running = thread::spawn(move || span.in_scope(|| api.execute(&job)));
        tracing::info!(job_id, %intent, "command_handled");
        Ok(Accepted { job_id, running })
    }

    /// `GET /jobs/{job_id}`.
    #[traced(name = "get_job", skip(self))]
    #[timed(
        name = "sixseven_api_latency_seconds",
        labels(endpoint = "/jobs/{job_id}", method = "GET"),
        buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
        status(label = "status_code", ok = "200", error = "500", timeout = "504", blocked = "429", panic = "500", cancelled = "499")
    )]
    fn get_job(&self, job_id: u64) -> Result<JobView, ApiError> {
        tracing::info!(job_id, "get_job");
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = jobs.get(&job_id).ok_or(ApiError::UnknownJob(job_id))?;
        Ok(JobView {
            state: state.clone(),
        })
    }

    /// The orchestrator creates the job: the plan's `sixseven_commands_total{status="created"}`.
    #[traced(name = "create_job", skip_all, fields(job.type = %intent))]
    #[counted(
        name = "sixseven_commands_total",
        help = "Total number of commands received",
        labels(intent = intent),
        status(ok = "created", error = "failed", panic = "failed")
    )]
    fn create_job(&self, intent: Intent, query: &'static str) -> Job {
        let id = {
            let mut next = self
                .next_id
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *next += 1;
            *next
        };
        self.set_state(id, JobState::Running);
        tracing::info!(job_id = id, %intent, "job_created");
        Job { id, intent, query }
    }

    fn set_state(&self, id: u64, state: JobState) {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, state);
    }

    /// Runs a job to its end and stores how it ended.
    fn execute(&self, job: &Job) {
        let state = match run_job(job) {
            Ok(result) => JobState::Succeeded(result),
            Err(e) => JobState::Failed(e.to_string()),
        };
        self.set_state(job.id, state);
    }
}

/// The orchestrator's intent parser.
#[traced]
fn parse_intent(text: &str) -> Result<Intent, ApiError> {
    let intent = if text.starts_with("research") {
        Intent::Research
    } else if text.starts_with("draw") {
        Intent::Creative
    } else {
        tracing::warn!(command = text, "command_error");
        return Err(ApiError::NoIntent);
    };
    tracing::info!(%intent, "intent_parsed");
    Ok(intent)
}

/// A job from start to end: the plan's final `sixseven_commands_total` status, its duration
/// histogram and the active-jobs gauge, by job type. (Its agent's span is the job's span.)
#[counted(
    name = "sixseven_commands_total",
    labels(intent = job.intent),
    status(ok = "succeeded", error = "failed", timeout = "failed", panic = "failed"),
    objective(success = 90.0)
)]
#[timed(
    name = "sixseven_job_duration_seconds",
    help = "Job execution duration",
    labels(job_type = job.intent),
    buckets = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0],
    status(ok = "succeeded", error = "failed", timeout = "failed", panic = "failed")
)]
#[in_flight(
    name = "sixseven_active_jobs",
    help = "Number of currently active jobs",
    labels(job_type = job.intent)
)]
fn run_job(job: &Job) -> Result<String, JobError> {
    tracing::info!(job_id = job.id, "job_started");
    let outcome = match job.intent {
        Intent::Research => execute_research(job),
        Intent::Creative => execute_creative(job),
    };
    let status = if outcome.is_ok() {
        "succeeded"
    } else {
        "failed"
    };
    tracing::info!(job_id = job.id, status, "job_completed");
    outcome
}

/// The research agent: a Yutori task, polled until done.
#[traced(
    skip_all,
    fields(job.id = job.id, job.type = "research", job.status = tracing::field::Empty)
)]
fn execute_research(job: &Job) -> Result<String, JobError> {
    tracing::info!(job_id = job.id, "research_started");
    let result = create_yutori_task(job.query).and_then(|task| {
        tracing::info!(job_id = job.id, task, "research_task_created");
        poll_yutori_task(task, job)
    });
    match &result {
        Ok(_) => tracing::info!(job_id = job.id, "research_succeeded"),
        Err(e) => tracing::error!(job_id = job.id, error = %e, "research_failed"),
    }
    record_job_status(result.is_ok());
    result.map_err(JobError::External)
}

/// The span attribute `job.status` of the agent's span.
fn record_job_status(succeeded: bool) {
    let status = if succeeded { "succeeded" } else { "failed" };
    tracing::Span::current().record("job.status", status);
}

#[traced]
fn create_yutori_task(query: &str) -> Result<u64, HttpError> {
    let body = http_post(Provider::Yutori, "/v1/research/tasks", query)?;
    Ok(u64::try_from(body.len()).unwrap_or(0))
}

/// Polls until the task is done: two polls, four for the slow "battery" research; the
/// "protein" research's second poll times out.
#[traced(skip(job))]
fn poll_yutori_task(task: u64, job: &Job) -> Result<String, HttpError> {
    let needed = if job.query.contains("battery") { 4 } else { 2 };
    for poll in 1..=needed {
        let path = if job.query.contains("protein") && poll == 2 {
            "/v1/research/tasks/stalled"
        } else if job.query.contains("battery") {
            "/v1/research/tasks/busy"
        } else {
            "/v1/research/tasks/running"
        };
        let body = http_get(Provider::Yutori, path)?;
        tracing::info!(task, poll, progress = poll * 100 / needed, "job_progress");
        if poll == needed {
            tracing::info!(task, polls = poll, "research_poll_completed");
            return Ok(body);
        }
        thread::sleep(Duration::from_millis(5));
    }
    unreachable!("the last poll returns")
}

/// The creative agent: one Freepik image.
#[traced(
    skip_all,
    fields(job.id = job.id, job.type = "creative", job.status = tracing::field::Empty)
)]
fn execute_creative(job: &Job) -> Result<String, JobError> {
    tracing::info!(job_id = job.id, "creative_started");
    let result = http_post(Provider::Freepik, "/v1/ai/text-to-image", job.query);
    record_job_status(result.is_ok());
    match result {
        Ok(image) => {
            tracing::info!(job_id = job.id, "creative_succeeded");
            Ok(image)
        }
        Err(e) => {
            tracing::error!(job_id = job.id, error = %e, "creative_failed");
            Err(JobError::External(e))
        }
    }
}

/// A `GET` to a provider: the plan's external call counter and latency.
#[traced(fields(http.method = "GET"))]
#[counted(
    name = "sixseven_external_api_calls_total",
    help = "Calls to Yutori/Freepik",
    labels(provider = provider),
    status(ok = "success", timeout = "error", panic = "error", cancelled = "error", blocked = "error"),
    objective(success = 95.0)
)]
#[timed(
    name = "sixseven_external_api_latency_seconds",
    help = "External API response times",
    labels(provider = provider),
    status(ok = "success", timeout = "error", panic = "error", cancelled = "error", blocked = "error")
)]
fn http_get(provider: Provider, path: &str) -> Result<String, HttpError> {
    tracing::info!(%provider, operation = "GET", path, "external_api_call");
    if path.ends_with("/stalled") {
        let timeout = Duration::from_millis(40);
        thread::sleep(timeout);
        return Err(HttpError::TimedOut(timeout));
    }
    thread::sleep(Duration::from_millis(if path.ends_with("/busy") {
        30
    } else {
        1
    }));
    Ok(format!("{{\"status\":\"done\",\"path\":\"{path}\"}}"))
}

/// A `POST` to a provider.
#[traced(skip(body), fields(http.method = "POST"))]
#[counted(
    name = "sixseven_external_api_calls_total",
    labels(provider = provider),
    status(ok = "success", timeout = "error", panic = "error", cancelled = "error", blocked = "error"),
    objective(success = 95.0)
)]
#[timed(
    name = "sixseven_external_api_latency_seconds",
    labels(provider = provider),
    status(ok = "success", timeout = "error", panic = "error", cancelled = "error", blocked = "error")
)]
fn http_post(provider: Provider, path: &str, body: &str) -> Result<String, HttpError> {
    tracing::info!(%provider, operation = "POST", path, "external_api_call");
    if body.contains("city") {
        return Err(HttpError::Status(500));
    }
    Ok(format!("{{\"id\":\"{}\"}}", body.len()))
}

fn main() -> Result<(), obs_runtime::Error> {
    let obs = obs_runtime::Builder::new()
        .service_name("sixseven")
        .install()?;
    if let Some(url) = obs.metrics_url() {
        println!("serving {url}");
    }
    println!("press Ctrl-C to stop");

    let api = Api::default();
    let limit = std::env::var("SIXSEVEN_COMMANDS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    let (mut done, mut succeeded) = (0u64, 0u64);
    loop {
        if limit.is_none_or(|limit| done < limit) {
            #[allow(clippy::cast_possible_truncation)] // below 10
            let cmd = SCRIPT[(done % 10) as usize];
            if let Ok(accepted) = api.handle_command(cmd) {
                // The client waits for the job, then reads it.
                let _ = accepted.running.join();
                if let Ok(view) = api.get_job(accepted.job_id)
                    && matches!(view.state, JobState::Succeeded(_))
                {
                    succeeded += 1;
                }
            }
            done += 1;
            if limit == Some(done) {
                println!("workload done: {done} commands, {succeeded} jobs succeeded");
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
}
