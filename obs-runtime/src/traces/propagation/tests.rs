//! Extraction and injection through the carriers: the header-level rules of W3C Trace
//! Context (names without regard to case, a duplicate `traceparent`, combined `tracestate`
//! headers), and propagation with no exporter at all (these tests install none).

use super::*;

const TRACE: &str = "12345678901234567890123456789012";
const TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";

fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, value.parse().unwrap());
    }
    map
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// What a request sent with `caller` in scope carries, with the default propagators.
fn sent_from(caller: &RemoteContext) -> HashMap<String, String> {
    let mut out = HashMap::new();
    caller.in_scope(|| {
        inject_in(
            [Propagator::TraceContext, Propagator::Baggage].into_iter(),
            &mut |k, v| {
                out.insert(k.to_owned(), v);
            },
        );
    });
    out
}

fn w3c(carrier: &dyn Carrier) -> RemoteContext {
    extract_in(
        [Propagator::TraceContext, Propagator::Baggage].into_iter(),
        carrier,
    )
}

#[test]
fn traceparent_header_name_is_case_insensitive() {
    for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
        assert_eq!(
            w3c(&map(&[(name, TP)])).trace_id().as_deref(),
            Some(TRACE),
            "{name}"
        );
    }
}

#[test]
fn traceparent_under_another_name_is_not_read() {
    for name in ["trace-parent", "trace.parent"] {
        assert!(!w3c(&map(&[(name, TP)])).is_valid(), "{name}");
    }
}

#[test]
fn traceparent_header_twice_restarts_the_trace() {
    let other = "00-12345678901234567890123456789011-1234567890123456-01";
    let caller = w3c(&headers(&[("traceparent", other), ("traceparent", TP)]));
    assert!(!caller.is_valid());
    assert!(
        sent_from(&caller).is_empty(),
        "nothing of either is passed on"
    );
}

#[test]
fn tracestate_headers_are_one_list_in_order() {
    let caller = w3c(&headers(&[
        ("traceparent", TP),
        ("tracestate", "foo=1,bar=2"),
        ("tracestate", "rojo=1,congo=2"),
        ("tracestate", "baz=3"),
    ]));
    assert_eq!(
        sent_from(&caller)["tracestate"],
        "foo=1,bar=2,rojo=1,congo=2,baz=3"
    );
}

#[test]
fn tracestate_header_name_is_case_insensitive() {
    for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
        let caller = w3c(&map(&[("traceparent", TP), (name, "foo=1")]));
        assert_eq!(sent_from(&caller)["tracestate"], "foo=1", "{name}");
    }
    for name in ["trace-state", "trace.state"] {
        let caller = w3c(&map(&[("traceparent", TP), (name, "foo=1")]));
        assert!(!sent_from(&caller).contains_key("tracestate"), "{name}");
    }
}

#[test]
fn tracestate_without_a_valid_traceparent_is_ignored() {
    for pairs in [
        &[("tracestate", "foo=1")][..],
        &[("tracestate", "foo=1,bar=2")],
        &[
            (
                "traceparent",
                "00-00000000000000000000000000000000-1234567890123456-01",
            ),
            ("tracestate", "foo=1"),
        ],
    ] {
        let caller = w3c(&map(pairs));
        assert!(!caller.is_valid());
        assert!(sent_from(&caller).is_empty(), "{pairs:?}");
    }
}

#[test]
fn tracestate_invalid_is_dropped_and_traceparent_kept() {
    let caller = w3c(&map(&[("traceparent", TP), ("tracestate", "foo=1,foo=2")]));
    let sent = sent_from(&caller);
    assert!(sent["traceparent"].contains(TRACE));
    assert!(!sent.contains_key("tracestate"));
}

#[test]
fn without_an_exporter_each_request_gets_a_new_parent_id_in_the_callers_trace() {
    for flags in ["01", "00"] {
        let incoming = format!("00-{TRACE}-1234567890123456-{flags}");
        let caller = w3c(&map(&[
            ("traceparent", &incoming),
            ("tracestate", "foo=1,bar=2"),
        ]));
        let mut parents = std::collections::HashSet::new();
        for _ in 0..3 {
            let sent = sent_from(&caller);
            let (trace, parent, sent_flags) =
                w3c::parse_traceparent(&sent["traceparent"]).expect("a valid traceparent");
            assert_eq!(to_hex(&trace), TRACE);
            assert_eq!(sent_flags, flags == "01");
            assert_ne!(to_hex(&parent), "1234567890123456", "a new parent id");
            parents.insert(parent);
            assert_eq!(sent["tracestate"], "foo=1,bar=2");
        }
        assert_eq!(parents.len(), 3, "one per request");
    }
}

#[test]
fn nothing_is_sent_without_a_caller_or_a_span() {
    assert!(sent_from(&RemoteContext::default()).is_empty());
}

#[test]
fn the_context_leaves_scope_with_its_closure_and_future() {
    let caller = w3c(&map(&[("traceparent", TP), ("baggage", "k=v")]));
    caller.in_scope(|| assert_eq!(baggage().get("k"), Some("v")));
    assert!(baggage().is_empty());
    let seen = futures_executor::block_on(
        caller.instrument(async { baggage().get("k").map(str::to_owned) }),
    );
    assert_eq!(seen.as_deref(), Some("v"));
    assert_eq!(context::remote(), None);
}

#[test]
fn extraction_takes_the_first_format_that_finds_a_context() {
    let carrier = map(&[
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ("traceparent", TP),
    ]);
    let b3_first = extract_in(
        [Propagator::B3, Propagator::TraceContext].into_iter(),
        &carrier,
    );
    assert_eq!(
        b3_first.trace_id().as_deref(),
        Some("80f198ee56343ba864fe8b2a57d3eff7")
    );
    let w3c_first = extract_in(
        [Propagator::TraceContext, Propagator::B3].into_iter(),
        &carrier,
    );
    assert_eq!(w3c_first.trace_id().as_deref(), Some(TRACE));
    // An invalid first format falls through to the next.
    let bad_b3 = map(&[("b3", "nonsense"), ("traceparent", TP)]);
    let fell = extract_in(
        [Propagator::B3, Propagator::TraceContext].into_iter(),
        &bad_b3,
    );
    assert_eq!(fell.trace_id().as_deref(), Some(TRACE));
    // None configured: nothing read.
    assert!(!extract_in(core::iter::empty(), &carrier).is_valid());
}

#[test]
fn injection_writes_every_configured_format() {
    let caller = w3c(&map(&[("traceparent", TP), ("baggage", "tenant.id=acme")]));
    let mut out = HashMap::new();
    caller.in_scope(|| {
        inject_in(
            [
                Propagator::TraceContext,
                Propagator::Baggage,
                Propagator::B3,
                Propagator::B3Multi,
                Propagator::Jaeger,
            ]
            .into_iter(),
            &mut |k, v| {
                out.insert(k, v);
            },
        );
    });
    let parent = &out["x-b3-spanid"];
    assert_eq!(out["traceparent"], format!("00-{TRACE}-{parent}-01"));
    assert_eq!(out["b3"], format!("{TRACE}-{parent}-1"));
    assert_eq!(out["x-b3-traceid"], TRACE);
    assert_eq!(out["x-b3-sampled"], "1");
    assert_eq!(out["uber-trace-id"], format!("{TRACE}:{parent}:0:1"));
    assert_eq!(out["baggage"], "tenant.id=acme");
}
