//! Tail sampling (`OBS_TRACES_TAIL`) as a backend sees it: whole local traces kept by how
//! they went, others dropped whole, the ratio the same traces `traceidratio` keeps, the bounds
//! deciding at once, the decisions counted on the page, and exemplars that name exported
//! traces only.

// Counts are whole numbers, written and read back exactly.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)]

#[path = "../../tests/common/mod.rs"]
mod common;
mod otlp_receiver;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use otlp_receiver::{Receiver, Span, one_at_a_time};

/// A call that fails when asked to, after `ms` milliseconds; its objective is 1 s.
///
/// Thresholds in these tests sit a second away from what the fast calls take: on a loaded CI
/// machine a call that sleeps 0 ms has been seen to take 150 ms.
#[obs_runtime::traced]
#[obs_runtime::timed(objective(latency = "1s", percentile = 99))]
fn leaf(fail: bool, ms: u64) -> Result<u32, String> {
    std::thread::sleep(Duration::from_millis(ms));
    if fail { Err("no stock".into()) } else { Ok(1) }
}

/// A request: three leaves, the last on another thread inside the request's span; `fail`
/// fails the one on the other thread. Returns the trace id, sampled or not.
#[obs_runtime::traced]
fn handle(fail: bool, leaf_ms: u64, own_ms: u64) -> String {
    let _ = leaf(false, leaf_ms);
    let _ = leaf(false, leaf_ms);
    let span = tracing::Span::current();
    // The other thread records under this thread's subscriber (a scoped one, in one test).
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::scope(|s| {
        s.spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || span.in_scope(|| leaf(fail, leaf_ms)))
        });
    });
    std::thread::sleep(Duration::from_millis(own_ms));
    trace_id()
}

/// The current trace id, from the `traceparent` obs would send (sampled or not).
fn trace_id() -> String {
    let mut headers = HashMap::new();
    obs_runtime::propagation::inject_map(&mut headers);
    headers["traceparent"].split('-').nth(1).unwrap().to_owned()
}

/// Installs obs exporting to `receiver` with `OBS_TRACES_TAIL=tail`, runs `work`, and drops
/// the guard (which flushes). Returns what `work` returned.
fn with_tail<R>(receiver: &Receiver, tail: &str, work: impl FnOnce() -> R) -> R {
    with_tail_under(receiver, tail, Subscriber::Own, work)
}

/// Which subscriber records the spans.
#[derive(Clone, Copy, Debug)]
enum Subscriber {
    /// The one `init()` (here `install()`) sets.
    Own,
    /// A `tracing_subscriber::Registry` with `obs_runtime::trace_layer()`, as a user who
    /// composes their own has.
    Registry,
}

/// [`with_tail`] under `subscriber`.
fn with_tail_under<R>(
    receiver: &Receiver,
    tail: &str,
    subscriber: Subscriber,
    work: impl FnOnce() -> R,
) -> R {
    use tracing_subscriber::layer::SubscriberExt as _;
    let mut vars = receiver.env();
    vars.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()));
    vars.push(("OBS_TRACES_TAIL".into(), tail.into()));
    let builder = obs_runtime::Builder::new()
        .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
        .without_server()
        .log_format(obs_runtime::LogFormat::Off)
        .flush_timeout(Duration::from_secs(5));
    match subscriber {
        Subscriber::Own => {
            let obs = builder.install().expect("install");
            let out = work();
            drop(obs);
            out
        }
        Subscriber::Registry => {
            let obs = builder.without_subscriber().install().expect("install");
            let registry = tracing_subscriber::Registry::default().with(obs_runtime::trace_layer());
            let out = tracing::subscriber::with_default(registry, work);
            drop(obs);
            out
        }
    }
}

/// `obs_traces_sampled_total{decision,reason}` now.
fn decided(decision: &str, reason: &str) -> f64 {
    common::Page::parse(&obs_runtime::render())
        .value(
            "obs_traces_sampled_total",
            &[("decision", decision), ("reason", reason)],
        )
        .unwrap_or(0.0)
}

/// `obs_traces_tail_bounded_total{bound}` now.
fn bounded(bound: &str) -> f64 {
    common::Page::parse(&obs_runtime::render())
        .value("obs_traces_tail_bounded_total", &[("bound", bound)])
        .unwrap_or(0.0)
}

/// The exported spans by trace id.
fn by_trace(spans: &[Span]) -> HashMap<String, Vec<&Span>> {
    let mut out: HashMap<String, Vec<&Span>> = HashMap::new();
    for span in spans {
        out.entry(span.trace_id.clone()).or_default().push(span);
    }
    out
}

#[test]
fn a_failing_calls_whole_trace_is_kept_and_fast_ok_traces_are_dropped_whole() {
    failing_trace_kept_whole(Subscriber::Own);
}

#[test]
fn the_same_under_a_registry_with_the_trace_layer() {
    failing_trace_kept_whole(Subscriber::Registry);
}

/// Ten ok requests and a failed one (its failure on another thread) under `subscriber`:
/// only the failed trace is exported, whole.
fn failing_trace_kept_whole(subscriber: Subscriber) {
    let _turn = one_at_a_time();
    let receiver = Receiver::grpc();
    let (kept0, dropped0) = (decided("kept", "error"), decided("dropped", "outcome"));
    let (ok, failed) = with_tail_under(&receiver, "errors", subscriber, || {
        let ok: Vec<String> = (0..10).map(|_| handle(false, 0, 0)).collect();
        let failed = handle(true, 0, 0);
        (ok, failed)
    });
    let spans = receiver.spans();
    let traces = by_trace(&spans);
    let kept = &traces[&failed];
    let names: Vec<&str> = kept.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(kept.len(), 4, "the request and its three leaves: {names:?}");
    assert_eq!(names.iter().filter(|n| **n == "leaf").count(), 3);
    assert_eq!(kept.iter().filter(|s| s.status_code == 2).count(), 1);
    let root = kept.iter().find(|s| s.name == "handle").unwrap();
    assert!(root.parent_id.is_none());
    assert!(
        kept.iter()
            .filter(|s| s.name == "leaf")
            .all(|s| s.parent_id.as_ref() == Some(&root.span_id)),
        "the leaf on the other thread is in the trace too"
    );
    for trace in &ok {
        assert!(
            !traces.contains_key(trace),
            "a fast ok trace is dropped whole"
        );
    }
    assert_eq!(traces.len(), 1, "{:?}", traces.keys());
    assert_eq!(decided("kept", "error") - kept0, 1.0);
    assert_eq!(decided("dropped", "outcome") - dropped0, 10.0);
}

/// Runs five `fast` requests and one `late` one with `OBS_TRACES_TAIL=tail`: only the late
/// one's trace is exported, whole, and counted as kept for `reason`.
fn only_the_late_trace_is_kept(
    tail: &str,
    reason: &str,
    fast: fn() -> String,
    late: fn() -> String,
) {
    let _turn = one_at_a_time();
    let receiver = Receiver::grpc();
    let before = decided("kept", reason);
    let (fast, late) = with_tail(&receiver, tail, || {
        let fast: Vec<String> = (0..5).map(|_| fast()).collect();
        (fast, late())
    });
    let spans = receiver.spans();
    let traces = by_trace(&spans);
    assert_eq!(traces.keys().collect::<Vec<_>>(), [&late]);
    assert_eq!(traces[&late].len(), 4);
    assert!(fast.iter().all(|t| !traces.contains_key(t)));
    assert_eq!(decided("kept", reason) - before, 1.0);
}

#[test]
fn slower_keeps_slow_roots_only() {
    only_the_late_trace_is_kept(
        "slower=1s",
        "slower",
        || handle(false, 0, 0),
        || handle(false, 0, 1200),
    );
}

#[test]
fn objectives_keep_a_trace_in_which_a_call_ran_past_its_objective() {
    // Leaves of 1.2 s are past their 1 s objective; a root of 1.2 s has none, and is not
    // judged.
    only_the_late_trace_is_kept(
        "objectives",
        "objective",
        || handle(false, 0, 1200),
        || handle(false, 1200, 0),
    );
}

/// OpenTelemetry's `traceidratio` test on a trace id in hex, written here from the
/// specification: the last 8 bytes, shifted right by one, below `ratio * 2^63`.
fn traceidratio_keeps(trace_id: &str, ratio: f64) -> bool {
    let low = u64::from_str_radix(&trace_id[16..], 16).unwrap();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    (low >> 1) < bound
}

#[test]
fn the_ratio_keeps_about_its_share_and_the_same_traces_as_traceidratio() {
    let _turn = one_at_a_time();
    let receiver = Receiver::grpc();
    let before = decided("kept", "ratio");
    let all: Vec<String> = with_tail(&receiver, "errors,ratio=0.25", || {
        (0..400).map(|_| handle(false, 0, 0)).collect()
    });
    let spans = receiver.spans();
    let traces = by_trace(&spans);
    let expected: BTreeSet<&String> = all.iter().filter(|t| traceidratio_keeps(t, 0.25)).collect();
    let got: BTreeSet<&String> = traces.keys().collect();
    assert_eq!(got, expected);
    assert!(
        (60..=140).contains(&got.len()),
        "about 100 of 400: {}",
        got.len()
    );
    assert!(traces.values().all(|spans| spans.len() == 4), "kept whole");
    assert_eq!(decided("kept", "ratio") - before, got.len() as f64);
}

#[test]
fn bounds_decide_at_once_and_are_counted() {
    let _turn = one_at_a_time();
    let receiver = Receiver::grpc();
    let spans0 = bounded("spans");
    let age0 = bounded("age");
    let (long_failed, long_ok, old) = with_tail(&receiver, "errors,max_spans=5,max_age=1s", || {
        // 20 leaves under one root: decided at its fifth span, on what it holds.
        let long = |fail: bool| {
            let span = tracing::info_span!("batch");
            span.in_scope(|| {
                let _ = leaf(fail, 0);
                for _ in 0..19 {
                    let _ = leaf(false, 0);
                }
                trace_id()
            })
        };
        let long_failed = long(true);
        let long_ok = long(false);
        // A root open longer than max_age: its failed leaf's trace is decided without it.
        let old = tracing::info_span!("slow_root").in_scope(|| {
            let _ = leaf(true, 0);
            std::thread::sleep(Duration::from_millis(2500));
            trace_id()
        });
        (long_failed, long_ok, old)
    });
    let spans = receiver.spans();
    let traces = by_trace(&spans);
    assert_eq!(
        traces[&long_failed].len(),
        21,
        "kept at once, late spans follow"
    );
    assert!(
        !traces.contains_key(&long_ok),
        "dropped at once, late spans too"
    );
    assert_eq!(bounded("spans") - spans0, 2.0);
    assert_eq!(bounded("age") - age0, 1.0);
    let old = &traces[&old];
    assert!(
        old.iter().any(|s| s.name == "slow_root"),
        "the root follows the decision"
    );
    assert_eq!(old.len(), 2);
}

#[obs_runtime::traced]
#[obs_runtime::timed]
fn exemplified(fail: bool) -> Result<String, String> {
    if fail {
        Err(trace_id())
    } else {
        Ok(trace_id())
    }
}

#[test]
fn exemplars_on_the_openmetrics_page_name_exported_traces_only() {
    let _turn = one_at_a_time();
    let receiver = Receiver::grpc();
    let all: Vec<String> = with_tail(&receiver, "errors,ratio=0.3", || {
        (0..200)
            .map(|i| match exemplified(i % 7 == 0) {
                Ok(t) | Err(t) => t,
            })
            .collect()
    });
    let exported: BTreeSet<String> = receiver.spans().into_iter().map(|s| s.trace_id).collect();
    assert!(exported.len() < all.len(), "some traces were dropped");
    let page = obs_runtime::render_openmetrics();
    let named: Vec<&str> = page
        .lines()
        .filter(|l| l.contains(r#"function="exemplified""#))
        .filter_map(|l| l.split(r#"trace_id=""#).nth(1))
        .map(|rest| &rest[..32])
        .collect();
    assert!(!named.is_empty(), "exemplars are kept:\n{page}");
    for trace in named {
        assert!(
            exported.contains(trace),
            "exemplar names {trace}, not exported"
        );
    }
}

/// A call inside a span opened before tail sampling was on is not held: held alone, it would
/// be a local trace of its own, kept for its failure and exported without its parent. Once
/// that span closes, a failed request is kept whole as usual.
#[test]
fn a_span_opened_before_tail_sampling_keeps_its_calls_out_of_the_holds() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let _turn = one_at_a_time();
    let receiver = Receiver::grpc();
    let install = |vars: Vec<(String, String)>| {
        let mut vars = [receiver.env(), vars].concat();
        vars.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()));
        obs_runtime::Builder::new()
            .env(move |var| vars.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
            .without_server()
            .without_subscriber()
            .log_format(obs_runtime::LogFormat::Off)
            .flush_timeout(Duration::from_secs(5))
            .install()
            .expect("install")
    };
    let kept0 = decided("kept", "error");
    let registry = tracing_subscriber::Registry::default().with(obs_runtime::trace_layer());
    let (inside, after) = tracing::subscriber::with_default(registry, || {
        let head_only = install(vec![("OTEL_TRACES_SAMPLER".into(), "always_off".into())]);
        let outer = tracing::info_span!("outer");
        let entered = outer.enter();
        drop(head_only);
        let tail = install(vec![("OBS_TRACES_TAIL".into(), "errors".into())]);
        let inside = match exemplified(true) {
            Ok(t) | Err(t) => t,
        };
        drop(entered);
        drop(outer);
        let after = handle(true, 0, 0);
        drop(tail);
        (inside, after)
    });
    let spans = receiver.spans();
    let traces = by_trace(&spans);
    assert!(
        !traces.contains_key(&inside),
        "the call inside was held alone"
    );
    assert_eq!(traces.keys().collect::<Vec<_>>(), [&after]);
    assert_eq!(traces[&after].len(), 4);
    assert_eq!(decided("kept", "error") - kept0, 1.0);
}
