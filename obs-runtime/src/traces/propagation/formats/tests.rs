//! B3 (single and multiple headers) and Jaeger, read and written; `OTEL_PROPAGATORS` read.

use std::collections::HashMap;

use super::*;

fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ids(remote: &Remote) -> (String, String, bool) {
    (
        to_hex(&remote.trace_id),
        to_hex(&remote.span_id),
        remote.sampled,
    )
}

const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const SPAN: &str = "e457b5a2e4d86bd1";

#[test]
fn b3_single_header_reads_ids_and_decision() {
    let read = |v: &str| extract(Propagator::B3, &carrier(&[("b3", v)])).map(|r| ids(&r));
    let want = |sampled| Some((TRACE.to_owned(), SPAN.to_owned(), sampled));
    assert_eq!(read(&format!("{TRACE}-{SPAN}-1")), want(true));
    assert_eq!(read(&format!("{TRACE}-{SPAN}-0")), want(false));
    assert_eq!(
        read(&format!("{TRACE}-{SPAN}-d")),
        want(true),
        "debug samples"
    );
    assert_eq!(
        read(&format!("{TRACE}-{SPAN}-1-05e3ac9a4f6e3b90")),
        want(true)
    );
    assert_eq!(
        read(&format!("{TRACE}-{SPAN}")),
        want(true),
        "deferred: taken as sampled"
    );
    // A 64-bit trace id is left-padded with zeros.
    let short = read(&format!("a57d3eff780f198e-{SPAN}-1")).unwrap();
    assert_eq!(short.0, "0000000000000000a57d3eff780f198e");
    for bad in [
        "0",
        "1",
        "d",
        &format!("{TRACE}-{SPAN}-x"),
        &format!("{TRACE}-0000000000000000-1"),
    ] {
        assert_eq!(read(bad), None, "{bad}");
    }
}

#[test]
fn b3_multi_headers_read_ids_decision_and_debug_flag() {
    let read =
        |pairs: &[(&str, &str)]| extract(Propagator::B3Multi, &carrier(pairs)).map(|r| ids(&r));
    let base = [("X-B3-TraceId", TRACE), ("X-B3-SpanId", SPAN)];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        read(&v)
    };
    assert!(with(&[("X-B3-Sampled", "1")]).unwrap().2);
    assert!(!with(&[("X-B3-Sampled", "0")]).unwrap().2);
    assert!(with(&[("X-B3-Sampled", "true")]).unwrap().2);
    assert!(
        with(&[("X-B3-Sampled", "0"), ("X-B3-Flags", "1")])
            .unwrap()
            .2
    );
    assert_eq!(with(&[("X-B3-Sampled", "maybe")]), None);
    let short = read(&[("x-b3-traceid", "a57d3eff780f198e"), ("x-b3-spanid", SPAN)]).unwrap();
    assert_eq!(short.0, "0000000000000000a57d3eff780f198e");
    assert_eq!(read(&[("X-B3-TraceId", TRACE)]), None, "no span id");
}

#[test]
fn jaeger_header_reads_ids_and_flags() {
    let read =
        |v: &str| extract(Propagator::Jaeger, &carrier(&[("uber-trace-id", v)])).map(|r| ids(&r));
    assert_eq!(
        read(&format!("{TRACE}:{SPAN}:0:1")),
        Some((TRACE.to_owned(), SPAN.to_owned(), true))
    );
    assert!(!read(&format!("{TRACE}:{SPAN}:0:0")).unwrap().2);
    assert!(read(&format!("{TRACE}%3A{SPAN}%3A0%3A3")).unwrap().2);
    // Leading zeros may be left out.
    let short = read("abc:def:0:1").unwrap();
    assert_eq!(
        (short.0.as_str(), short.1.as_str()),
        ("00000000000000000000000000000abc", "0000000000000def")
    );
    for bad in [
        "",
        "abc:def:0",
        "0:def:0:1",
        "abc:def:0:zz",
        &format!("{TRACE}0:{SPAN}:0:1"),
    ] {
        assert_eq!(read(bad), None, "{bad}");
    }
}

#[test]
fn each_format_writes_what_it_reads() {
    let remote = Remote {
        trace_id: hex_id::<16>(TRACE.as_bytes(), false).unwrap(),
        span_id: hex_id::<8>(SPAN.as_bytes(), false).unwrap(),
        sampled: false,
        trace_state: None,
    };
    for format in [
        Propagator::TraceContext,
        Propagator::B3,
        Propagator::B3Multi,
        Propagator::Jaeger,
    ] {
        let mut out = HashMap::new();
        inject(format, &remote, &mut |k, v| {
            out.insert(k.to_owned(), v);
        });
        assert_eq!(
            extract(format, &out).as_ref(),
            Some(&remote),
            "{format:?}: {out:?}"
        );
    }
}

#[test]
fn otel_propagators_lists_names_in_order() {
    use Propagator::*;
    assert_eq!(
        parse_list("tracecontext,baggage"),
        Ok(vec![TraceContext, Baggage])
    );
    assert_eq!(
        parse_list(" b3multi , B3,jaeger "),
        Ok(vec![B3Multi, B3, Jaeger])
    );
    assert_eq!(parse_list("none"), Ok(vec![]));
    let err = parse_list("tracecontext,xray").unwrap_err();
    assert!(err.contains("\"xray\"") && err.contains("b3multi"), "{err}");
    assert!(parse_list("none,b3").is_err());
}

#[test]
fn the_configured_list_round_trips() {
    use Propagator::*;
    // The default, before anything is set.
    assert_eq!(configured().collect::<Vec<_>>(), [TraceContext, Baggage]);
    let packed = CONFIGURED.load(Relaxed);
    set_configured(&[Jaeger, B3, TraceContext]);
    assert_eq!(configured().collect::<Vec<_>>(), [Jaeger, B3, TraceContext]);
    set_configured(&[]);
    assert_eq!(configured().count(), 0);
    CONFIGURED.store(packed, Relaxed);
}
