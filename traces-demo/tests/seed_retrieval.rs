//! Seed plan 004's span tree as an OTLP receiver gets it: the root package's
//! `examples/seed_retrieval.rs`, built with its `otlp` feature, exporting over gRPC to the
//! receiver of these tests (`otlp_receiver`).

mod otlp_receiver;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use otlp_receiver::{Attr, Receiver, Span};

/// Queries run: one cycle of the example's script.
const QUERIES: i64 = 10;
/// Spans per cycle: nine steps per query, less the verification of the one that fails in
/// generation.
const SPANS: usize = 89;

/// Builds the example with the `otlp` feature, with the cargo running this test.
fn example() -> PathBuf {
    let args = ["--package", "obs", "--features", "otlp"];
    let mut built = otlp_receiver::examples(&args, &["seed_retrieval"]);
    built.remove(0).1
}

/// The example, killed when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the workload against `receiver` and returns what arrived.
fn run(receiver: &Receiver) -> Vec<Span> {
    let mut command = Command::new(example());
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("OBS_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    let mut child = command
        .envs(receiver.env())
        .env("OTEL_EXPORTER_PROMETHEUS_PORT", "0")
        .env("RETRIEVAL_QUERIES", QUERIES.to_string())
        .env("OBS_LOG_FORMAT", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start seed_retrieval");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let _running = Running(child);
    let done = format!("workload done: {QUERIES} queries");
    let mut lines = stdout.lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.starts_with(&done))),
        "the workload ends"
    );
    // The exporter sends a batch every 100 ms.
    receiver.wait_for(SPANS, Duration::from_secs(30))
}

/// An integer attribute: obs sends a field recorded as an integer as an OTLP int (the
/// `tracing-opentelemetry` it replaced sent a `u64` as a string).
fn number(attr: &Attr) -> Option<i64> {
    match attr {
        Attr::Int(n) => Some(*n),
        _ => None,
    }
}

#[test]
fn every_query_arrives_as_the_plan_s_span_tree() {
    let receiver = Receiver::grpc();
    let spans = run(&receiver);
    assert_eq!(spans.len(), SPANS, "{spans:#?}");
    assert!(spans.iter().all(|s| s.service == "retrieval"));

    let mut by_trace: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for span in &spans {
        by_trace.entry(&span.trace_id).or_default().push(span);
    }
    assert_eq!(by_trace.len(), 10, "one trace per query");
    let mut by_query: BTreeMap<i64, Vec<&Span>> = BTreeMap::new();
    for trace in by_trace.into_values() {
        let roots: Vec<&&Span> = trace.iter().filter(|s| s.parent_id.is_none()).collect();
        assert_eq!(roots.len(), 1, "{trace:#?}");
        let root = roots[0];
        assert_eq!(root.name, "query_processing");
        let id = root
            .attr("query.id")
            .and_then(number)
            .unwrap_or_else(|| panic!("query.id on the root: {root:#?}"));
        by_query.insert(id, trace);
    }
    assert_eq!(
        by_query.keys().copied().collect::<Vec<_>>(),
        (1..=QUERIES).collect::<Vec<_>>()
    );

    for (id, trace) in &by_query {
        check_tree(*id, trace);
    }

    // Failed steps carry their error; the vector search's timeout does not fail its query.
    let status = |id: i64, name: &str| {
        let span = by_query[&id].iter().find(|s| s.name == name).unwrap();
        (span.status_code, span.status_message.clone())
    };
    assert_eq!(
        status(8, "vector_search"),
        (2, "no answer from the vector index in 40ms".to_owned())
    );
    assert_ne!(status(8, "query_processing").0, 2);
    assert_eq!(
        status(5, "generation"),
        (2, "generation failed: the model answered 503".to_owned())
    );
    assert_eq!(
        status(3, "query_processing"),
        (2, "answer withheld: hallucination score 0.8".to_owned())
    );
    let verification = by_query[&3]
        .iter()
        .find(|s| s.name == "verification")
        .unwrap();
    assert_eq!(
        verification.attr("hallucination_score"),
        Some(&Attr::Double(0.8))
    );
    assert!(status(10, "generation").0 != 2);
    let slow = by_query[&10]
        .iter()
        .find(|s| s.name == "generation")
        .unwrap();
    assert!(slow.duration >= Duration::from_millis(150), "{slow:#?}");
}

/// Query `id`'s trace is the plan's tree, with its attributes and without the question.
fn check_tree(id: i64, trace: &[&Span]) {
    let find = |name: &str| {
        let found: Vec<&&Span> = trace.iter().filter(|s| s.name == name).collect();
        assert!(found.len() <= 1, "one {name} in query {id}");
        found.first().copied().copied()
    };
    let parent_of = |name: &str| {
        let span = find(name).unwrap_or_else(|| panic!("{name} in query {id}: {trace:#?}"));
        let parent = span.parent_id.as_deref().expect("a parent");
        trace.iter().find(|s| s.span_id == parent).map_or_else(
            || panic!("the parent of {name} is in the trace"),
            |s| s.name.as_str(),
        )
    };
    for step in [
        "query_analysis",
        "routing",
        "retrieval",
        "reranking",
        "generation",
    ] {
        assert_eq!(parent_of(step), "query_processing", "{step} in query {id}");
    }
    // The searches ran on threads of their own, and still nest under retrieval.
    assert_eq!(parent_of("vector_search"), "retrieval");
    assert_eq!(parent_of("bm25_search"), "retrieval");
    if id == 5 {
        assert!(
            find("verification").is_none(),
            "no verification after a failed generation"
        );
    } else {
        assert_eq!(parent_of("verification"), "query_processing");
    }
    let root = find("query_processing").unwrap();
    assert!(root.attr("query.length").and_then(number) > Some(0));
    let controller = if id % 2 == 1 {
        "orchestrated"
    } else {
        "direct"
    };
    assert_eq!(
        root.attr("controller").and_then(Attr::str),
        Some(controller)
    );
    // The question itself is never recorded.
    for word in ["founded", "warranty", "ibuprofen", "password", "refund"] {
        assert!(
            trace
                .iter()
                .flat_map(|s| s.attributes.values())
                .all(|v| v.str().is_none_or(|s| !s.contains(word))),
            "query text in the attributes of query {id}"
        );
    }
}
