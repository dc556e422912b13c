//! What obs's trace work does at each moment of a span, wherever the span's state is kept:
//! in a `Registry`'s extensions ([`layer`](super::layer), for users who compose their own
//! subscriber) or in the slots of `init()`'s own subscriber ([`slots`](super::slots)).
//!
//! - [`open`]: the sampling decision, made once where a trace starts (or taken from the
//!   remote caller, or from the parent), the span's ids, and for a sampled (or tail-held) span
//!   its [`SpanRecord`];
//! - [`add_event`]: an event inside a sampled span;
//! - [`finish`]: the record of a closed span, to its thread's buffer and the exporter.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use tracing::span::Attributes;
use tracing::{Event, Level};

use super::buffer::{Finished, GENERATION};
use super::context::{self, Opening};
use super::ids::{self, SpanContext, SpanIds};
use super::pipeline;
use super::record::{self, EventVisitor, SpanRecord, SpanStatus};
use super::tail::{Rules, Tally};
use crate::clock;

/// Where a new span's trace comes from.
struct Origin {
    trace_id: [u8; 16],
    parent: Option<[u8; 8]>,
    /// The parent's decision, `None` at the root of a trace.
    parent_sampled: Option<bool>,
    trace_state: Option<Arc<str>>,
    /// The local trace's tail-sampling hold, when the parent is held.
    tally: Option<Tally>,
    /// The parent is a span of this process.
    local_parent: bool,
}

impl Origin {
    /// The nearest local ancestor's context if there is one, else the remote caller's in
    /// scope, else a new trace.
    fn of(parent: Option<SpanContext>) -> Origin {
        if let Some(parent) = parent {
            return Origin {
                trace_id: parent.ids.trace_id,
                parent: Some(parent.ids.span_id),
                parent_sampled: Some(parent.ids.sampled),
                trace_state: parent.trace_state,
                tally: parent.tally,
                local_parent: true,
            };
        }
        match context::remote() {
            Some(remote) => Origin {
                trace_id: remote.trace_id,
                parent: Some(remote.span_id),
                parent_sampled: Some(remote.sampled),
                trace_state: remote.trace_state,
                tally: None,
                local_parent: false,
            },
            None => Origin {
                trace_id: ids::trace_id(),
                parent: None,
                parent_sampled: None,
                trace_state: None,
                tally: None,
                local_parent: false,
            },
        }
    }
}

/// A new span's context; when it is sampled or tail sampling holds it, its record goes to
/// `record` (an out-parameter: a returned `Option<SpanRecord>`, some 270 bytes, was copied
/// twice a span, record or not). `parent` is the context of the nearest ancestor the trace work gave ids (a span it never
/// saw, left out by `OBS_TRACES_FILTER` or opened while no exporter ran, is passed over);
/// `function` is the `#[traced]` function opening it, if any.
pub(crate) fn open(
    attrs: &Attributes<'_>,
    parent: Option<SpanContext>,
    function: Option<Opening>,
    record: &mut Option<SpanRecord>,
) -> SpanContext {
    let from = Origin::of(parent);
    let sampled = pipeline::sampler()
        .is_some_and(|sampler| sampler.decide(from.parent_sampled, from.trace_id));
    let ids = SpanIds {
        trace_id: from.trace_id,
        span_id: ids::span_id(),
        sampled,
    };
    // Tail sampling records every span: an unsampled one is held until its local trace is
    // decided (traces/tail), in its parent's hold, or a new one if it starts the local trace.
    // A child of a local span that is not held (opened before tail sampling was on) is not
    // held either: held alone, it would be a trace of its own, kept without its parent.
    let tally = if !sampled && pipeline::tail_on() {
        from.tally.or_else(|| {
            if from.local_parent {
                None
            } else {
                new_tally(ids.span_id)
            }
        })
    } else {
        None
    };
    if sampled || tally.is_some() {
        // No capacity up front: a `#[traced]` span declares seven fixed fields it leaves
        // without a value, so sizing by the callsite's fields allocated 336 bytes for a span
        // with no argument; the first recorded value allocates room for four.
        let mut new = SpanRecord::new(ids, from.parent, clock::raw(), 0);
        new.local_root = !from.local_parent;
        new.trace_state.clone_from(&from.trace_state);
        new.function = function;
        new.tally = tally;
        attrs.record(&mut new.visitor());
        *record = Some(new);
    }
    // An unsampled span keeps the caller's `tracestate` too: a service that records nothing
    // still passes it on unchanged.
    SpanContext {
        ids,
        trace_state: from.trace_state,
        tally: None,
    }
}

/// The hold of a new local trace whose root is the span `root`, under the active pipeline's
/// rules (none if it stopped meanwhile: the span is then not held, and dropped at its close).
pub(crate) fn new_tally(root: [u8; 8]) -> Option<Tally> {
    with_tail_rules(|rules| Tally::new(Arc::clone(rules), root))
}

/// `f` of the active pipeline's tail-sampling rules, if it has any. Each thread keeps them
/// beside the pipeline generation they belong to: reading them under the active pipeline's
/// lock wrote its reader count, a line every thread shares, twice per local trace.
fn with_tail_rules<R>(f: impl FnOnce(&Arc<Rules>) -> R) -> Option<R> {
    thread_local! {
        static RULES: RefCell<Option<(u64, Arc<Rules>)>> = const { RefCell::new(None) };
    }
    let generation = GENERATION.load(Relaxed);
    let mut f = Some(f);
    let cached = RULES.try_with(|cached| {
        let mut cached = cached.borrow_mut();
        if !matches!(&*cached, Some((of, _)) if *of == generation) {
            *cached = pipeline::tail_rules().map(|rules| (generation, rules));
        }
        cached.as_ref().map(|(_, rules)| f.take().map(|f| f(rules)))
    });
    match cached {
        Ok(out) => out.flatten(),
        // The thread's locals are gone (a span closed in a thread-local's destructor).
        Err(_) => pipeline::tail_rules().and_then(|rules| f.take().map(|f| f(&rules))),
    }
}

/// `event`, which happened inside the span `record` belongs to, as a span event.
pub(crate) fn add_event(record: &mut SpanRecord, event: &Event<'_>) {
    let mut visitor = EventVisitor::default();
    event.record(&mut visitor);
    let meta = event.metadata();
    let name = visitor
        .message
        .take()
        .unwrap_or_else(|| meta.name().to_owned());
    // As tracing-opentelemetry did: an ERROR event fails a span whose status is unset.
    if *meta.level() == Level::ERROR && record.status == SpanStatus::Unset {
        record.status = SpanStatus::Error(name.clone());
    }
    let mut fields = visitor.fields;
    fields.push((
        "level",
        record::Value::Str(meta.level().as_str().to_owned()),
    ));
    fields.push(("target", record::Value::Str(meta.target().to_owned())));
    record.events.push(record::Event {
        time: clock::raw(),
        name,
        fields,
    });
}

/// The record of a span that closed at `end` (a raw clock reading), handed to the exporter,
/// or to its local trace's hold when tail sampling holds it (an unsampled span no hold took,
/// its pipeline gone, is dropped).
pub(crate) fn finish(meta: &'static tracing::Metadata<'static>, mut record: SpanRecord, end: u64) {
    // Taken out of the record: a held span keeps no reference to the hold that keeps it.
    let tally = record.tally.take();
    if !record.ids.sampled && tally.is_none() {
        return;
    }
    if record.local_root && record.ids.sampled && pipeline::tail_on() {
        // A trace kept at its start: counted as tail sampling's decision too.
        with_tail_rules(|rules| rules.count_sampled_root(&record.ids.trace_id));
    }
    let span = Finished {
        meta,
        record,
        end,
        generation: GENERATION.load(Relaxed),
    };
    match tally {
        // A held span is exported when its trace is decided, by the pipeline active then:
        // stamped with the generation it closed in, a trace decided after the pipelines
        // changed was dropped by both as a stray.
        Some(tally) => tally.close(span, |mut span| {
            span.generation = GENERATION.load(Relaxed);
            pipeline::submit(span);
        }),
        None => pipeline::submit(span),
    }
}

/// The name a span is exported under when no `otel.name` renames it: the function's label
/// (`Type::method`) for a `#[traced]` span not named otherwise, else the callsite's. Log lines
/// name their span the same way.
pub(crate) fn exported_name(
    record: Option<&SpanRecord>,
    meta: &'static tracing::Metadata<'static>,
) -> &'static str {
    match record.and_then(|r| r.function) {
        Some(f) if f.names_span => f.function.function(),
        _ => meta.name(),
    }
}

/// Whether any span of the process ever kept a record (was sampled or held). Until one has,
/// entering, leaving and closing a span need not look it up: an unsampled trace costs the
/// subscriber's work and its own ids, not three lookups more per span. Set once, never
/// cleared: a count of the open records (the first version) was two writes per sampled span
/// to one cache line every thread shares, and with a second thread recording spans that line
/// went back and forth on every span (docs/design.md, "Spans on two threads").
static RECORDED: AtomicBool = AtomicBool::new(false);

/// A record was kept in some span's state.
#[inline]
pub(crate) fn record_kept() {
    // Read first: once set, the line is only ever read, and stays in every core's cache.
    if !RECORDED.load(Relaxed) {
        RECORDED.store(true, Relaxed);
    }
}

/// Whether any span may have a record. A span handed to another thread carries the
/// happens-before of its hand-over, so that thread sees the flag its record set.
#[inline]
pub(crate) fn any_record() -> bool {
    RECORDED.load(Relaxed)
}
