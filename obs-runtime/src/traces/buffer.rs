//! Finished spans on their way to the exporter: batched per thread, handed over a batch at a
//! time.
//!
//! A closing span goes into its thread's buffer (an uncontended lock: the exporter takes it
//! only when it collects). A buffer that reaches the batch size is sent to the active
//! pipeline's bounded queue in one `try_send`, not one send per span; a full queue drops the
//! batch and counts it. Spans of a thread that goes quiet are collected by the exporter's
//! worker at each schedule delay and at shutdown, so none waits for its thread.
//!
//! Every span carries the generation of the pipeline that was active when it closed: a
//! pipeline exports its own spans only, and spans of a pipeline that already stopped are
//! counted as dropped at shutdown.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use tracing::Metadata;

use super::record::SpanRecord;
use super::stats::DROPPED_SHUTDOWN;
use crate::sync::lock;

/// A closed sampled span.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) meta: &'static Metadata<'static>,
    pub(crate) record: SpanRecord,
    /// Raw clock reading.
    pub(crate) end: u64,
    pub(crate) generation: u64,
}

impl Finished {
    /// The name exporters show: `otel.name` if recorded, else the function's label
    /// (`Type::method`) for a `#[traced]` span not named otherwise, else the callsite's.
    pub(crate) fn name(&self) -> &str {
        if let Some(name) = &self.record.name {
            return name;
        }
        match self.record.function {
            Some(f) if f.names_span => f.function.function(),
            _ => self.meta.name(),
        }
    }

    /// How long the span was open, in nanoseconds.
    pub(crate) fn duration_nanos(&self) -> u64 {
        crate::clock::clock().delta_as_nanos(self.record.start, self.end)
    }
}

/// The generation of the active pipeline; 0 while none runs.
pub(crate) static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The active pipeline's batch size.
pub(crate) static BATCH: AtomicUsize = AtomicUsize::new(512);

/// One thread's finished spans.
#[derive(Default)]
struct Local {
    spans: Mutex<Vec<Finished>>,
}

/// Every thread's buffer, for the worker to collect.
static LOCALS: Mutex<Vec<Arc<Local>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Local> = {
        let local = Arc::new(Local::default());
        lock(&LOCALS).push(Arc::clone(&local));
        local
    };
}

/// Adds a closed span to this thread's buffer; `send` gets the buffer once it holds a batch,
/// or the span alone when the thread's locals are gone (a span closed in a thread-local's
/// destructor).
pub(crate) fn push(span: Finished, send: impl FnOnce(Vec<Finished>)) {
    let batch = BATCH.load(Relaxed).max(1);
    let mut span = Some(span);
    let full = LOCAL.try_with(|local| {
        let mut spans = lock(&local.spans);
        if spans.capacity() == 0 {
            spans.reserve_exact(batch);
        }
        spans.extend(span.take());
        (spans.len() >= batch).then(|| std::mem::replace(&mut *spans, Vec::with_capacity(batch)))
    });
    match (full, span) {
        (Ok(Some(full)), _) => send(full),
        (Err(_), Some(alone)) => send(vec![alone]),
        _ => {}
    }
}

/// Takes every buffered span of `generation` from every thread's buffer. Spans of other live
/// pipelines stay; spans of no live pipeline (`is_live` says) are counted as dropped.
pub(crate) fn collect(generation: u64, is_live: impl Fn(u64) -> bool) -> Vec<Finished> {
    let mut out = Vec::new();
    let mut locals = lock(&LOCALS);
    locals.retain(|local| {
        let mut spans = lock(&local.spans);
        if !spans.is_empty() {
            let mut dropped = 0u64;
            let mut kept = Vec::new();
            for span in spans.drain(..) {
                if span.generation == generation {
                    out.push(span);
                } else if is_live(span.generation) {
                    kept.push(span);
                } else {
                    dropped += 1;
                }
            }
            DROPPED_SHUTDOWN.fetch_add(dropped, Relaxed);
            spans.extend(kept);
        }
        // A buffer only this list holds belongs to a thread that ended, and is empty of
        // spans to keep once they are taken.
        let ended = Arc::strong_count(local) == 1;
        !(ended && spans.is_empty())
    });
    out
}
