//! The worker's hold: closed unsampled spans by trace id until their local trace is decided.
//!
//! Lives on the pipeline's worker thread only (no lock). A trace whose local root arrived is
//! *pending*; the worker [settles](Holder::settle) it once every span that closed before the
//! root has reached the hold, and the next [`Holder::sweep`] decides it: a root that came in a
//! batch, once the threads' buffers were swept after it (spans closed on other threads wait
//! there); a root that a sweep of the buffers found, at the worker's next turn (a batch sent
//! before that sweep is received by then: the queue is in order, and a timeout means it was
//! empty). Spans that close after their trace was decided (a task the root did not wait for)
//! follow the decision, remembered for the last [`REMEMBERED`] traces; one whose decision was
//! forgotten starts a new hold, decided by its own bounds.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use super::{Bound, Reason, TailSampling, count, count_bound};
use crate::traces::buffer::Finished;
use crate::traces::record::{SpanRecord, SpanStatus, Value};
use crate::traces::settings::Sampler;
use crate::traces::span::ERROR_TYPE;

/// Set once a pipeline with tail sampling ran: its counters are on the page from then on.
pub(crate) static EVER_ON: AtomicBool = AtomicBool::new(false);

/// How many decided traces are remembered for their late spans: 16 bytes and a flag each.
const REMEMBERED: usize = 16_384;

/// One held local trace.
struct Held {
    spans: Vec<Finished>,
    /// When its first span arrived: `max_age` counts from here.
    since: Instant,
    /// Estimated bytes of its spans.
    bytes: usize,
    /// The reason a rule keeps it, as far as its spans so far tell.
    keep: Option<Reason>,
}

/// The hold of one pipeline's worker.
pub(crate) struct Holder {
    rules: TailSampling,
    /// Latency objectives by `FnMeta` address, in nanoseconds (empty unless `objectives`).
    thresholds: HashMap<usize, u64>,
    held: HashMap<[u8; 16], Held>,
    /// Held traces in the order they started: the oldest first, for `max_age` and
    /// `max_memory`. May name traces decided already (skipped).
    order: VecDeque<[u8; 16]>,
    /// Bytes held in all.
    bytes: usize,
    /// Held traces whose local root arrived.
    pending: Vec<[u8; 16]>,
    /// Pending traces whose spans have all arrived: the next sweep decides them.
    settled: Vec<[u8; 16]>,
    /// The latest decisions, for spans that arrive after them.
    decided: HashMap<[u8; 16], bool>,
    decided_order: VecDeque<[u8; 16]>,
    /// Spans ready to export: kept at their start, or of a trace kept.
    ready: Vec<Finished>,
}

impl Holder {
    pub(crate) fn new(rules: TailSampling) -> Self {
        EVER_ON.store(true, Relaxed);
        let thresholds = if rules.objectives {
            crate::metrics::catalog::latency_thresholds()
        } else {
            HashMap::new()
        };
        Holder {
            rules,
            thresholds,
            held: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            pending: Vec::new(),
            settled: Vec::new(),
            decided: HashMap::new(),
            decided_order: VecDeque::new(),
            ready: Vec::new(),
        }
    }

    /// Takes one closed span: ready at once if it was sampled at its start or its trace was
    /// kept, gone if its trace was dropped, else held.
    pub(crate) fn take(&mut self, mut span: Finished) {
        let trace = span.record.ids.trace_id;
        if span.record.ids.sampled {
            if span.record.local_root {
                count(self.start_reason(&trace));
            }
            self.ready.push(span);
            return;
        }
        if let Some(&keep) = self.decided.get(&trace) {
            if keep {
                span.record.ids.sampled = true;
                self.ready.push(span);
            }
            return;
        }
        let reason = self.verdict(&span);
        let bytes = estimate(&span.record);
        let root = span.record.local_root;
        let held = self.held.entry(trace).or_insert_with(|| {
            self.order.push_back(trace);
            Held {
                spans: Vec::new(),
                since: Instant::now(),
                bytes: 0,
                keep: None,
            }
        });
        held.keep = held.keep.or(reason);
        held.bytes += bytes;
        held.spans.push(span);
        let full = held.spans.len() >= self.rules.max_spans;
        self.bytes += bytes;
        if root {
            self.pending.push(trace);
        }
        if full {
            count_bound(Bound::Spans);
            self.decide(trace);
        }
        while self.bytes > self.rules.max_memory {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if self.held.contains_key(&oldest) {
                count_bound(Bound::Memory);
                self.decide(oldest);
            }
        }
    }

    /// The pending traces have all their spans (the caller says so): the next sweep decides
    /// them. Whether there were any.
    pub(crate) fn settle(&mut self) -> bool {
        let any = !self.pending.is_empty();
        self.settled.append(&mut self.pending);
        any
    }

    /// Decides the settled traces and those held longer than `max_age`.
    pub(crate) fn sweep(&mut self, now: Instant) {
        for trace in std::mem::take(&mut self.settled) {
            self.decide(trace);
        }
        while let Some(oldest) = self.order.front().copied() {
            match self.held.get(&oldest) {
                None => {
                    self.order.pop_front();
                }
                Some(held) if now.duration_since(held.since) >= self.rules.max_age => {
                    self.order.pop_front();
                    count_bound(Bound::Age);
                    self.decide(oldest);
                }
                Some(_) => break,
            }
        }
    }

    /// The pipeline stops: every held trace is decided on what it holds.
    pub(crate) fn decide_all(&mut self) {
        self.pending.clear();
        self.settled.clear();
        while let Some(trace) = self.order.pop_front() {
            if self.held.contains_key(&trace) {
                count_bound(Bound::Shutdown);
                self.decide(trace);
            }
        }
    }

    /// The spans ready to export, taken.
    pub(crate) fn ready(&mut self) -> Vec<Finished> {
        std::mem::take(&mut self.ready)
    }

    /// How many spans are ready.
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Keeps or drops a held trace whole, counts it and remembers it.
    fn decide(&mut self, trace: [u8; 16]) {
        let Some(held) = self.held.remove(&trace) else {
            return;
        };
        self.bytes -= held.bytes;
        let reason = held
            .keep
            .or_else(|| self.in_ratio(&trace).then_some(Reason::Ratio))
            .unwrap_or(Reason::Outcome);
        count(reason);
        let keep = reason.keeps();
        if keep {
            for mut span in held.spans {
                span.record.ids.sampled = true;
                self.ready.push(span);
            }
        }
        if self.decided_order.len() >= REMEMBERED
            && let Some(old) = self.decided_order.pop_front()
        {
            self.decided.remove(&old);
        }
        self.decided.insert(trace, keep);
        self.decided_order.push_back(trace);
    }

    /// Why one span keeps its trace, if it does.
    fn verdict(&self, span: &Finished) -> Option<Reason> {
        let record = &span.record;
        if self.rules.errors && failed(record) {
            return Some(Reason::Error);
        }
        if let Some(slower) = self.rules.slower
            && record.local_root
            && u128::from(span.duration_nanos()) > slower.as_nanos()
        {
            return Some(Reason::Slower);
        }
        let objective = record.function.and_then(|f| {
            self.thresholds
                .get(&(core::ptr::from_ref(f.function) as usize))
        });
        if let Some(&threshold) = objective
            && span.duration_nanos() > threshold
        {
            return Some(Reason::Objective);
        }
        None
    }

    /// Whether the trace id falls in `ratio=`, as `traceidratio` decides it.
    fn in_ratio(&self, trace: &[u8; 16]) -> bool {
        self.rules.ratio > 0.0 && Sampler::TraceIdRatio(self.rules.ratio).decide(None, *trace)
    }

    /// Why a trace sampled at its start was kept.
    fn start_reason(&self, trace: &[u8; 16]) -> Reason {
        if self.in_ratio(trace) {
            Reason::Ratio
        } else {
            Reason::Head
        }
    }
}

/// Whether a span failed: marked `ERROR`, and not by a cancelled call (`cancelled` is the
/// caller's choice, not a failure of the call).
fn failed(record: &SpanRecord) -> bool {
    matches!(record.status, SpanStatus::Error(_))
        && !record.fields.iter().any(|(name, value)| {
            *name == ERROR_TYPE && matches!(value, Value::Str(s) if s == "cancelled")
        })
}

/// The bytes a held span takes, roughly: its record, its fields' and events' text.
pub(super) fn estimate(record: &SpanRecord) -> usize {
    let text = |fields: &[(&str, Value)]| -> usize {
        fields
            .iter()
            .map(|(_, v)| match v {
                Value::Str(s) | Value::Debug(s) => s.len(),
                _ => 0,
            })
            .sum()
    };
    let field = size_of::<(&str, Value)>();
    size_of::<Finished>()
        + record.fields.capacity() * field
        + text(&record.fields)
        + record
            .events
            .iter()
            .map(|e| size_of_val(e) + e.name.len() + e.fields.len() * field + text(&e.fields))
            .sum::<usize>()
        + record.links.len() * size_of::<crate::traces::record::Link>()
        + record.name.as_ref().map_or(0, String::len)
}
