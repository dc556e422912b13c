//! The OTLP name, unit and attribute keys of a page family: chosen so that the standard
//! OTLP-to-Prometheus translation (Prometheus's `otlptranslator` and the collector's
//! `prometheus` exporters, with suffixes on: non-alphanumerics become `_`, the unit's
//! Prometheus word is added unless the name has it, monotonic sums end in `_total`) gives back
//! exactly the page's name and labels.
//!
//! - a counter drops its `_total`, which the translation adds back to a monotonic sum;
//! - a name ending in `_seconds` or `_bytes` gets the UCUM unit (`s`, `By`) the translation
//!   maps back to that word, which it then does not add twice;
//! - the HTTP layer's families take their semantic-convention names and attribute keys
//!   (`http.server.request.duration`, `http.request.method`), whose dots become the page's
//!   underscores.

use crate::exposition::MetricKind;

/// The HTTP layer's families: page name, semantic-convention name, unit.
const SEMANTIC: [(&str, &str, &str); 5] = [
    (
        "http_server_request_duration_seconds",
        "http.server.request.duration",
        "s",
    ),
    (
        "http_server_active_requests",
        "http.server.active_requests",
        "{request}",
    ),
    (
        "http_client_request_duration_seconds",
        "http.client.request.duration",
        "s",
    ),
    (
        "rpc_server_call_duration_seconds",
        "rpc.server.call.duration",
        "s",
    ),
    (
        "rpc_client_call_duration_seconds",
        "rpc.client.call.duration",
        "s",
    ),
];

/// The HTTP layer's attribute keys: page label, semantic-convention key.
const SEMANTIC_KEYS: [(&str, &str); 9] = [
    ("http_request_method", "http.request.method"),
    ("http_route", "http.route"),
    ("http_response_status_code", "http.response.status_code"),
    ("error_type", "error.type"),
    ("server_address", "server.address"),
    ("rpc_system", "rpc.system"),
    ("rpc_service", "rpc.service"),
    ("rpc_method", "rpc.method"),
    ("rpc_grpc_status_code", "rpc.grpc.status_code"),
];

/// The semantic-convention keys whose values are ints (the page writes every label as text).
pub(crate) fn is_int_key(key: &str) -> bool {
    matches!(key, "http.response.status_code" | "rpc.grpc.status_code")
}

/// The last word of a name, and the UCUM unit the translation turns back into it.
const UNITS: [(&str, &str); 2] = [("_seconds", "s"), ("_bytes", "By")];

/// The OTLP name and unit of the page family `name` of `kind`. The name is `name` itself
/// (less `_total` for a counter) for every family but the HTTP layer's, whose names have dots.
pub(crate) fn otlp_name(name: &str, kind: MetricKind) -> (&str, &'static str) {
    if let Some((_, otlp, unit)) = SEMANTIC.iter().find(|(page, _, _)| *page == name) {
        return (otlp, unit);
    }
    let base = match kind {
        MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
        MetricKind::Gauge | MetricKind::Histogram => name,
    };
    let unit = UNITS
        .iter()
        .find(|(word, _)| base.ends_with(word))
        .map_or("", |(_, unit)| unit);
    (base, unit)
}

/// The semantic-convention key of an HTTP family's label, else the label itself.
pub(crate) fn otlp_key(label: &str) -> &str {
    SEMANTIC_KEYS
        .iter()
        .find(|(page, _)| *page == label)
        .map_or(label, |(_, key)| key)
}

#[cfg(test)]
mod tests {
    use super::{otlp_key, otlp_name};
    use crate::exposition::MetricKind;

    #[test]
    fn names_and_units_that_translate_back() {
        let cases = [
            (
                "function_calls_total",
                MetricKind::Counter,
                "function_calls",
                "",
            ),
            (
                "function_duration_seconds",
                MetricKind::Histogram,
                "function_duration_seconds",
                "s",
            ),
            (
                "process_cpu_seconds_total",
                MetricKind::Counter,
                "process_cpu_seconds",
                "s",
            ),
            (
                "process_resident_memory_bytes",
                MetricKind::Gauge,
                "process_resident_memory_bytes",
                "By",
            ),
            (
                "function_calls_in_flight",
                MetricKind::Gauge,
                "function_calls_in_flight",
                "",
            ),
            (
                "http_server_request_duration_seconds",
                MetricKind::Histogram,
                "http.server.request.duration",
                "s",
            ),
            (
                "http_server_active_requests",
                MetricKind::Gauge,
                "http.server.active_requests",
                "{request}",
            ),
            (
                "http_client_request_duration_seconds",
                MetricKind::Histogram,
                "http.client.request.duration",
                "s",
            ),
        ];
        for (page, kind, otlp, unit) in cases {
            assert_eq!(otlp_name(page, kind), (otlp, unit), "{page}");
        }
        assert_eq!(otlp_key("http_request_method"), "http.request.method");
        assert_eq!(
            otlp_key("http_response_status_code"),
            "http.response.status_code"
        );
        assert_eq!(otlp_key("error_type"), "error.type");
        assert_eq!(otlp_key("rpc_grpc_status_code"), "rpc.grpc.status_code");
        assert_eq!(otlp_key("function"), "function");
    }
}
