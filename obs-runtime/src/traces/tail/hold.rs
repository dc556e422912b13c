//! The hold: a local trace's unsampled spans, kept in the trace itself until its local root
//! closes.
//!
//! Every span of a held trace carries a [`Tally`], the trace's shared hold: the local root
//! makes it, each child takes its parent's. A span that closes puts its record there, on the
//! thread it closed on; the root's close decides the trace, on that thread, and either hands
//! the whole trace to the exporter or frees it. A `tracing` span holds its parent open, so
//! every child in the process has closed by then: nothing waits for a sweep, and a dropped
//! trace (99 % of them at `ratio=0.01`) never reaches the exporter's queue or its worker.
//!
//! The bounds are checked where a span is held: `max_spans` and `max_memory` (all held traces
//! together, one count the threads add to in batches) decide the trace whose span passes
//! them, on what it holds; `max_age` too, and the exporter's worker also decides, at each
//! schedule delay, the traces held longer (a root that stays open while its children went
//! quiet), and every held trace when it stops, after retiring its rules (a trace listed under
//! them later is decided at its next span or by the next pipeline's sweep). For those sweeps
//! a trace is listed, once it holds a span, in its thread's list of open traces. Spans that
//! close after their trace was decided follow the decision.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{
    AtomicBool, AtomicIsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::{Arc, Mutex};

use super::{Bound, Reason, TailSampling, count, count_bound};
use crate::clock;
use crate::sync::lock;
use crate::traces::buffer::Finished;
use crate::traces::record::{SpanRecord, SpanStatus, Value};
use crate::traces::settings::Sampler;
use crate::traces::span::ERROR_TYPE;
use crate::traces::stats::DROPPED_SHUTDOWN;

/// Set once a pipeline with tail sampling ran: its counters are on the page from then on.
pub(crate) static EVER_ON: AtomicBool = AtomicBool::new(false);

/// Estimated bytes held by every held trace together, for `max_memory`, less what the
/// threads have not added yet ([`held_bytes`]); it may read below zero for a while (a trace
/// held by one thread, decided by another).
static HELD_BYTES: AtomicIsize = AtomicIsize::new(0);

/// What a thread adds to or takes from [`HELD_BYTES`] at once: its changes wait in the thread
/// until they come to this much either way. One shared count written per held span was a
/// cache line every recording thread took from the others on every span (docs/design.md,
/// "Spans on two threads"); so `max_memory` is checked against a total that may be off by
/// this much per thread.
const HELD_BATCH: isize = 64 << 10;

/// A thread's changes to [`HELD_BYTES`] not added yet; added when the thread ends.
struct HeldHere(Cell<isize>);

impl Drop for HeldHere {
    fn drop(&mut self) {
        HELD_BYTES.fetch_add(self.0.get(), Relaxed);
    }
}

thread_local! {
    static HELD_HERE: HeldHere = const { HeldHere(Cell::new(0)) };
}

/// Changes the held bytes by `delta`; returns the total as this thread sees it.
fn held_bytes(delta: isize) -> usize {
    let total = HELD_HERE
        .try_with(|here| {
            let mine = here.0.get() + delta;
            if mine.unsigned_abs() >= HELD_BATCH.unsigned_abs() {
                here.0.set(0);
                HELD_BYTES.fetch_add(mine, Relaxed) + mine
            } else {
                here.0.set(mine);
                HELD_BYTES.load(Relaxed) + mine
            }
        })
        // The thread's locals are gone (it is ending): straight to the shared count.
        .unwrap_or_else(|_| HELD_BYTES.fetch_add(delta, Relaxed) + delta);
    usize::try_from(total).unwrap_or(0)
}

/// `bytes` as a change to the held bytes (a span's estimate never comes near `isize::MAX`).
fn signed(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}

/// A pipeline's rules, with what they need read once: the latency objectives.
#[derive(Debug)]
pub(crate) struct Rules {
    tail: TailSampling,
    /// Latency objectives by `FnMeta` address, in nanoseconds (empty unless `objectives`).
    thresholds: HashMap<usize, u64>,
    /// Set when their pipeline's worker stops: a trace still held under them is decided at
    /// its next span's close or by any later pipeline's sweep, not left to a worker that
    /// is gone.
    retired: AtomicBool,
}

impl Rules {
    pub(crate) fn new(tail: TailSampling) -> Arc<Rules> {
        EVER_ON.store(true, Relaxed);
        let thresholds = if tail.objectives {
            crate::metrics::catalog::latency_thresholds()
        } else {
            HashMap::new()
        };
        Arc::new(Rules {
            tail,
            thresholds,
            retired: AtomicBool::new(false),
        })
    }

    /// Their pipeline stopped (the worker calls this before its last sweep).
    pub(crate) fn retire(&self) {
        self.retired.store(true, Release);
    }

    fn retired(&self) -> bool {
        self.retired.load(Acquire)
    }

    /// Why one span keeps its trace, if it does; `root`: it is the trace's local root.
    fn verdict(&self, span: &Finished, root: bool) -> Option<Reason> {
        let record = &span.record;
        if self.tail.errors && failed(record) {
            return Some(Reason::Error);
        }
        if let Some(slower) = self.tail.slower
            && root
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
        self.tail.ratio > 0.0 && Sampler::TraceIdRatio(self.tail.ratio).decide(None, *trace)
    }

    /// Counts a local root that was sampled at its start (never held): `ratio` if its trace
    /// id is in the ratio, else `head` (the sampler or the caller kept it).
    pub(crate) fn count_sampled_root(&self, trace: &[u8; 16]) {
        count(if self.in_ratio(trace) {
            Reason::Ratio
        } else {
            Reason::Head
        });
    }
}

/// A local trace's hold, shared by its open spans (an `Arc`: a clone per span).
#[derive(Clone)]
pub(crate) struct Tally(Arc<Shared>);

struct Shared {
    rules: Arc<Rules>,
    /// The span whose close decides the trace: its local root.
    root: [u8; 8],
    /// Set with the decision, read without the lock by the sweeps' listing.
    decided: AtomicBool,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    spans: Vec<Finished>,
    /// Raw clock reading at which its first span was held: `max_age` counts from here.
    since: u64,
    /// Estimated bytes of its spans.
    bytes: usize,
    /// The reason a rule keeps it, as far as its spans so far tell.
    keep: Option<Reason>,
    /// The decision, once made: later spans follow it.
    decided: Option<bool>,
}

impl PartialEq for Tally {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Tally {}

impl core::fmt::Debug for Tally {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tally")
            .field("root", &self.0.root)
            .field("decided", &self.0.decided.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl Tally {
    /// The hold of a new local trace whose root is the span `root`.
    pub(crate) fn new(rules: Arc<Rules>, root: [u8; 8]) -> Tally {
        Tally(Arc::new(Shared {
            rules,
            root,
            decided: AtomicBool::new(false),
            held: Mutex::new(Held::default()),
        }))
    }

    /// Whether `span_id` is the span whose close decides this trace.
    pub(crate) fn is_root(&self, span_id: [u8; 8]) -> bool {
        self.0.root == span_id
    }

    /// Takes the closed unsampled `span` of this trace: held, or, when it is the root or
    /// passes a bound, the trace is decided and `export` gets every span of a kept trace
    /// (marked sampled). A span of a decided trace follows the decision.
    pub(crate) fn close(&self, mut span: Finished, mut export: impl FnMut(Finished)) {
        let shared = &*self.0;
        let rules = &*shared.rules;
        let root = self.is_root(span.record.ids.span_id);
        let mut held = lock(&shared.held);
        if let Some(keep) = held.decided {
            drop(held);
            if keep {
                span.record.ids.sampled = true;
                export(span);
            }
            return;
        }
        held.keep = held.keep.or_else(|| rules.verdict(&span, root));
        let first = held.spans.is_empty();
        if first {
            held.since = span.end;
        }
        let bytes = estimate(&span.record);
        held.bytes += bytes;
        let total = held_bytes(signed(bytes));
        let end = span.end;
        held.spans.push(span);
        let bound = if root {
            None
        } else if rules.retired() {
            Some(Bound::Shutdown)
        } else if held.spans.len() >= rules.tail.max_spans {
            Some(Bound::Spans)
        } else if total > rules.tail.max_memory {
            Some(Bound::Memory)
        } else if nanos_between(held.since, end) >= rules.tail.max_age.as_nanos() {
            Some(Bound::Age)
        } else {
            None
        };
        if let Some(bound) = bound {
            count_bound(bound);
        }
        let kept = if root || bound.is_some() {
            shared.decide(&mut held)
        } else {
            Vec::new()
        };
        drop(held);
        kept.into_iter().for_each(export);
        // Listed for the worker's sweeps once it holds a span and is still open.
        if first && !root && bound.is_none() {
            open::list(self);
        }
    }

    /// Decides the trace if it is held past its `max_age` at raw clock reading `now`, or
    /// whatever its age when `all` (the pipeline stops); `export` gets a kept trace's spans.
    fn sweep(&self, now: u64, all: bool, export: &mut impl FnMut(Finished)) {
        let shared = &*self.0;
        let mut held = lock(&shared.held);
        if held.decided.is_some() {
            return;
        }
        let bound = if all {
            Bound::Shutdown
        } else if !held.spans.is_empty()
            && nanos_between(held.since, now) >= shared.rules.tail.max_age.as_nanos()
        {
            Bound::Age
        } else {
            return;
        };
        count_bound(bound);
        let kept = shared.decide(&mut held);
        drop(held);
        kept.into_iter().for_each(export);
    }
}

impl Drop for Shared {
    /// A hold that goes undecided (its root's record was dropped without a close: a scoped
    /// subscriber dropped with the span open, say) gives its bytes back, or `max_memory`
    /// would shrink for good, and its spans are counted as dropped at shutdown, not lost
    /// without a trace on `/metrics`.
    fn drop(&mut self) {
        let held = self
            .held
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held_bytes(-signed(held.bytes));
        DROPPED_SHUTDOWN.fetch_add(held.spans.len() as u64, Relaxed);
    }
}

impl Shared {
    /// Keeps or drops the held spans whole and counts the decision; returns the kept ones,
    /// marked sampled. `held` is this trace's, locked.
    fn decide(&self, held: &mut Held) -> Vec<Finished> {
        let trace = held
            .spans
            .last()
            .map(|s| s.record.ids.trace_id)
            .unwrap_or_default();
        let reason = held
            .keep
            .or_else(|| self.rules.in_ratio(&trace).then_some(Reason::Ratio))
            .unwrap_or(Reason::Outcome);
        count(reason);
        let keep = reason.keeps();
        held.decided = Some(keep);
        self.decided.store(true, Relaxed);
        held_bytes(-signed(held.bytes));
        held.bytes = 0;
        let mut spans = std::mem::take(&mut held.spans);
        if keep {
            for span in &mut spans {
                span.record.ids.sampled = true;
            }
            spans
        } else {
            Vec::new()
        }
    }
}

/// Decides the traces held under `rules` longer than their `max_age`, or every one when
/// `all`; `export` gets the spans of the kept ones. Called by the exporter's worker whose
/// rules they are. Traces held under a stopped pipeline's rules (listed after its last
/// sweep) are decided too, whatever their age.
pub(crate) fn sweep(rules: &Arc<Rules>, all: bool, mut export: impl FnMut(Finished)) {
    let now = clock::raw();
    for tally in open::undecided() {
        let theirs = &tally.0.rules;
        if Arc::ptr_eq(theirs, rules) {
            tally.sweep(now, all, &mut export);
        } else if theirs.retired() {
            tally.sweep(now, true, &mut export);
        }
    }
}

/// Nanoseconds from raw clock reading `from` to `to` (0 if `to` is earlier).
fn nanos_between(from: u64, to: u64) -> u128 {
    if to <= from {
        return 0;
    }
    u128::from(clock::clock().delta_as_nanos(from, to))
}

/// Each thread's list of the traces it started holding, for the worker's sweeps.
mod open {
    use std::sync::{Arc, Mutex};

    use super::Tally;
    use crate::sync::lock;
    use std::sync::atomic::Ordering::Relaxed;

    /// One thread's list. Decided traces are pruned when the list has doubled since.
    #[derive(Default)]
    struct List {
        traces: Mutex<Vec<Tally>>,
    }

    /// Every thread's list.
    static LISTS: Mutex<Vec<Arc<List>>> = Mutex::new(Vec::new());

    thread_local! {
        static MINE: Arc<List> = {
            let list = Arc::new(List::default());
            lock(&LISTS).push(Arc::clone(&list));
            list
        };
    }

    /// Lists `tally` in this thread's list (not at all once the thread's locals are gone:
    /// the trace is then decided by its root or its other bounds only).
    pub(super) fn list(tally: &Tally) {
        let _ = MINE.try_with(|list| {
            let mut traces = lock(&list.traces);
            if traces.len() == traces.capacity() && traces.len() >= 64 {
                traces.retain(|t| !t.0.decided.load(Relaxed));
                // Room to double before the next pruning: amortised, a few words a trace.
                let room = traces.len().max(64);
                traces.reserve(room);
            }
            traces.push(tally.clone());
        });
    }

    /// The undecided traces of every list (pruning the decided and the lists of threads that
    /// ended with nothing open).
    pub(super) fn undecided() -> Vec<Tally> {
        let mut out = Vec::new();
        lock(&LISTS).retain(|list| {
            let mut traces = lock(&list.traces);
            traces.retain(|t| !t.0.decided.load(Relaxed));
            out.extend(traces.iter().cloned());
            Arc::strong_count(list) > 1 || !traces.is_empty()
        });
        out
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
