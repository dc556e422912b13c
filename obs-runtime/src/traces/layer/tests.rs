//! The layer under a subscriber of its own, with a pipeline whose sink keeps what it gets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;

use super::super::context;
use super::super::pipeline::{self, Item, Sink};
use super::super::settings::{Sampler, TraceConfig, TraceSettings};
use super::*;

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
    let subscriber = tracing_subscriber::registry().with(ObsLayer);
    tracing::subscriber::with_default(subscriber, f);
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
                with_extensions(&outer, |e| ids_of_mut(e).map(|i| i.trace_id)).flatten()
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
        let ids = with_extensions(&root, |e| {
            assert!(!has_record(e), "no record for an unsampled span");
            ids_of_mut(e)
        })
        .flatten()
        .expect("ids kept");
        assert!(!ids.sampled);
        let child = tracing::info_span!(parent: &root, "child");
        let child_ids = with_extensions(&child, ids_of_mut).flatten().unwrap();
        assert_eq!(
            child_ids.trace_id, ids.trace_id,
            "the child stays in the trace"
        );
        assert!(!child_ids.sampled, "and follows its decision");
        child.in_scope(|| assert_eq!(context::current_sampled(), None));
    });
    assert!(spans.is_empty(), "{spans:?}");
}
