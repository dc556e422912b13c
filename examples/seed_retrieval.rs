//! The retrieval query pipeline of seed plan 004 ("Phase 6: Observability & Monitoring",
//! written for Python), with obs: every pipeline step is a function, and the plan's trace
//! tree, structured logs, metrics and alerts come from attributes on them.
//!
//! ```text
//! cargo run --example seed_retrieval
//! OTEL_TRACES_EXPORTER=console RETRIEVAL_QUERIES=10 cargo run --example seed_retrieval
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example seed_retrieval --features otlp
//! ```
//!
//! It serves `/metrics` until Ctrl-C; `RETRIEVAL_QUERIES=N` stops the workload after `N`
//! queries (the page is still served). Every 10 queries follow one script: the 3rd answer is
//! withheld by verification (hallucination score 0.8: `blocked`), the 5th fails in generation
//! (the model answers 503: `error`), the 8th loses its vector search to a timeout and is
//! answered from BM25 alone, the 10th is slow in generation (150 ms). Even queries go through
//! the `orchestrated` controller and the `multi_hop` pipeline, odd ones `direct` and
//! `single_hop`. To export the traces over OTLP (to Jaeger, or any collector), build with the
//! `otlp` feature, which turns on obs-runtime's, and say where with
//! `OTEL_EXPORTER_OTLP_ENDPOINT`; `traces-demo/tests/seed_retrieval.rs` checks the tree as an
//! OTLP receiver gets it.
//!
//! # The plan, and what does it here
//!
//! - The tracing flow `query_processing` → `query_analysis`, `routing`, `retrieval` →
//!   (`vector_search`, `bm25_search`), `reranking`, `generation`, `verification`: `#[traced]`
//!   on each step, named as in the plan. The two searches run on threads of their own, in the
//!   retrieval's span (`Span::in_scope`), so they nest under it. A failed step sets its
//!   span's status to `ERROR` with its error; the `@traced` decorator, `SpanContext`,
//!   `QueryTracer` and the exporters (console, OTLP for Jaeger and Datadog) are obs.
//! - Structured JSON logs with trace ids and a component tag: `OBS_LOG_FORMAT=json`, and a
//!   `component` field on each event. The query's text is never recorded (the plan's "don't
//!   log sensitive query content"): `skip_all`, and `query.length` instead.
//! - Metrics: `queries_total{controller}` and the query latency by `pipeline` on
//!   `process_query`. The plan's `query_latency_ms` is `query_latency_seconds`: obs refuses
//!   `_ms` at compile time, as Prometheus wants base units. Its `errors_total` is the
//!   `status` of `queries_total` (the error rate is `queries_total{status!="ok"}` over
//!   `queries_total`). `cache_hit_rate` is a gauge and `hallucination_score` a histogram of
//!   the `metrics` facade.
//! - Alerts: `high_error_rate` (over 5 %) is `objective(success = 95.0)` and `high_latency`
//!   (p95 over 3000 ms) is `objective(latency = "3s", percentile = 95)`, as burn-rate alerts
//!   in `/obs/rules.yml`. `hallucination_spike` is a threshold on a facade histogram, which
//!   obs does not generate.
//! - The metrics API's queries per second, average latency and error rate are PromQL on
//!   this page; its dashboard is `/obs/dashboard.json`.
//!
//! Left out, because it does not belong in an instrumentation toolkit:
//!
//! - The `QueryReplayStore` (save a query with its context and result, replay it later). It
//!   keeps payloads, not measurements: what to keep, for how long, where, and how to mask the
//!   personal data in it are the application's decisions, and re-executing a query is the
//!   application's code. obs gives it the key: the trace id, on the span and on every log
//!   line, so a replay store can index by it.
//! - Metrics storage in a time-series or SQL database, aggregators and `/metrics/traces/{trace_id}`:
//!   that is Prometheus (or any store that scrapes it) and the trace backend (Jaeger).
//! - The `ErrorTracker`'s grouping and Sentry integration: an error-tracking service's.

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use obs_runtime::{ErrorStatus, Status, counted, timed, traced};

/// The controllers of the orchestration module.
#[derive(Clone, Copy, Debug)]
enum Controller {
    Orchestrated,
    Direct,
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Controller::Orchestrated => "orchestrated",
            Controller::Direct => "direct",
        })
    }
}

/// The pipelines.
#[derive(Clone, Copy, Debug)]
enum Pipeline {
    MultiHop,
    SingleHop,
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pipeline::MultiHop => "multi_hop",
            Pipeline::SingleHop => "single_hop",
        })
    }
}

/// A user's question.
#[derive(Clone, Copy, Debug)]
struct Query {
    id: u64,
    text: &'static str,
    controller: Controller,
    pipeline: Pipeline,
}

/// One cycle of the workload's questions.
const QUESTIONS: [&str; 10] = [
    "who founded the company",
    "what does the warranty cover",
    "which drug interactions are known for ibuprofen",
    "how do I reset my password",
    "summarize the 2023 annual report",
    "what is the refund window",
    "compare plan A and plan B",
    "where is the data center located",
    "list the open positions",
    "explain the pricing model in detail",
];

/// A retrieved passage.
#[derive(Clone, Debug)]
struct Doc {
    id: u32,
    score: f64,
}

/// Why a query got no answer.
#[derive(Debug)]
enum QueryError {
    Generation(&'static str),
    Unverified { hallucination: f64 },
    NoDocuments,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Generation(why) => write!(f, "generation failed: {why}"),
            QueryError::Unverified { hallucination } => {
                write!(f, "answer withheld: hallucination score {hallucination}")
            }
            QueryError::NoDocuments => f.write_str("no document retrieved"),
        }
    }
}

impl std::error::Error for QueryError {}

/// A withheld answer is `blocked`, not an `error`: the pipeline worked and refused it.
impl ErrorStatus for QueryError {
    fn status(&self) -> Status {
        match self {
            QueryError::Unverified { .. } => Status::BLOCKED,
            QueryError::Generation(_) | QueryError::NoDocuments => Status::ERROR,
        }
    }
}

/// Why a search failed.
#[derive(Debug)]
struct SearchTimeout(Duration);

impl fmt::Display for SearchTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no answer from the vector index in {:?}", self.0)
    }
}

impl ErrorStatus for SearchTimeout {
    fn status(&self) -> Status {
        Status::TIMEOUT
    }
}

/// The embedding cache: its hit rate is the plan's `cache_hit_rate` gauge.
#[derive(Default)]
struct EmbeddingCache {
    seen: Mutex<(HashSet<&'static str>, u64, u64)>,
}

impl EmbeddingCache {
    fn embed(&self, text: &'static str) -> Vec<f32> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (texts, hits, lookups) = &mut *seen;
        *lookups += 1;
        if !texts.insert(text) {
            *hits += 1;
        }
        #[allow(clippy::cast_precision_loss)] // counts of a demo
        metrics::gauge!("cache_hit_rate").set(*hits as f64 / *lookups as f64);
        #[allow(clippy::cast_precision_loss)] // a demo embedding
        text.bytes().take(4).map(|b| f32::from(b) / 255.0).collect()
    }
}

/// The whole query: the plan's root span, `queries_total`, the query latency, and the
/// objectives behind `high_error_rate` and `high_latency`.
#[traced(
    name = "query_processing",
    skip_all,
    fields(query.id = q.id, query.length = q.text.len(), controller = %q.controller, pipeline = %q.pipeline)
)]
#[counted(
    name = "queries_total",
    help = "Queries, by controller and outcome",
    labels(controller = q.controller),
    objective(success = 95.0)
)]
#[timed(
    name = "query_latency_seconds",
    help = "Query latency, by pipeline",
    labels(pipeline = q.pipeline),
    buckets = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0],
    objective(latency = "3s", percentile = 95)
)]
fn process_query(q: Query, cache: &EmbeddingCache) -> Result<String, QueryError> {
    tracing::info!(component = "api", query_id = q.id, "query received");
    let terms = query_analysis(q.text);
    let route = routing(&terms, q.pipeline);
    let docs = retrieval(q, &terms, cache)?;
    let ranked = reranking(docs);
    let answer = generation(q, route, &ranked)?;
    verification(q, &answer)?;
    tracing::info!(component = "api", query_id = q.id, "query answered");
    Ok(answer)
}

#[traced(skip_all)]
fn query_analysis(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.len() > 3)
        .map(str::to_lowercase)
        .collect()
}

#[traced(skip_all, fields(route = tracing::field::Empty))]
fn routing(terms: &[String], pipeline: Pipeline) -> &'static str {
    let route = match pipeline {
        Pipeline::MultiHop if terms.len() > 2 => "decompose",
        _ => "direct",
    };
    tracing::Span::current().record("route", route);
    route
}

/// Both searches at once, each on a thread of its own, in this span.
#[traced(skip_all, fields(documents = tracing::field::Empty))]
fn retrieval(q: Query, terms: &[String], cache: &EmbeddingCache) -> Result<Vec<Doc>, QueryError> {
    let embedding = cache.embed(q.text);
    let span = tracing::Span::current();
    let (vector, bm25) = thread::scope(|s| {
        let vector = s.spawn(|| span.in_scope(|| vector_search(q.id, &embedding)));
        let bm25 = s.spawn(|| span.in_scope(|| bm25_search(terms)));
        (vector.join(), bm25.join())
    });
    let mut docs = bm25.unwrap_or_default();
    match vector {
        Ok(Ok(found)) => docs.extend(found),
        Ok(Err(e)) => {
            tracing::warn!(component = "retrieval", error = %e, "answering from BM25 alone");
        }
        Err(_) => tracing::error!(component = "retrieval", "the vector search panicked"),
    }
    span.record("documents", docs.len());
    if docs.is_empty() {
        return Err(QueryError::NoDocuments);
    }
    Ok(docs)
}

#[traced(skip(embedding))]
fn vector_search(query_id: u64, embedding: &[f32]) -> Result<Vec<Doc>, SearchTimeout> {
    if query_id % 10 == 8 {
        let timeout = Duration::from_millis(40);
        thread::sleep(timeout);
        return Err(SearchTimeout(timeout));
    }
    let base = u32::try_from(embedding.len()).unwrap_or(0);
    Ok((0..3)
        .map(|i| Doc {
            id: 100 + base + i,
            score: 0.9 - f64::from(i) / 10.0,
        })
        .collect())
}

#[traced(skip_all)]
fn bm25_search(terms: &[String]) -> Vec<Doc> {
    let n = u32::try_from(terms.len()).unwrap_or(0);
    (0..2)
        .map(|i| Doc {
            id: 200 + n + i,
            score: 0.7 - f64::from(i) / 10.0,
        })
        .collect()
}

#[traced(skip_all)]
fn reranking(mut docs: Vec<Doc>) -> Vec<Doc> {
    docs.sort_by(|a, b| b.score.total_cmp(&a.score));
    docs.truncate(3);
    docs
}

#[traced(skip_all, fields(route = route))]
fn generation(q: Query, route: &str, docs: &[Doc]) -> Result<String, QueryError> {
    match q.id % 10 {
        5 => {
            tracing::error!(
                component = "generation",
                query_id = q.id,
                "the model answered 503"
            );
            Err(QueryError::Generation("the model answered 503"))
        }
        0 => {
            // The longest answer: the slow path.
            thread::sleep(Duration::from_millis(150));
            Ok(format!("a long answer from {} passages", docs.len()))
        }
        _ => Ok(format!(
            "an answer from passages {:?}",
            docs.iter().map(|d| d.id).collect::<Vec<_>>()
        )),
    }
}

/// Checks the answer against its sources; the hallucination score goes to the facade's
/// histogram.
#[traced(skip_all, fields(hallucination_score = tracing::field::Empty))]
fn verification(q: Query, answer: &str) -> Result<(), QueryError> {
    let score = if q.id % 10 == 3 { 0.8 } else { 0.05 };
    tracing::Span::current().record("hallucination_score", score);
    metrics::histogram!("hallucination_score").record(score);
    if score > 0.5 {
        tracing::warn!(
            component = "verification",
            query_id = q.id,
            score,
            answer_length = answer.len(),
            "answer withheld"
        );
        return Err(QueryError::Unverified {
            hallucination: score,
        });
    }
    Ok(())
}

fn main() -> Result<(), obs_runtime::Error> {
    let obs = obs_runtime::Builder::new()
        .service_name("retrieval")
        .histogram_buckets("hallucination_score", [0.1, 0.25, 0.5, 0.75, 1.0])
        .install()?;
    if let Some(url) = obs.metrics_url() {
        println!("serving {url}");
    }
    println!("press Ctrl-C to stop");

    let cache = EmbeddingCache::default();
    let limit = std::env::var("RETRIEVAL_QUERIES")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    let (mut done, mut answered) = (0u64, 0u64);
    loop {
        if limit.is_none_or(|limit| done < limit) {
            let even = done.is_multiple_of(2);
            #[allow(clippy::cast_possible_truncation)] // below 10
            let q = Query {
                id: done + 1,
                text: QUESTIONS[(done % 10) as usize],
                controller: if even {
                    Controller::Orchestrated
                } else {
                    Controller::Direct
                },
                pipeline: if even {
                    Pipeline::MultiHop
                } else {
                    Pipeline::SingleHop
                },
            };
            if process_query(q, &cache).is_ok() {
                answered += 1;
            }
            done += 1;
            if limit == Some(done) {
                println!("workload done: {done} queries, {answered} answered");
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
}
