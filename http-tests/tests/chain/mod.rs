//! Three parties on loopback: the test (the caller), a middle service (axum with
//! `ServerLayer`, calling on through reqwest with `ReqwestMiddleware`) and a last service that
//! echoes the context headers it received. What the middle service sends on is what obs
//! propagated: the test binaries that use this install obs in one exporter mode each.
#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::routing::get;
use obs_runtime::http::{ReqwestMiddleware, ServerLayer};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

pub const TRACE: &str = "12345678901234567890123456789012";
pub const PARENT: &str = "1234567890123456";

/// The context headers the last service looks for.
const ECHOED: [&str; 8] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "uber-trace-id",
];

/// Every value of the context headers, one `name: value` line each.
async fn echo(headers: http::HeaderMap) -> String {
    let mut out = String::new();
    for name in ECHOED {
        for value in headers.get_all(name) {
            let _ = writeln!(out, "{name}: {}", value.to_str().unwrap());
        }
    }
    out
}

fn client() -> &'static ClientWithMiddleware {
    static CLIENT: OnceLock<ClientWithMiddleware> = OnceLock::new();
    CLIENT.get_or_init(|| {
        ClientBuilder::new(reqwest::Client::new())
            .with(ReqwestMiddleware::new())
            .build()
    })
}

/// The middle service: calls the last one `n` times (`?n=`), returns what it received, and
/// the `tenant.id` baggage entry its handler saw.
async fn middle(
    axum::extract::State(last): axum::extract::State<SocketAddr>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> String {
    let n: usize = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(1);
    let seen = obs_runtime::propagation::baggage()
        .get("tenant.id")
        .unwrap_or("-")
        .to_owned();
    let mut out = format!("handler-baggage: {seen}\n");
    for i in 0..n {
        let body = client()
            .get(format!("http://{last}/echo"))
            .send()
            .await
            .expect("the last service answers")
            .text()
            .await
            .unwrap();
        let _ = write!(out, "--- call {i}\n{body}");
    }
    out
}

/// Starts both services on a runtime of their own (each test has its own runtime, which ends
/// with the test); the address of the middle one.
pub fn services() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let last = serve(Router::new().route("/echo", get(echo))).await;
            let app = Router::new()
                .route("/middle", get(middle))
                .with_state(last)
                .layer(ServerLayer::new());
            tx.send(serve(app).await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// What the last service received, per call of the middle one: `(name, value)` pairs.
#[derive(Debug)]
pub struct Received {
    pub handler_baggage: String,
    pub calls: Vec<Vec<(String, String)>>,
}

impl Received {
    /// The values of `name` in the first call.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.calls[0]
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of `name` in the first call.
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {self:?}", all.len());
        all.first().copied()
    }
}

/// Sends `headers` (in order; a name may repeat) to the middle service, which calls the last
/// one `n` times.
pub async fn call(middle: SocketAddr, headers: &[(&str, &str)], n: usize) -> Received {
    let mut request = reqwest::Client::new().get(format!("http://{middle}/middle?n={n}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = request.send().await.unwrap().text().await.unwrap();
    let mut lines = body.lines();
    let handler_baggage = lines
        .next()
        .and_then(|l| l.strip_prefix("handler-baggage: "))
        .unwrap()
        .to_owned();
    let mut calls = Vec::new();
    for line in lines {
        if line.starts_with("--- call") {
            calls.push(Vec::new());
        } else if let Some((k, v)) = line.split_once(": ") {
            calls.last_mut().unwrap().push((k.to_owned(), v.to_owned()));
        }
    }
    Received {
        handler_baggage,
        calls,
    }
}

/// `(version, trace id, parent id, flags)` of a `traceparent`.
pub fn fields(traceparent: &str) -> (&str, &str, &str, &str) {
    let mut parts = traceparent.split('-');
    let mut next = || parts.next().unwrap();
    (next(), next(), next(), next())
}

/// The rows of the table, whatever the exporter: the caller's trace id and flag go
/// on with a new parent id, `tracestate` unchanged, baggage too.
pub async fn the_chain_is_kept(middle: SocketAddr) {
    for flags in ["01", "00"] {
        let incoming = format!("00-{TRACE}-{PARENT}-{flags}");
        let got = call(
            middle,
            &[
                ("traceparent", &incoming),
                ("tracestate", "foo=1,bar=2"),
                ("baggage", "tenant.id=acme%20corp,tier=gold;ttl=3"),
            ],
            1,
        )
        .await;
        let sent = got.one("traceparent").expect("a traceparent is sent on");
        let (version, trace, parent, sent_flags) = fields(sent);
        assert_eq!(
            (version, trace, sent_flags),
            ("00", TRACE, flags),
            "{got:?}"
        );
        assert_ne!(parent, PARENT, "a new parent id");
        assert_eq!(
            got.one("tracestate"),
            Some("foo=1,bar=2"),
            "{flags}: {got:?}"
        );
        assert_eq!(
            got.one("baggage"),
            Some("tenant.id=acme%20corp,tier=gold;ttl=3"),
            "{got:?}"
        );
        assert_eq!(
            got.handler_baggage, "acme corp",
            "the handler reads the baggage"
        );
    }
}

/// W3C's conformance checks over HTTP: several calls get several parent ids in one trace;
/// an invalid or duplicated `traceparent` is not passed on; `tracestate` headers combine.
pub async fn the_w3c_rules_hold_over_http(middle: SocketAddr) {
    let incoming = format!("00-{TRACE}-{PARENT}-01");
    let got = call(middle, &[("traceparent", &incoming)], 3).await;
    let parents: std::collections::HashSet<&str> = got
        .calls
        .iter()
        .map(|call| {
            let tp = &call.iter().find(|(k, _)| k == "traceparent").unwrap().1;
            assert_eq!(fields(tp).1, TRACE);
            fields(tp).2
        })
        .collect();
    assert_eq!(parents.len(), 3, "a new parent id per request: {got:?}");

    let other = format!("00-12345678901234567890123456789011-{PARENT}-01");
    let twice = call(
        middle,
        &[("traceparent", &incoming), ("traceparent", &other)],
        1,
    )
    .await;
    for sent in twice.all("traceparent") {
        assert!(!sent.contains(TRACE) && !sent.contains("9011"), "{twice:?}");
    }

    let zero = format!("00-{}-{PARENT}-01", "0".repeat(32));
    let invalid = call(
        middle,
        &[("traceparent", &zero), ("tracestate", "foo=1")],
        1,
    )
    .await;
    assert_eq!(invalid.one("tracestate"), None, "{invalid:?}");
    for sent in invalid.all("traceparent") {
        assert!(!sent.contains(&"0".repeat(32)), "{invalid:?}");
    }

    let combined = call(
        middle,
        &[
            ("TraceParent", &incoming),
            ("tracestate", "foo=1,bar=2"),
            ("TRACESTATE", "rojo=1,congo=2"),
            ("tracestate", "baz=3"),
        ],
        1,
    )
    .await;
    assert_eq!(
        combined.one("tracestate"),
        Some("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        "{combined:?}"
    );
    let duplicated = call(
        middle,
        &[
            ("traceparent", &incoming),
            ("tracestate", "foo=1"),
            ("tracestate", "foo=2"),
        ],
        1,
    )
    .await;
    assert_eq!(duplicated.one("tracestate"), None, "{duplicated:?}");
    assert_eq!(fields(duplicated.one("traceparent").unwrap()).1, TRACE);
}
