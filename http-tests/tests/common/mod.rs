//! What the HTTP tests share: one subscriber (obs's trace layer and a layer that keeps every
//! finished span's fields), a loopback server, a client with obs's layer.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use obs_testkit::Page;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

/// A finished span: its fields (as text) and its parent's `otel.name`, if any.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    pub fields: BTreeMap<String, String>,
    pub parent: Option<String>,
}

impl Captured {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }
}

static FINISHED: Mutex<Vec<Captured>> = Mutex::new(Vec::new());

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct Capture;

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut captured = Captured::default();
        attrs.record(&mut Fields(&mut captured.fields));
        if let Some(span) = ctx.span(id) {
            captured.parent = span.parent().and_then(|p| {
                p.extensions()
                    .get::<Captured>()
                    .and_then(|c| c.get("otel.name").map(str::to_owned))
            });
            span.extensions_mut().insert(captured);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(captured) = span.extensions_mut().get_mut::<Captured>()
        {
            values.record(&mut Fields(&mut captured.fields));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(captured) = span.extensions().get::<Captured>()
        {
            FINISHED.lock().unwrap().push(captured.clone());
        }
    }
}

/// Installs obs (no server, console exporter so spans are sampled and get trace ids) under
/// a subscriber of the test's, once per test binary.
pub fn setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let guard = obs_runtime::Builder::new()
            .without_server()
            .without_subscriber()
            .traces_exporter(obs_runtime::TracesExporter::Console)
            .install()
            .expect("obs installs");
        let subscriber = tracing_subscriber::registry()
            .with(obs_runtime::trace_layer())
            .with(Capture);
        tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
        std::mem::forget(guard); // for the whole test binary
    });
}

/// The finished spans whose `otel.name` is `name`.
pub fn spans_named(name: &str) -> Vec<Captured> {
    FINISHED
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.get("otel.name") == Some(name))
        .cloned()
        .collect()
}

/// How long the tests wait for a span or a series another task finishes.
const WAIT: Duration = Duration::from_secs(2);

/// Waits (at most [`WAIT`]) until `n` spans named `name` finished; returns those there are.
pub async fn wait_spans(name: &str, n: usize) -> Vec<Captured> {
    obs_testkit::wait_until_async(WAIT, || {
        let spans = spans_named(name);
        if spans.len() >= n {
            Ok(spans)
        } else {
            Err(spans)
        }
    })
    .await
    .unwrap_or_else(|fewer| fewer)
}

/// The value of one series (`name{labels}`, as the page writes it) on the page, or `None`.
pub fn value(page: &str, series: &str) -> Option<f64> {
    Page::parse(page).value_of(series)
}

/// Waits (at most [`WAIT`]) until `series` reads `want` on the page; returns the page.
pub async fn wait_value(series: &str, want: f64) -> String {
    obs_testkit::eventually_async(&format!("{series} to read {want}"), WAIT, || {
        let page = obs_runtime::render();
        if value(&page, series) == Some(want) {
            Ok(page)
        } else {
            Err(obs_testkit::Text(page))
        }
    })
    .await
}

/// Serves an axum router on a loopback port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A hyper-util client with obs's client layer.
pub type Client = obs_runtime::http::Client<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
>;

pub fn client() -> Client {
    let inner = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    tower::Layer::layer(&obs_runtime::http::ClientLayer::new(), inner)
}

/// GETs `url` through obs's client layer and reads the whole body: `(status, body, headers)`.
pub async fn get(client: &Client, url: &str) -> (u16, String, http::HeaderMap) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let request = http::Request::get(url)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = client.clone().oneshot(request).await.expect("a response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

/// Runs `promtool check metrics` on the page when promtool is installed (required in CI).
pub fn promtool_check(page: &str) {
    if let Some((ok, report)) = obs_testkit::promtool_check_metrics(page) {
        assert!(ok, "promtool check metrics:\n{report}");
    }
}
