//! The layer under a subscriber of its own, with a pipeline whose sink keeps what it gets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;

use super::super::access::with_span;
use super::super::context;
use super::super::pipeline::{self, Item, Sink};
use super::super::settings::{Sampler, TraceConfig, TraceSettings};
use super::*;

/// The ids the trace work gave `span`.
fn ids_of_span(span: &tracing::Span) -> Option<SpanIds> {
    with_span(span, |span| span.context().map(|c| c.ids)).flatten()
}

/// One exported span: `(name, trace id, span id, parent, field names)`.
type Exported = (
    String,
    [u8; 16],
    [u8; 8],
    Option<[u8; 8]>,
    Vec<&'static str>,
);
/// What the sink was handed.
type Got = Arc<Mutex<Vec<Exported>>>;

struct Keep(Got);

impl Sink for Keep {
    fn export(
        &mut self,
        batch: &[Item],
        _timeout: Duration,
    ) -> Result<crate::otlp::response::Accepted, crate::otlp::retry::Failure> {
        let mut got = self.0.lock().unwrap();
        for s in batch {
            let fields = s.record.fields.iter().map(|(k, _)| *k).collect();
            got.push((
                s.name().to_owned(),
                s.record.ids.trace_id,
                s.record.ids.span_id,
                s.record.parent,
                fields,
            ));
        }
        Ok(crate::otlp::response::Accepted::default())
    }

    fn target(&self) -> String {
        "a test sink".into()
    }
}

/// Runs `f` under a subscriber with obs's layer and an active pipeline sampling as `sampler`;
/// returns what was exported once the guard flushed.
fn run(sampler: Sampler, f: impl FnOnce()) -> Vec<Exported> {
    let subscriber = tracing_subscriber::registry().with(ObsLayer);
    run_in(sampler, &tracing::Dispatch::new(subscriber), f)
}

/// [`run`], under `dispatch`.
fn run_in(sampler: Sampler, dispatch: &tracing::Dispatch, f: impl FnOnce()) -> Vec<Exported> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let vars = |var: &str| (var == "OTEL_TRACES_EXPORTER").then(|| "console".to_owned());
    let mut config = TraceConfig::resolve(&TraceSettings::default(), &vars, None).unwrap();
    config.sampler = sampler;
    let got = Got::default();
    let sink = Keep(Arc::clone(&got));
    let guard = pipeline::start(&config, move || Ok(Box::new(sink) as Box<dyn Sink>)).unwrap();
    guard.activate();
    tracing::dispatcher::with_default(dispatch, f);
    drop(guard);
    got.lock().unwrap().clone()
}

#[test]
fn a_sampled_trace_keeps_its_ids_parents_and_fields() {
    let spans = run(Sampler::AlwaysOn, || {
        let outer = tracing::info_span!("outer", n = 1_u64);
        let _in = outer.enter();
        let inner = tracing::info_span!("inner");
        inner.in_scope(|| {
            assert_eq!(
                context::current_sampled().map(|ids| ids.trace_id),
                ids_of_span(&outer).map(|i| i.trace_id)
            );
        });
    });
    assert_eq!(spans.len(), 2, "{spans:?}");
    let (inner, outer) = (&spans[0], &spans[1]);
    assert_eq!((inner.0.as_str(), outer.0.as_str()), ("inner", "outer"));
    assert_eq!(inner.1, outer.1, "one trace");
    assert_eq!(inner.3, Some(outer.2), "inner's parent is outer");
    assert_eq!(outer.3, None);
    assert_eq!(outer.4, ["n"]);
    assert_eq!(context::current_sampled(), None, "nothing entered any more");
}

#[test]
fn an_unsampled_trace_records_and_exports_nothing_but_keeps_its_ids() {
    let spans = run(Sampler::AlwaysOff, || {
        let root = tracing::info_span!("root", big = "x".repeat(100));
        let ids = with_span(&root, |span| {
            assert!(span.record().is_none(), "no record for an unsampled span");
            span.context().map(|c| c.ids)
        })
        .flatten()
        .expect("ids kept");
        assert!(!ids.sampled);
        let child = tracing::info_span!(parent: &root, "child");
        let child_ids = ids_of_span(&child).unwrap();
        assert_eq!(
            child_ids.trace_id, ids.trace_id,
            "the child stays in the trace"
        );
        assert!(!child_ids.sampled, "and follows its decision");
        child.in_scope(|| assert_eq!(context::current_sampled(), None));
    });
    assert!(spans.is_empty(), "{spans:?}");
}

#[test]
fn an_unsampled_span_passes_its_callers_tracestate_and_flag_on() {
    use std::collections::HashMap;
    let caller = crate::traces::propagation::extract_map(&HashMap::from([
        (
            "traceparent".to_owned(),
            "00-12345678901234567890123456789012-1234567890123456-00".to_owned(),
        ),
        ("tracestate".to_owned(), "foo=1,bar=2".to_owned()),
    ]));
    let mut sent = HashMap::new();
    let spans = run(Sampler::ParentBasedAlwaysOn, || {
        caller.in_scope(|| {
            let span = tracing::info_span!("handler");
            let own = ids_of_span(&span).expect("ids");
            let child = tracing::info_span!(parent: &span, "client");
            child.in_scope(|| crate::traces::propagation::inject_map(&mut sent));
            let child_id = ids_of_span(&child).unwrap().span_id;
            assert!(!own.sampled);
            assert_eq!(
                sent["traceparent"],
                format!(
                    "00-12345678901234567890123456789012-{}-00",
                    crate::traces::ids::to_hex(&child_id)
                ),
                "the client span's own id, the caller's trace and flag"
            );
        });
    });
    assert!(spans.is_empty(), "unsampled: {spans:?}");
    assert_eq!(sent["tracestate"], "foo=1,bar=2", "passed on unchanged");
}

#[test]
fn a_sampled_span_passes_its_callers_tracestate_on() {
    use std::collections::HashMap;
    let caller = crate::traces::propagation::extract_map(&HashMap::from([
        (
            "traceparent".to_owned(),
            "00-12345678901234567890123456789012-1234567890123456-01".to_owned(),
        ),
        ("tracestate".to_owned(), "foo=1,bar=2".to_owned()),
    ]));
    let mut sent = HashMap::new();
    let spans = run(Sampler::ParentBasedAlwaysOn, || {
        caller.in_scope(|| {
            tracing::info_span!("handler")
                .in_scope(|| crate::traces::propagation::inject_map(&mut sent));
        });
    });
    assert_eq!(spans.len(), 1);
    let parent = crate::traces::ids::to_hex(&spans[0].2);
    assert_eq!(
        sent["traceparent"],
        format!("00-12345678901234567890123456789012-{parent}-01")
    );
    assert_eq!(sent["tracestate"], "foo=1,bar=2");
}

#[test]
fn chosen_baggage_entries_become_attributes_of_a_recorded_span() {
    let baggage = crate::traces::propagation::Baggage::new()
        .with("tenant.id", "acme")
        .with("secret", "s");
    crate::traces::propagation::set_baggage_attributes(&["tenant.id".to_owned()]);
    let spans = run(Sampler::AlwaysOn, || {
        let span = tracing::info_span!("HTTP request");
        crate::traces::propagation::record_baggage(&span, &baggage);
    });
    crate::traces::propagation::set_baggage_attributes(&[]);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].4, ["tenant.id"], "only the chosen key: {spans:?}");
}

/// `init()`'s own subscriber with JSON lines (which want every span, so a span the traces
/// filter leaves out still exists) and its default filters (`info`).
fn gated() -> tracing::Dispatch {
    crate::setup::subscriber::default_dispatch(crate::logs::LogFormat::Json)
}

#[test]
fn init_subscriber_passes_over_spans_its_traces_filter_leaves_out() {
    let spans = run_in(Sampler::AlwaysOn, &gated(), || {
        let outer = tracing::info_span!("outer");
        let _outer = outer.enter();
        let middle = tracing::debug_span!("middle");
        let _middle = middle.enter();
        tracing::info_span!("inner").in_scope(|| {});
    });
    let names: Vec<&str> = spans.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["inner", "outer"], "{spans:?}");
    assert_eq!(spans[0].1, spans[1].1, "one trace");
    assert_eq!(
        spans[0].3,
        Some(spans[1].2),
        "inner's parent is outer, past middle"
    );
}

#[test]
fn one_init_subscriber_follows_each_pipeline_started_under_it() {
    let dispatch = gated();
    let none = run_in(Sampler::AlwaysOff, &dispatch, || {
        tracing::info_span!("dropped").in_scope(|| {});
    });
    assert!(none.is_empty(), "{none:?}");
    let kept = run_in(Sampler::AlwaysOn, &dispatch, || {
        tracing::info_span!("kept").in_scope(|| {});
    });
    let names: Vec<&str> = kept.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["kept"]);
}
