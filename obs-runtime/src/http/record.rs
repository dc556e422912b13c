//! One request being measured: what it will record when it ends, however it ends.
//!
//! A [`Record`] is made when the request comes in (or goes out), moves from the response
//! future into the response body, and records once: at the body's last frame, at an error, at
//! a panic of the inner service, or on drop (the request was cancelled: the client hung up,
//! or the caller dropped the future).

use core::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::metrics::catalog::Objective;
use crate::metrics::family::{self, Def, Hist, LabelFamily};
use crate::status::{Status, StatusLabel};

/// The value of `http_route` for requests that matched no route (a fallback, a 404 of the
/// router, a scanner's guesses): one series for all of them, never the raw path. The span
/// then carries no `http.route` and is named after the method alone, as the semantic
/// conventions ask.
pub const UNMATCHED: &str = "unmatched";

/// The value of `error_type` (and the span's `error.type`) of a request whose response body
/// was dropped before its end: the client hung up, or the caller gave up. Not a failure
/// unless the layer says so ([`ServerLayer::cancelled_is_failure`](super::ServerLayer::cancelled_is_failure)).
pub const CANCELLED: &str = Status::CANCELLED.as_str();

/// `error_type` of a request whose inner service panicked.
pub const PANIC: &str = Status::PANIC.as_str();

/// `error_type` of a request whose inner service returned an error instead of a response.
pub const OTHER: &str = "_OTHER";

/// The `error_type` label: empty on success, as the semantic conventions leave `error.type`
/// out when nothing failed.
const ERROR_TYPE: StatusLabel = StatusLabel::new(
    "error_type",
    [
        "",
        OTHER,
        PANIC,
        CANCELLED,
        Status::TIMEOUT.as_str(),
        Status::BLOCKED.as_str(),
    ],
);

pub(crate) const SERVER: Def = Def {
    name: "http_server_request_duration_seconds",
    help: "Duration of HTTP server requests, to the end of the response body, in seconds.",
    labels: &[
        "http_request_method",
        "http_route",
        "http_response_status_code",
        "error_type",
    ],
    by: &["http_request_method", "http_route"],
    status: ERROR_TYPE,
};

pub(crate) const ACTIVE: Def = Def {
    name: "http_server_active_requests",
    help: "HTTP server requests being served now, response bodies included.",
    labels: &["http_request_method", "http_route"],
    by: &["http_request_method", "http_route"],
    status: StatusLabel::DEFAULT,
};

pub(crate) const CLIENT: Def = Def {
    name: "http_client_request_duration_seconds",
    help: "Duration of HTTP client requests, to the end of the response body (to its headers through ReqwestMiddleware), in seconds.",
    labels: &[
        "http_request_method",
        "server_address",
        "http_response_status_code",
        "error_type",
    ],
    by: &["http_request_method", "server_address"],
    status: ERROR_TYPE,
};

const RPC_LABELS: &[&str] = &[
    "rpc_system",
    "rpc_service",
    "rpc_method",
    "rpc_grpc_status_code",
];

/// The gRPC code of each built-in status: `ok` is OK, `error` UNKNOWN, `cancelled` CANCELLED,
/// `timeout` `DEADLINE_EXCEEDED`, `blocked` `PERMISSION_DENIED`; `panic` stays.
const RPC_STATUS: StatusLabel =
    StatusLabel::new("rpc_grpc_status_code", ["0", "2", PANIC, "1", "4", "7"]);

pub(crate) const RPC_SERVER: Def = Def {
    name: "rpc_server_call_duration_seconds",
    help: "Duration of gRPC calls served, to the end of the response, in seconds.",
    labels: RPC_LABELS,
    by: &["rpc_service", "rpc_method"],
    status: RPC_STATUS,
};

/// OTel's `rpc.client.call.duration`.
pub(crate) const RPC_CLIENT: Def = Def {
    name: "rpc_client_call_duration_seconds",
    help: "Duration of gRPC calls made, to the end of the response, in seconds.",
    labels: RPC_LABELS,
    by: &["rpc_service", "rpc_method"],
    status: RPC_STATUS,
};

/// gRPC codes that are not a failure of the server (the caller's mistake, or the caller gave
/// up), as the semantic conventions list for server spans: all but `UNKNOWN` (2),
/// `DEADLINE_EXCEEDED` (4), `UNIMPLEMENTED` (12), `INTERNAL` (13), `UNAVAILABLE` (14) and
/// `DATA_LOSS` (15).
pub(crate) const RPC_NOT_FAILURES: [&str; 10] =
    ["1", "3", "5", "6", "7", "8", "9", "10", "11", "16"];

/// On a client every code but OK is a failure (the semantic conventions' rule for client
/// spans), except CANCELLED: the caller gave up, not a failure unless the layer says so. A
/// CANCELLED the server sends cannot be told from it in the series, so it counts the same.
const RPC_CLIENT_NOT_FAILURES: [&str; 1] = ["1"];

/// What the layer was built with, shared by every request through it.
#[derive(Debug)]
pub(crate) struct Policy {
    /// Status codes that are failures (server: 5xx; client: 4xx and 5xx), less those declared
    /// not to be.
    pub(crate) client: bool,
    pub(crate) not_failures: Vec<u16>,
    pub(crate) failures: Vec<u16>,
    pub(crate) cancelled_is_failure: bool,
}

impl Policy {
    pub(crate) fn is_failure(&self, code: u16) -> bool {
        if self.failures.contains(&code) {
            return true;
        }
        if self.not_failures.contains(&code) {
            return false;
        }
        code >= 500 || (self.client && code >= 400)
    }
}

/// The bounds of the layer's histograms: the HTTP semantic conventions' advised buckets for
/// `http.server.request.duration` and `http.client.request.duration`, which dashboards built
/// for those conventions expect (not `#[timed]`'s default, which starts at 10 µs).
pub(crate) static BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The latency objective moved up to the next bucket bound, so the rules can read it.
pub(crate) fn on_a_bound(objective: Objective) -> Objective {
    match objective {
        Objective::Latency { threshold, percent } => {
            let bound = BUCKETS
                .iter()
                .copied()
                .find(|b| *b >= threshold - 1e-12)
                .unwrap_or(BUCKETS[BUCKETS.len() - 1]);
            Objective::Latency {
                threshold: bound,
                percent,
            }
        }
        success @ Objective::Success { .. } => success,
    }
}

/// The HTTP families of a layer, made (or found) when it is built.
#[derive(Clone, Copy)]
pub(crate) struct Families {
    pub(crate) http: &'static LabelFamily<Hist>,
    pub(crate) active: Option<&'static LabelFamily<AtomicI64>>,
}

impl Families {
    pub(crate) fn server(objectives: &[Objective], cancelled_is_failure: bool) -> Self {
        Families {
            http: http_family(SERVER, objectives, cancelled_is_failure),
            active: Some(family::gauge(ACTIVE)),
        }
    }

    pub(crate) fn client(objectives: &[Objective], cancelled_is_failure: bool) -> Self {
        Families {
            http: http_family(CLIENT, objectives, cancelled_is_failure),
            active: None,
        }
    }
}

/// The HTTP histogram `def`, with the layer's objectives (on bucket bounds) and, unless the
/// layer counts it as a failure, `cancelled` declared to the catalog.
fn http_family(
    def: Def,
    objectives: &[Objective],
    cancelled_is_failure: bool,
) -> &'static LabelFamily<Hist> {
    let objectives: Vec<Objective> = objectives.iter().copied().map(on_a_bound).collect();
    let http = family::histogram(def, &BUCKETS);
    let cancelled: &[&'static str] = if cancelled_is_failure {
        &[]
    } else {
        &[CANCELLED]
    };
    http.declare(&objectives, cancelled);
    http
}

/// A layer's gRPC family, registered (with the codes its rules do not count as failures) at
/// the first gRPC call through the layer: a service that only speaks HTTP gets no `rpc_`
/// family on its page, in its rules or on its dashboard. Once made, finding it is one atomic
/// load.
pub(crate) struct LazyRpc {
    def: Def,
    not_failures: &'static [&'static str],
    family: OnceLock<&'static LabelFamily<Hist>>,
}

impl LazyRpc {
    pub(crate) fn server() -> Self {
        LazyRpc {
            def: RPC_SERVER,
            not_failures: &RPC_NOT_FAILURES,
            family: OnceLock::new(),
        }
    }

    pub(crate) fn client(cancelled_is_failure: bool) -> Self {
        LazyRpc {
            def: RPC_CLIENT,
            not_failures: if cancelled_is_failure {
                &[]
            } else {
                &RPC_CLIENT_NOT_FAILURES
            },
            family: OnceLock::new(),
        }
    }

    /// The call to `path`, `/{service}/{method}`.
    pub(crate) fn call(&self, path: &str) -> Rpc {
        let family = *self.family.get_or_init(|| {
            let family = family::histogram(self.def, &BUCKETS);
            family.declare(&[], self.not_failures);
            family
        });
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let mut next = || parts.next().filter(|s| !s.is_empty()).unwrap_or(OTHER);
        Rpc {
            service: next().into(),
            method: next().into(),
            family,
            not_failures: self.not_failures,
        }
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum End {
    /// The response (and its body) completed, with this status and, for gRPC, this code.
    Done { status: u16, grpc: Option<u32> },
    /// The inner service returned an error.
    Error,
    /// The inner service panicked.
    Panic,
}

/// A gRPC request: the service and method from the path `/{service}/{method}`, and where
/// its call is recorded.
pub(crate) struct Rpc {
    pub(crate) service: Box<str>,
    pub(crate) method: Box<str>,
    family: &'static LabelFamily<Hist>,
    /// The codes besides OK that are not failures: the ones the family told the catalog, so
    /// the span and the rules agree.
    not_failures: &'static [&'static str],
}

/// One request being measured.
pub(crate) struct Record {
    pub(crate) start: Instant,
    pub(crate) span: tracing::Span,
    pub(crate) families: Families,
    pub(crate) policy: Arc<Policy>,
    pub(crate) method: &'static str,
    /// The route (server) or the server's address (client).
    pub(crate) route: Arc<str>,
    pub(crate) rpc: Option<Rpc>,
    pub(crate) active: Option<&'static AtomicI64>,
    /// The response's status code, once known.
    pub(crate) status: Option<u16>,
    /// A gRPC status from the response headers, once known.
    pub(crate) grpc: Option<u32>,
    /// The body said it is at its end: dropping it now completes the request.
    pub(crate) empty: bool,
    pub(crate) done: bool,
}

/// The text of a gRPC code: `0` to `16`; anything else is `2` (UNKNOWN).
fn grpc_code(code: u32) -> &'static str {
    const CODES: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    CODES.get(code as usize).copied().unwrap_or("2")
}

/// The code a gRPC client reads from a response that carries no `grpc-status` (gRPC's
/// mapping of HTTP statuses): a 200 without one is a stream cut short, UNKNOWN.
fn code_of_http(status: u16) -> u32 {
    match status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => 14,
        _ => 2,
    }
}

/// The text of an HTTP status code, `100` to `999`; empty for anything else.
fn code_text(code: u16) -> &'static str {
    static CODES: std::sync::OnceLock<Box<[String]>> = std::sync::OnceLock::new();
    let codes = CODES.get_or_init(|| (100..1000).map(|c: u16| c.to_string()).collect());
    code.checked_sub(100)
        .and_then(|i| codes.get(usize::from(i)))
        .map_or("", String::as_str)
}

impl Record {
    /// Records how the request ended, once.
    pub(crate) fn finish(&mut self, end: End) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Some(active) = self.active {
            active.fetch_sub(1, Relaxed);
        }
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if let Some(rpc) = &self.rpc {
            let client = self.policy.client;
            let code = match end {
                End::Done { status, grpc } => grpc.or(self.grpc).unwrap_or_else(|| {
                    // A server wrote the answer (tonic always says its status); a client reads
                    // what came back as tonic does.
                    if client { code_of_http(status) } else { 0 }
                }),
                // The client service failed (connection refused or reset, the response body
                // broke off): tonic reports a transport failure to the application as
                // UNAVAILABLE, so the client's series say what its caller saw.
                End::Error if client => 14,
                End::Error | End::Panic => 13,
            };
            let code_text = match end {
                End::Panic => PANIC,
                _ => grpc_code(code),
            };
            // Unknown methods are answered UNIMPLEMENTED: one series for all of them. A
            // client's methods are the ones compiled into it: they stay.
            let (service, method) = if code == 12 && !client {
                (OTHER, OTHER)
            } else {
                (&*rpc.service, &*rpc.method)
            };
            rpc.family
                .observe(&["grpc", service, method, code_text], nanos);
            self.span.record("rpc.grpc.status_code", code);
            let failure = code != 0 && !rpc.not_failures.contains(&code_text);
            if failure {
                self.span.record("otel.status_code", "ERROR");
                self.span.record("error.type", code_text);
            }
            return;
        }
        let (status, error_type) = match end {
            End::Done { status, .. } => {
                let failure = self.policy.is_failure(status);
                let code = code_text(status);
                (code, if failure { code } else { "" })
            }
            End::Error => ("", OTHER),
            End::Panic => ("", PANIC),
        };
        self.families
            .http
            .observe(&[self.method, &self.route, status, error_type], nanos);
        if !error_type.is_empty() {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", error_type);
        }
    }

    /// The request ended without a response or before its body's end.
    fn cancelled(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            self.finish(End::Panic);
            return;
        }
        if self.empty {
            let status = self.status.unwrap_or(200);
            self.finish(End::Done {
                status,
                grpc: self.grpc,
            });
            return;
        }
        self.done = true;
        if let Some(active) = self.active {
            active.fetch_sub(1, Relaxed);
        }
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if let Some(rpc) = &self.rpc {
            rpc.family
                .observe(&["grpc", &rpc.service, &rpc.method, "1"], nanos);
            self.span.record("rpc.grpc.status_code", 1);
            if !rpc.not_failures.contains(&"1") {
                self.span.record("otel.status_code", "ERROR");
                self.span.record("error.type", "1");
            }
            return;
        }
        let code = self.status.map_or("", code_text);
        self.families
            .http
            .observe(&[self.method, &self.route, code, CANCELLED], nanos);
        self.span.record("error.type", CANCELLED);
        if self.policy.cancelled_is_failure {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.cancelled();
    }
}
