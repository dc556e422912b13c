use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::*;
use crate::traces::buffer::Finished;
use crate::traces::ids::SpanIds;
use crate::traces::record::{SpanRecord, SpanStatus, Value};
use crate::traces::settings::Sampler;

#[test]
fn the_list_parses_every_item_and_keeps_the_default_bounds() {
    let rules: TailSampling = " errors, slower=250ms ,objectives,ratio=0.01"
        .parse()
        .unwrap();
    assert_eq!(
        rules,
        TailSampling::new()
            .errors()
            .slower(Duration::from_millis(250))
            .objectives()
            .ratio(0.01)
    );
    assert_eq!(rules.max_spans, 1000);
    let bounds: TailSampling = "max_spans=3,max_age=2s,max_memory=1MiB,slower=1.5s"
        .parse()
        .unwrap();
    assert_eq!(bounds.max_spans, 3);
    assert_eq!(bounds.max_age, Duration::from_secs(2));
    assert_eq!(bounds.max_memory, 1 << 20);
    assert_eq!(bounds.slower, Some(Duration::from_millis(1500)));
    assert!(!bounds.errors);
    assert_eq!("".parse::<TailSampling>(), Ok(TailSampling::new()));
}

#[test]
fn a_bad_item_is_named_with_what_is_expected() {
    for (list, item) in [
        ("errors,failures", "`failures`: unknown item"),
        ("slower=fast", "`slower=fast`"),
        ("slower", "`slower` needs a duration"),
        ("slower=250", "`slower=250`: expected a unit"),
        ("slower=0ms", "above 0"),
        ("ratio=2", "`ratio=2`: the ratio must be from 0.0 to 1.0"),
        ("ratio=-0.1", "`ratio=-0.1`"),
        (
            "max_spans=0",
            "`max_spans=0`: expected a whole number above 0",
        ),
        ("max_memory=1TB", "`max_memory=1TB`: expected a unit"),
    ] {
        let err = list.parse::<TailSampling>().unwrap_err();
        assert!(err.contains(item), "{list}: {err}");
        assert!(err.contains("expected a comma list of errors"), "{err}");
    }
    assert!(TailSampling::new().ratio(1.5).check().is_err());
    assert!(TailSampling::new().max_spans(0).check().is_err());
}

/// Held by a test while it sweeps or retires rules: a sweep decides the traces of every
/// retired rules, so two such tests at once would take each other's.
pub(crate) fn sweeping() -> MutexGuard<'static, ()> {
    static SWEEPING: Mutex<()> = Mutex::new(());
    SWEEPING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn meta() -> &'static tracing::Metadata<'static> {
    use tracing::callsite::Callsite as _;
    tracing::callsite! { name: "held", kind: tracing::metadata::Kind::SPAN, fields: [] }.metadata()
}

/// A closed unsampled span `id` of trace `trace` that ran `nanos`.
fn span(trace: u8, id: u8, status: SpanStatus, nanos: u64) -> Finished {
    let ids = SpanIds {
        trace_id: [trace; 16],
        span_id: [id; 8],
        sampled: false,
    };
    let mut record = SpanRecord::new(ids, (id != 1).then_some([1; 8]), 0, 0);
    record.local_root = id == 1;
    record.status = status;
    let clock = crate::clock::clock();
    // A raw end reading `nanos` after the start, as the clock converts it.
    let mut end = 0;
    while clock.delta_as_nanos(0, end) < nanos {
        end = end.saturating_mul(2).max(1);
    }
    Finished {
        meta: meta(),
        record,
        end,
        generation: 1,
    }
}

/// A local trace held under `rules`, its root the span of id 1, and what it exported.
struct Trace {
    tally: Tally,
    exported: Vec<(u8, u8)>,
}

impl Trace {
    fn new(rules: &Arc<Rules>) -> Trace {
        Trace {
            tally: Tally::new(Arc::clone(rules), [1; 8]),
            exported: Vec::new(),
        }
    }

    /// Closes `span` into this trace's hold; returns what was exported then.
    fn close(&mut self, span: Finished) -> Vec<(u8, u8)> {
        let mut now = Vec::new();
        self.tally.close(span, |s| {
            assert!(s.record.ids.sampled, "exported spans are marked sampled");
            now.push((s.record.ids.trace_id[0], s.record.ids.span_id[0]));
        });
        self.exported.extend(now.iter().copied());
        now
    }
}

#[test]
fn a_trace_is_decided_whole_when_its_root_closes_and_late_spans_follow() {
    let rules = Rules::new(TailSampling::new().errors());
    let failed = SpanStatus::Error("boom".into());
    let mut kept = Trace::new(&rules);
    let mut dropped = Trace::new(&rules);
    assert!(kept.close(span(1, 2, failed.clone(), 0)).is_empty());
    assert!(dropped.close(span(2, 2, SpanStatus::Unset, 0)).is_empty());
    assert!(
        kept.close(span(1, 3, SpanStatus::Unset, 0)).is_empty(),
        "nothing leaves before the root"
    );
    assert_eq!(
        kept.close(span(1, 1, SpanStatus::Unset, 0)),
        [(1, 2), (1, 3), (1, 1)]
    );
    assert!(dropped.close(span(2, 1, SpanStatus::Unset, 0)).is_empty());
    // Late spans: the kept trace's go out, the dropped one's do not.
    assert_eq!(kept.close(span(1, 4, SpanStatus::Unset, 0)), [(1, 4)]);
    assert!(dropped.close(span(2, 4, failed, 0)).is_empty());
}

#[test]
fn a_cancelled_call_is_not_a_failure() {
    let rules = Rules::new(TailSampling::new().errors());
    let mut trace = Trace::new(&rules);
    let mut cancelled = span(1, 1, SpanStatus::Error("cancelled".into()), 0);
    cancelled.record.fields.push((
        crate::traces::span::ERROR_TYPE,
        Value::Str("cancelled".into()),
    ));
    assert!(trace.close(cancelled).is_empty());
}

#[test]
fn a_slow_root_is_kept_and_a_fast_one_dropped() {
    let rules = Rules::new(TailSampling::new().slower(Duration::from_millis(1)));
    let mut slow = Trace::new(&rules);
    assert_eq!(
        slow.close(span(1, 1, SpanStatus::Unset, 5_000_000)),
        [(1, 1)]
    );
    // A slow child does not make the trace slow: only the root's duration counts.
    let mut fast = Trace::new(&rules);
    assert!(
        fast.close(span(2, 2, SpanStatus::Unset, 5_000_000))
            .is_empty()
    );
    assert!(fast.close(span(2, 1, SpanStatus::Unset, 10)).is_empty());
}

#[test]
fn max_spans_decides_at_once_on_what_is_held() {
    let rules = Rules::new(TailSampling::new().errors().max_spans(3));
    let mut trace = Trace::new(&rules);
    assert!(
        trace
            .close(span(1, 2, SpanStatus::Error("e".into()), 0))
            .is_empty()
    );
    assert!(trace.close(span(1, 3, SpanStatus::Unset, 0)).is_empty());
    assert_eq!(
        trace.close(span(1, 4, SpanStatus::Unset, 0)),
        [(1, 2), (1, 3), (1, 4)]
    );
    assert_eq!(
        trace.close(span(1, 1, SpanStatus::Unset, 0)),
        [(1, 1)],
        "the root follows"
    );
}

#[test]
fn max_memory_decides_the_trace_whose_span_passes_it() {
    // One byte: any held span passes it (whatever other tests hold meanwhile).
    let rules = Rules::new(TailSampling::new().errors().max_memory(1));
    let mut failed = Trace::new(&rules);
    assert_eq!(
        failed.close(span(1, 2, SpanStatus::Error("e".into()), 0)),
        [(1, 2)]
    );
    let mut ok = Trace::new(&rules);
    assert!(ok.close(span(2, 2, SpanStatus::Unset, 0)).is_empty());
    assert!(
        ok.close(span(2, 3, SpanStatus::Error("late".into()), 0))
            .is_empty(),
        "dropped at once, its late span too"
    );
}

/// What a sweep under `rules` (of every held trace when `all`) exported: (trace, span).
fn swept(rules: &Arc<Rules>, all: bool) -> Vec<(u8, u8)> {
    let mut swept = Vec::new();
    sweep(rules, all, |s| {
        swept.push((s.record.ids.trace_id[0], s.record.ids.span_id[0]));
    });
    swept
}

#[test]
fn max_age_is_checked_where_spans_close_and_by_the_workers_sweep() {
    let _turn = sweeping();
    let rules = Rules::new(TailSampling::new().errors().max_age(Duration::from_secs(1)));
    // Two seconds between a trace's first held span and its next: decided at the second.
    let mut trace = Trace::new(&rules);
    assert!(
        trace
            .close(span(1, 2, SpanStatus::Error("e".into()), 0))
            .is_empty()
    );
    assert_eq!(
        trace.close(span(1, 3, SpanStatus::Unset, 2_000_000_000)),
        [(1, 2), (1, 3)]
    );
    // A trace whose spans went quiet: the sweep decides it once it is old enough (its span
    // closed at the clock's start, long ago), not a younger one, and only under its rules.
    let mut old = Trace::new(&rules);
    assert!(
        old.close(span(2, 2, SpanStatus::Error("e".into()), 0))
            .is_empty()
    );
    let other_rules = Rules::new(TailSampling::new().errors().max_age(Duration::from_secs(1)));
    let mut other = Trace::new(&other_rules);
    assert!(
        other
            .close(span(3, 2, SpanStatus::Error("e".into()), 0))
            .is_empty()
    );
    let mut young = Trace::new(&rules);
    let mut now = span(4, 2, SpanStatus::Error("e".into()), 0);
    now.end = crate::clock::raw();
    assert!(young.close(now).is_empty());
    assert_eq!(swept(&rules, false), [(2, 2)]);
    // The pipeline stops: every trace held under its rules is decided, whatever its age.
    assert_eq!(swept(&rules, true), [(4, 2)]);
    assert_eq!(
        old.close(span(2, 1, SpanStatus::Unset, 0)),
        [(2, 1)],
        "the root follows"
    );
    drop(other);
    // A stopped pipeline's rules (its worker retires them before its last sweep): a trace
    // held under them is decided at its next span's close, or by a later pipeline's sweep
    // whatever its age.
    let stopped = Rules::new(TailSampling::new().errors());
    let mut next_close = Trace::new(&stopped);
    let mut quiet = Trace::new(&stopped);
    for (trace, id) in [(&mut next_close, 5), (&mut quiet, 6)] {
        let mut young = span(id, 2, SpanStatus::Error("e".into()), 0);
        young.end = crate::clock::raw();
        assert!(trace.close(young).is_empty());
    }
    stopped.retire();
    assert_eq!(
        next_close.close(span(5, 3, SpanStatus::Unset, 0)),
        [(5, 2), (5, 3)]
    );
    let got = swept(&rules, false);
    // Decided by that sweep: its next span follows alone.
    assert!(got.iter().all(|&s| s == (6, 2)), "{got:?}");
    assert_eq!(quiet.close(span(6, 3, SpanStatus::Unset, 0)), [(6, 3)]);
}

#[test]
fn the_ratio_keeps_the_traces_traceidratio_keeps() {
    let rules = Rules::new(TailSampling::new().ratio(0.5));
    let mut expected = Vec::new();
    let mut got = Vec::new();
    for n in 0..64u8 {
        let mut s = span(n, 1, SpanStatus::Unset, 0);
        s.record.ids.trace_id[8] = n.wrapping_mul(37);
        if Sampler::TraceIdRatio(0.5).decide(None, s.record.ids.trace_id) {
            expected.push((n, 1));
        }
        got.extend(Trace::new(&rules).close(s));
    }
    assert_eq!(got, expected);
    assert!(!expected.is_empty() && expected.len() < 64);
}
