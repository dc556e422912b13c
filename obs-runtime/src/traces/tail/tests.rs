use std::time::{Duration, Instant};

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

fn meta() -> &'static tracing::Metadata<'static> {
    use tracing::callsite::Callsite as _;
    tracing::callsite! { name: "held", kind: tracing::metadata::Kind::SPAN, fields: [] }.metadata()
}

fn span(trace: u8, id: u8, root: bool, status: SpanStatus, nanos: u64) -> Finished {
    let ids = SpanIds {
        trace_id: [trace; 16],
        span_id: [id; 8],
        sampled: false,
    };
    let mut record = SpanRecord::new(ids, (!root).then_some([1; 8]), 0, 0);
    record.local_root = root;
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

fn ids(spans: &[Finished]) -> Vec<(u8, u8)> {
    spans
        .iter()
        .map(|s| (s.record.ids.trace_id[0], s.record.ids.span_id[0]))
        .collect()
}

#[test]
fn a_trace_is_decided_whole_when_its_root_is_swept_and_late_spans_follow() {
    let mut hold = Holder::new(TailSampling::new().errors());
    let failed = SpanStatus::Error("boom".into());
    hold.take(span(1, 2, false, failed.clone(), 0));
    hold.take(span(2, 2, false, SpanStatus::Unset, 0));
    hold.take(span(1, 1, true, SpanStatus::Unset, 0));
    hold.take(span(2, 1, true, SpanStatus::Unset, 0));
    assert!(hold.ready().is_empty(), "nothing leaves before the sweep");
    hold.sweep(Instant::now());
    assert!(hold.ready().is_empty(), "nor before the roots are settled");
    assert!(hold.settle());
    hold.sweep(Instant::now());
    let ready = hold.ready();
    assert_eq!(ids(&ready), [(1, 2), (1, 1)]);
    assert!(ready.iter().all(|s| s.record.ids.sampled));
    // Late spans: the kept trace's go out, the dropped one's do not.
    hold.take(span(1, 3, false, SpanStatus::Unset, 0));
    hold.take(span(2, 3, false, SpanStatus::Unset, 0));
    assert_eq!(ids(&hold.ready()), [(1, 3)]);
}

#[test]
fn a_cancelled_call_is_not_a_failure() {
    let mut hold = Holder::new(TailSampling::new().errors());
    let mut cancelled = span(1, 1, true, SpanStatus::Error("cancelled".into()), 0);
    cancelled.record.fields.push((
        crate::traces::span::ERROR_TYPE,
        Value::Str("cancelled".into()),
    ));
    hold.take(cancelled);
    hold.settle();
    hold.sweep(Instant::now());
    assert!(hold.ready().is_empty());
}

#[test]
fn a_slow_root_is_kept_and_a_fast_one_dropped() {
    let mut hold = Holder::new(TailSampling::new().slower(Duration::from_millis(1)));
    hold.take(span(1, 1, true, SpanStatus::Unset, 5_000_000));
    hold.take(span(2, 2, false, SpanStatus::Unset, 5_000_000));
    hold.take(span(2, 1, true, SpanStatus::Unset, 10));
    hold.settle();
    hold.sweep(Instant::now());
    assert_eq!(ids(&hold.ready()), [(1, 1)]);
}

#[test]
fn bounds_decide_at_once() {
    // Spans: the third span of a trace decides it, on what it holds (a failure: kept).
    let mut hold = Holder::new(TailSampling::new().errors().max_spans(3));
    hold.take(span(1, 2, false, SpanStatus::Error("e".into()), 0));
    hold.take(span(1, 3, false, SpanStatus::Unset, 0));
    assert!(hold.ready().is_empty());
    hold.take(span(1, 4, false, SpanStatus::Unset, 0));
    assert_eq!(ids(&hold.ready()), [(1, 2), (1, 3), (1, 4)]);
    // Memory: past the budget the oldest trace goes, dropped on what it holds.
    let one = hold::estimate(&span(1, 1, false, SpanStatus::Unset, 0).record);
    let mut hold = Holder::new(TailSampling::new().errors().max_memory(one * 2));
    hold.take(span(1, 1, false, SpanStatus::Unset, 0));
    hold.take(span(2, 1, false, SpanStatus::Error("e".into()), 0));
    hold.take(span(3, 1, false, SpanStatus::Unset, 0));
    hold.take(span(1, 2, false, SpanStatus::Error("late".into()), 0));
    assert!(
        hold.ready().is_empty(),
        "trace 1 was dropped, its late span too"
    );
    // Age: a trace without its root is decided once it is older than max_age.
    let mut hold = Holder::new(TailSampling::new().errors().max_age(Duration::from_secs(1)));
    hold.take(span(1, 2, false, SpanStatus::Error("e".into()), 0));
    hold.settle();
    hold.sweep(Instant::now());
    assert!(hold.ready().is_empty());
    hold.sweep(Instant::now() + Duration::from_secs(2));
    assert_eq!(ids(&hold.ready()), [(1, 2)]);
}

#[test]
fn the_ratio_keeps_the_traces_traceidratio_keeps() {
    let mut hold = Holder::new(TailSampling::new().ratio(0.5));
    let mut expected = Vec::new();
    for n in 0..64u8 {
        let mut s = span(n, 1, true, SpanStatus::Unset, 0);
        s.record.ids.trace_id[8] = n.wrapping_mul(37);
        if Sampler::TraceIdRatio(0.5).decide(None, s.record.ids.trace_id) {
            expected.push((n, 1));
        }
        hold.take(s);
    }
    hold.settle();
    hold.sweep(Instant::now());
    assert_eq!(ids(&hold.ready()), expected);
    assert!(!expected.is_empty() && expected.len() < 64);
}
