//! What each fuzz target checks, one function per target, so that the targets
//! (`fuzz_targets/*.rs`) and the replay of committed crashes (`tests/regressions.rs`, on the
//! stable toolchain) run exactly the same code on an input.
//!
//! Every function takes the raw bytes libFuzzer hands over and panics only when obs breaks a
//! promise on them: a panic inside obs, or an assertion below.

mod attribute;
mod env;
mod labels;

pub use attribute::attribute;
pub use env::env;
pub use labels::labels;

/// The targets, by the name of their folder under `corpus/` and `regressions/`.
pub const TARGETS: [(&str, fn(&[u8])); 6] = [
    ("attribute", attribute),
    ("http_head", http_head),
    ("accept", accept),
    ("traceparent", traceparent),
    ("env", env),
    ("labels", labels),
];

/// Arbitrary bytes as an HTTP request head: parsed or refused, never a panic. What is parsed
/// is a method and a path taken from the head itself.
pub fn http_head(data: &[u8]) {
    if let Some((method, path)) = obs_runtime::__private::fuzz::parse_request_head(data) {
        let head = String::from_utf8_lossy(data);
        assert!(
            head.contains(method) && head.contains(path),
            "{method} {path} not in the head"
        );
    }
}

/// Arbitrary bytes as the `Accept` header of a `GET /metrics`: the page's format is chosen,
/// never a panic, and only a header naming OpenMetrics (or protobuf) gets it.
pub fn accept(data: &[u8]) {
    let mut head = b"GET /metrics HTTP/1.1\r\nAccept: ".to_vec();
    head.extend_from_slice(data);
    if let Some(true) = obs_runtime::__private::fuzz::request_wants_openmetrics(&head) {
        let value = String::from_utf8_lossy(data).to_ascii_lowercase();
        assert!(
            value.contains("application/openmetrics-text"),
            "OpenMetrics for {value:?}"
        );
    }
    if let Some(true) = obs_runtime::__private::fuzz::request_wants_protobuf(&head) {
        let value = String::from_utf8_lossy(data).to_ascii_lowercase();
        assert!(
            value.contains("application/vnd.google.protobuf") && value.contains("delimited"),
            "protobuf for {value:?}"
        );
    }
}

/// Arbitrary `traceparent` and `tracestate` values (the first line, then the rest) through
/// `propagation::extract_map`: a context or none, never a panic. A context it accepts carries
/// the trace id written in the header, 32 hex digits, not all zero; the `tracestate` it then
/// passes on (`inject_map`) is a valid one made of the header's own members.
pub fn traceparent(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (traceparent, tracestate) = text.split_once('\n').unwrap_or((&text, ""));
    let mut headers = std::collections::HashMap::new();
    headers.insert("traceparent".to_owned(), traceparent.to_owned());
    if !tracestate.is_empty() {
        headers.insert("TraceState".to_owned(), tracestate.to_owned());
    }
    let caller = obs_runtime::propagation::extract_map(&headers);
    let _ = caller.is_sampled();
    if caller.is_valid() {
        let id = caller.trace_id().expect("a valid context has a trace id");
        assert_eq!(id.len(), 32, "trace id {id:?}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "trace id {id:?}");
        assert!(
            id.bytes().any(|b| b != b'0'),
            "the all-zero trace id is invalid"
        );
        // The id is the header's own 32 digits: a shorter one (opentelemetry's propagator
        // padded it with zeros, `regressions/traceparent/short_trace_id`) is refused.
        assert!(
            traceparent.contains(&id),
            "trace id {id:?} is not the one in {traceparent:?}"
        );
    }
    // What is passed on: a `tracestate` only with a valid context, and only a valid one.
    let mut sent = std::collections::HashMap::new();
    caller.in_scope(|| obs_runtime::propagation::inject_map(&mut sent));
    if let Some(state) = sent.get("tracestate") {
        assert!(caller.is_valid(), "tracestate {state:?} sent without a context");
        tracestate_is_valid(state, tracestate);
    }
}

/// A propagated `tracestate`: at most 512 bytes and 32 members, each `key=value` by the
/// grammar, each key once, each member one of the header's own.
fn tracestate_is_valid(state: &str, header: &str) {
    assert!(state.len() <= 512, "{} bytes", state.len());
    let members: Vec<&str> = state.split(',').collect();
    assert!(members.len() <= 32, "{} members", members.len());
    let mut keys = std::collections::HashSet::new();
    for member in members {
        let (key, value) = member.split_once('=').expect("key=value");
        assert!(keys.insert(key), "key {key:?} twice in {state:?}");
        let key_ok = !key.is_empty()
            && key.len() <= 256
            && key
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'));
        assert!(key_ok, "key {key:?}");
        let value_ok = !value.is_empty()
            && value.len() <= 256
            && !value.ends_with(' ')
            && value
                .bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=');
        assert!(value_ok, "value {value:?}");
        assert!(header.contains(member), "{member:?} not in {header:?}");
    }
}
