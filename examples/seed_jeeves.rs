//! Jeeves, the agent pipeline runtime of seed plan 001 ("Observability Improvements Plan",
//! written for Go and Python), with obs: pipelines, agents, LLM providers, the database and
//! the HTTP gateway are functions, and the plan's metrics, SLOs and traces come from
//! attributes on them.
//!
//! ```text
//! cargo run --example seed_jeeves
//! curl -s http://127.0.0.1:9464/metrics | grep '^jeeves_'
//! curl -s http://127.0.0.1:9464/obs/rules.yml     # the SLOs as burn-rate alerts
//! OBS_LOG_FORMAT=json OTEL_TRACES_EXPORTER=console JEEVES_REQUESTS=10 cargo run --example seed_jeeves
//! ```
//!
//! It serves until Ctrl-C; `JEEVES_REQUESTS=N` stops the workload after `N` requests (the
//! page is still served). Requests alternate between the `answer` pipeline (planner,
//! retriever, writer) and `triage` (planner, writer); every 10 requests follow one script: the
//! 4th fails (the writer's provider answers 529), the 7th times out (the retriever's local
//! model does not answer in 50 ms), the 9th waits 120 ms on a slow `select`, the 6th asks the
//! user a clarification that is answered and the 10th a confirmation that never is (the
//! interrupt times out, the planner goes on). With the `otlp` feature, `OTEL_EXPORTER_OTLP_*`
//! sends the traces to Jaeger as the plan's docker-compose does.
//!
//! # The plan, and what does it here
//!
//! - `jeeves_pipeline_executions_total{pipeline, status}` with `success`/`error`/`timeout` and
//!   `jeeves_pipeline_duration_seconds{pipeline}` with the plan's buckets:
//!   `PipelineRunner::execute`, `labels(pipeline = self.config.name)`, `status(ok = "success")`.
//! - `jeeves_agent_*{agent}`, `jeeves_llm_calls_total{provider, model, status}`,
//!   `jeeves_llm_duration_seconds{provider, model}`, `jeeves_db_query_duration_seconds{operation}`,
//!   `jeeves_interrupts_total{kind, status}`: `Agent::process`, `Provider::generate`,
//!   `Database::query`, `raise_interrupt`.
//! - `jeeves_llm_tokens_total{provider, model, type}`, `jeeves_db_connections`,
//!   `jeeves_db_pool_size`, `jeeves_db_pool_active_connections`,
//!   `jeeves_db_pool_idle_connections`: the `metrics` facade (`counter!`, `gauge!`), as they
//!   are amounts, not calls.
//! - The Python gateway's `jeeves_http_requests_total{method, endpoint, status}` and
//!   `jeeves_http_request_duration_seconds{method, endpoint}`: `Gateway::handle`, whose
//!   `status` is the HTTP code (`status(ok = "200", error = "500", timeout = "504", ..)`).
//!   The Python side's `jeeves_llm_provider_*` repeat `jeeves_llm_*` from the other process;
//!   this model is one process, so they are the same series here.
//! - Tracing: `pipeline.execute` with `pipeline.name`, `request.id`, `user.id`, its
//!   `pipeline.started`/`pipeline.completed` events, then `agent.process`, `llm.generate` (with
//!   the token counts), `db.query` beneath: `#[traced(name = .., fields(..))]` and
//!   `tracing::info!`. Cross-service propagation (the gRPC and HTTP interceptors) is
//!   `obs_runtime::propagation` with the `otlp` feature; this model has no second service.
//!   The plan's 10 % sampling is `OTEL_TRACES_SAMPLER=parentbased_traceidratio
//!   OTEL_TRACES_SAMPLER_ARG=0.1`.
//! - SLOs: `pipeline_success_rate` 99.5 %, `pipeline_latency_p99` 5 s, `llm_availability`
//!   99 % and `database_availability` 99.9 % are `objective(..)`s, so `/obs/rules.yml` has
//!   their burn-rate alerts (`database_availability` needs a count of queries, which the plan
//!   lacks: `jeeves_db_queries_total{operation, status}`). They stand for the plan's
//!   `HighErrorRate`, `HighLatency` and `LLMProviderDown`, which watch the same ratios with
//!   fixed thresholds. `DatabasePoolExhaustion` and `HighInterruptRate` are thresholds on
//!   gauges and rates, not objectives: obs does not generate them, and the plan's expressions
//!   work unchanged on this page.
//! - Dashboards: `/obs/dashboard.json` has the service overview (rate, error ratio, p50/p95/p99
//!   per function, in flight, burn rates); token usage by provider is the plan's own query.
//!
//! Left out, because it is not instrumentation: `alertmanager.yml` (routing alerts to chat
//! and pagers is Alertmanager's job), and the event-sourcing audit trail the plan already has.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use obs_runtime::{ErrorStatus, Status, counted, timed, traced};

/// What goes wrong in a request, decided by the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// The writer's provider answers 529.
    WriterProviderError,
    /// The retriever's model does not answer within its deadline.
    RetrieverTimeout,
    /// The retriever's `select` waits on a lock.
    SlowSelect,
    /// The planner asks the user to clarify, and gets an answer.
    Clarification,
    /// The planner asks the user to confirm, and gets none.
    UnansweredConfirmation,
}

/// One cycle of the workload: `(pipeline, fault)` per request.
const SCRIPT: [(&PipelineConfig, Fault); 10] = [
    (&ANSWER, Fault::None),
    (&TRIAGE, Fault::None),
    (&ANSWER, Fault::None),
    (&TRIAGE, Fault::WriterProviderError),
    (&ANSWER, Fault::None),
    (&TRIAGE, Fault::Clarification),
    (&ANSWER, Fault::RetrieverTimeout),
    (&TRIAGE, Fault::None),
    (&ANSWER, Fault::SlowSelect),
    (&TRIAGE, Fault::UnansweredConfirmation),
];

/// What flows through a pipeline.
#[derive(Debug)]
struct Envelope {
    request_id: u64,
    user_id: &'static str,
    input: &'static str,
    fault: Fault,
    outputs: Vec<String>,
}

/// A pipeline's configuration: its name and its agents, in order.
#[derive(Debug)]
struct PipelineConfig {
    name: &'static str,
    agents: &'static [Agent],
}

const ANSWER: PipelineConfig = PipelineConfig {
    name: "answer",
    agents: &[Agent::PLANNER, Agent::RETRIEVER, Agent::WRITER],
};
const TRIAGE: PipelineConfig = PipelineConfig {
    name: "triage",
    agents: &[Agent::PLANNER, Agent::WRITER],
};

/// How a pipeline ended early.
#[derive(Debug)]
enum PipelineError {
    Agent {
        agent: &'static str,
        cause: AgentError,
    },
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let PipelineError::Agent { agent, cause } = self;
        write!(f, "agent {agent}: {cause}")
    }
}

impl std::error::Error for PipelineError {}

/// The plan's `TerminationReason`: the pipeline times out when an agent does.
impl ErrorStatus for PipelineError {
    fn status(&self) -> Status {
        let PipelineError::Agent { cause, .. } = self;
        cause.status()
    }
}

/// Why an agent failed.
#[derive(Debug)]
enum AgentError {
    Llm(LlmError),
    Db(DbError),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Llm(e) => write!(f, "LLM call failed: {e}"),
            AgentError::Db(e) => write!(f, "query failed: {e}"),
        }
    }
}

impl std::error::Error for AgentError {}

impl ErrorStatus for AgentError {
    fn status(&self) -> Status {
        match self {
            AgentError::Llm(e) => e.status(),
            AgentError::Db(_) => Status::ERROR,
        }
    }
}

/// Why an LLM call failed.
#[derive(Debug)]
enum LlmError {
    Provider { code: u16 },
    TimedOut(Duration),
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmError::Provider { code } => write!(f, "provider answered {code}"),
            LlmError::TimedOut(after) => write!(f, "no answer after {after:?}"),
        }
    }
}

impl std::error::Error for LlmError {}

impl ErrorStatus for LlmError {
    fn status(&self) -> Status {
        match self {
            LlmError::Provider { .. } => Status::ERROR,
            LlmError::TimedOut(_) => Status::TIMEOUT,
        }
    }
}

/// Runs one pipeline configuration.
struct PipelineRunner<'w> {
    config: &'static PipelineConfig,
    world: &'w World,
}

impl PipelineRunner<'_> {
    /// The plan's `PipelineRunner.Execute`: its counter, histogram and span, and the
    /// `pipeline_success_rate` and `pipeline_latency_p99` SLOs.
    #[traced(
        name = "pipeline.execute",
        skip_all,
        fields(pipeline.name = self.config.name, request.id = env.request_id, user.id = env.user_id)
    )]
    #[counted(
        name = "jeeves_pipeline_executions_total",
        help = "Total number of pipeline executions",
        labels(pipeline = self.config.name),
        status(ok = "success"),
        objective(success = 99.5)
    )]
    #[timed(
        name = "jeeves_pipeline_duration_seconds",
        help = "Pipeline execution duration in seconds",
        labels(pipeline = self.config.name),
        buckets = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0],
        status(ok = "success"),
        objective(latency = "5s", percentile = 99)
    )]
    fn execute(&self, env: &mut Envelope) -> Result<(), PipelineError> {
        tracing::info!("pipeline.started");
        self.world
            .db
            .query(Operation::Insert, "INSERT INTO pipeline_runs", env.fault)
            .map_err(|e| PipelineError::Agent {
                agent: "runtime",
                cause: AgentError::Db(e),
            })?;
        for agent in self.config.agents {
            agent
                .process(env, self.world)
                .map_err(|cause| PipelineError::Agent {
                    agent: agent.name,
                    cause,
                })?;
        }
        tracing::info!(outputs = env.outputs.len(), "pipeline.completed");
        Ok(())
    }
}

/// An agent: its name, and the provider and model it calls.
#[derive(Debug)]
struct Agent {
    name: &'static str,
    provider: &'static Provider,
    model: &'static str,
    tokens: (u64, u64),
}

impl Agent {
    const PLANNER: Agent = Agent {
        name: "planner",
        provider: &Provider::ANTHROPIC,
        model: "claude-sonnet-4-5",
        tokens: (120, 40),
    };
    const RETRIEVER: Agent = Agent {
        name: "retriever",
        provider: &Provider::LOCAL,
        model: "llama-3.1-8b",
        tokens: (300, 60),
    };
    const WRITER: Agent = Agent {
        name: "writer",
        provider: &Provider::OPENAI,
        model: "gpt-4o",
        tokens: (800, 250),
    };

    /// The plan's `Agent.Process`.
    #[traced(name = "agent.process", skip_all, fields(agent.name = self.name))]
    #[counted(
        name = "jeeves_agent_executions_total",
        help = "Total number of agent executions",
        labels(agent = self.name),
        status(ok = "success")
    )]
    #[timed(
        name = "jeeves_agent_duration_seconds",
        help = "Agent execution duration in seconds",
        labels(agent = self.name),
        buckets = [0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0],
        status(ok = "success")
    )]
    fn process(&self, env: &mut Envelope, world: &World) -> Result<(), AgentError> {
        if self.name == "planner" {
            self.ask_user(env);
        }
        let fault = match (self.name, env.fault) {
            ("writer", Fault::WriterProviderError) | ("retriever", Fault::RetrieverTimeout) => {
                env.fault
            }
            _ => Fault::None,
        };
        let prompt = format!("{}: {}", self.name, env.input);
        let completion = self
            .provider
            .generate(self.model, &prompt, self.tokens, fault)
            .map_err(AgentError::Llm)?;
        match self.name {
            "retriever" => {
                world
                    .db
                    .query(Operation::Select, "SELECT * FROM documents", env.fault)
                    .map_err(AgentError::Db)?;
            }
            "writer" => {
                world
                    .db
                    .query(Operation::Update, "UPDATE drafts", env.fault)
                    .map_err(AgentError::Db)?;
            }
            _ => {}
        }
        env.outputs.push(completion);
        Ok(())
    }

    /// The planner's interrupts; an unanswered one is not a failure of the agent.
    fn ask_user(&self, env: &mut Envelope) {
        let asked = match env.fault {
            Fault::Clarification => raise_interrupt(InterruptKind::Clarification, Some("yes")),
            Fault::UnansweredConfirmation => raise_interrupt(InterruptKind::Confirmation, None),
            _ => return,
        };
        let answer = asked.unwrap_or_else(|e| {
            tracing::warn!(agent = self.name, error = %e, "going on without an answer");
            "default".to_owned()
        });
        env.outputs.push(answer);
    }
}

/// An LLM provider.
#[derive(Debug)]
struct Provider {
    name: &'static str,
}

impl Provider {
    const ANTHROPIC: Provider = Provider { name: "anthropic" };
    const OPENAI: Provider = Provider { name: "openai" };
    const LOCAL: Provider = Provider {
        name: "llama-server",
    };

    /// One completion: the plan's LLM call counter and histogram, the `llm_availability`
    /// SLO, and the token counts through the `metrics` facade.
    #[traced(
        name = "llm.generate",
        skip_all,
        fields(
            llm.provider = self.name,
            llm.model = model,
            llm.input_tokens = tracing::field::Empty,
            llm.output_tokens = tracing::field::Empty
        )
    )]
    #[counted(
        name = "jeeves_llm_calls_total",
        help = "Total number of LLM API calls",
        labels(provider = self.name, model = model),
        status(ok = "success"),
        objective(success = 99.0)
    )]
    #[timed(
        name = "jeeves_llm_duration_seconds",
        help = "LLM call duration in seconds",
        labels(provider = self.name, model = model),
        buckets = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0],
        status(ok = "success")
    )]
    fn generate(
        &self,
        model: &'static str,
        prompt: &str,
        (input, output): (u64, u64),
        fault: Fault,
    ) -> Result<String, LlmError> {
        match fault {
            Fault::WriterProviderError => return Err(LlmError::Provider { code: 529 }),
            Fault::RetrieverTimeout => {
                let deadline = Duration::from_millis(50);
                thread::sleep(deadline);
                return Err(LlmError::TimedOut(deadline));
            }
            _ => {}
        }
        let span = tracing::Span::current();
        span.record("llm.input_tokens", input);
        span.record("llm.output_tokens", output);
        metrics::counter!("jeeves_llm_tokens_total", "provider" => self.name, "model" => model, "type" => "input")
            .increment(input);
        metrics::counter!("jeeves_llm_tokens_total", "provider" => self.name, "model" => model, "type" => "output")
            .increment(output);
        Ok(format!("{} words about {prompt}", output / 2))
    }
}

/// The plan's `operation` label.
#[derive(Clone, Copy, Debug)]
enum Operation {
    Select,
    Insert,
    Update,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Select => "select",
            Operation::Insert => "insert",
            Operation::Update => "update",
        })
    }
}

/// A query that failed.
#[derive(Debug)]
struct DbError(&'static str);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DbError {}

/// A connection pool: its size and the connections checked out now, as the plan's gauges.
struct Database {
    size: u64,
    active: AtomicU64,
}

impl Database {
    fn open(size: u64) -> Database {
        #[allow(clippy::cast_precision_loss)] // a pool size
        let size_f = size as f64;
        metrics::gauge!("jeeves_db_pool_size").set(size_f);
        metrics::gauge!("jeeves_db_connections").set(size_f);
        let db = Database {
            size,
            active: AtomicU64::new(0),
        };
        db.report();
        db
    }

    fn report(&self) {
        let active = self.active.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)] // a pool size
        {
            metrics::gauge!("jeeves_db_pool_active_connections").set(active as f64);
            metrics::gauge!("jeeves_db_pool_idle_connections")
                .set(self.size.saturating_sub(active) as f64);
        }
    }

    /// One query on a pooled connection: the plan's histogram per operation, and a count of
    /// queries by status for the `database_availability` SLO.
    #[traced(name = "db.query", skip(self, fault), fields(db.operation = %operation))]
    #[counted(
        name = "jeeves_db_queries_total",
        help = "Database queries, by operation and outcome",
        labels(operation = operation),
        status(ok = "success"),
        objective(success = 99.9)
    )]
    #[timed(
        name = "jeeves_db_query_duration_seconds",
        help = "Database query duration in seconds",
        labels(operation = operation),
        buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0],
        status(ok = "success")
    )]
    fn query(&self, operation: Operation, sql: &str, fault: Fault) -> Result<u64, DbError> {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.report();
        if matches!((operation, fault), (Operation::Select, Fault::SlowSelect)) {
            thread::sleep(Duration::from_millis(120));
        }
        let rows = u64::try_from(sql.len()).map_err(|_| DbError("statement too long"));
        self.active.fetch_sub(1, Ordering::Relaxed);
        self.report();
        rows
    }
}

/// What the planner asks the user.
#[derive(Clone, Copy, Debug)]
enum InterruptKind {
    Clarification,
    Confirmation,
}

impl fmt::Display for InterruptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterruptKind::Clarification => "clarification",
            InterruptKind::Confirmation => "confirmation",
        })
    }
}

/// The user did not answer in time.
#[derive(Debug)]
struct Unanswered(Duration);

impl fmt::Display for Unanswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no answer within {:?}", self.0)
    }
}

impl ErrorStatus for Unanswered {
    fn status(&self) -> Status {
        Status::TIMEOUT
    }
}

/// An interrupt: the plan's `jeeves_interrupts_total{kind, status}`.
#[traced(name = "interrupt.raise", skip(answer))]
#[counted(
    name = "jeeves_interrupts_total",
    help = "Total number of interrupts raised",
    labels(kind = kind),
    status(ok = "success")
)]
fn raise_interrupt(kind: InterruptKind, answer: Option<&str>) -> Result<String, Unanswered> {
    tracing::info!(%kind, "waiting for the user");
    if let Some(answer) = answer {
        return Ok(answer.to_owned());
    }
    let wait = Duration::from_millis(20);
    thread::sleep(wait);
    Err(Unanswered(wait))
}

/// The HTTP gateway in front of the runtime (the plan's Python "avionics" side).
struct Gateway<'w> {
    world: &'w World,
}

/// How a request ended, as an HTTP status.
#[derive(Debug)]
struct GatewayError(PipelineError);

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for GatewayError {}

impl ErrorStatus for GatewayError {
    fn status(&self) -> Status {
        self.0.status()
    }
}

impl Gateway<'_> {
    /// `POST /v1/pipelines/run`: the gateway's request counter and histogram, whose `status`
    /// is the HTTP code the client got.
    #[traced(name = "http.request", skip(self, env), fields(http.method = method, http.route = endpoint))]
    #[counted(
        name = "jeeves_http_requests_total",
        help = "Total HTTP requests",
        labels(method = method, endpoint = endpoint),
        status(ok = "200", error = "500", timeout = "504", blocked = "429", panic = "500", cancelled = "499")
    )]
    #[timed(
        name = "jeeves_http_request_duration_seconds",
        help = "HTTP request duration",
        labels(method = method, endpoint = endpoint),
        status(ok = "200", error = "500", timeout = "504", blocked = "429", panic = "500", cancelled = "499")
    )]
    fn handle(
        &self,
        method: &'static str,
        endpoint: &'static str,
        config: &'static PipelineConfig,
        env: &mut Envelope,
    ) -> Result<usize, GatewayError> {
        let runner = PipelineRunner {
            config,
            world: self.world,
        };
        match runner.execute(env) {
            Ok(()) => Ok(env.outputs.len()),
            Err(e) => {
                tracing::error!(pipeline = config.name, error = %e, "pipeline failed");
                Err(GatewayError(e))
            }
        }
    }
}

/// What the runtime talks to.
struct World {
    db: Database,
}

fn main() -> Result<(), obs_runtime::Error> {
    let obs = obs_runtime::Builder::new()
        .service_name("jeeves-core")
        .install()?;
    if let Some(url) = obs.metrics_url() {
        println!("serving {url}");
    }
    println!("press Ctrl-C to stop");

    let world = World {
        db: Database::open(10),
    };
    let gateway = Gateway { world: &world };
    let limit = std::env::var("JEEVES_REQUESTS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    let (mut done, mut ok) = (0u64, 0u64);
    loop {
        if limit.is_none_or(|limit| done < limit) {
            #[allow(clippy::cast_possible_truncation)] // below 10
            let (config, fault) = SCRIPT[(done % 10) as usize];
            let mut env = Envelope {
                request_id: done + 1,
                user_id: if done % 3 == 0 { "u-ann" } else { "u-bob" },
                input: "why did the nightly build fail",
                fault,
                outputs: Vec::new(),
            };
            if gateway
                .handle("POST", "/v1/pipelines/run", config, &mut env)
                .is_ok()
            {
                ok += 1;
            }
            done += 1;
            if limit == Some(done) {
                println!("workload done: {done} requests, {ok} succeeded");
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
}
