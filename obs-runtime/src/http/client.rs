//! The client side: [`ClientLayer`] around a tower HTTP client (hyper-util's, a tonic channel).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::body::ObsBody;
use super::record::{End, Families, LazyRpc, Policy, Record, Rpc};
use crate::metrics::catalog::Objective;

/// A [`tower_layer::Layer`] for HTTP and gRPC clients: a client span per request (a child of
/// the current span), its trace context written into the request (whatever the exporter), and the
/// histogram `http_client_request_duration_seconds{http_request_method, server_address,
/// http_response_status_code, error_type}`. On a client, 4xx and 5xx are failures (the
/// semantic conventions' rule for client spans); a cancelled request is not, by default.
///
/// A gRPC call (`content-type: application/grpc…`, a tonic client's) is measured as one:
/// `rpc_client_call_duration_seconds{rpc_system, rpc_service, rpc_method,
/// rpc_grpc_status_code}` instead, where every code but OK (`0`) and CANCELLED (`1`, unless
/// [`cancelled_is_failure`](Self::cancelled_is_failure)) is a failure; the statuses set with
/// [`failure`](Self::failure) and [`not_failure`](Self::not_failure), being HTTP statuses,
/// do not apply. See [the module](super#clients).
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ClientLayer {
    options: Options,
}

/// What a client's builder was told: [`ClientLayer`]'s and the reqwest middleware's, so both
/// clients record one family with the same policy.
#[derive(Clone, Debug, Default)]
pub(super) struct Options {
    pub(super) objectives: Vec<Objective>,
    pub(super) failures: Vec<u16>,
    pub(super) not_failures: Vec<u16>,
    pub(super) cancelled_is_failure: bool,
}

impl Options {
    /// The HTTP family, found or made with these objectives declared, and which statuses are
    /// failures: 4xx and 5xx, as the builder changed them.
    pub(super) fn measure(&self) -> Measure {
        Measure {
            families: Families::client(&self.objectives, self.cancelled_is_failure),
            policy: Arc::new(Policy {
                client: true,
                not_failures: self.not_failures.clone(),
                failures: self.failures.clone(),
                cancelled_is_failure: self.cancelled_is_failure,
            }),
        }
    }
}

/// Where a client's requests are recorded, and how.
#[derive(Clone)]
pub(super) struct Measure {
    families: Families,
    policy: Arc<Policy>,
}

impl Measure {
    /// A request to `host` that started at `start`, in `span`.
    pub(super) fn record(
        &self,
        start: Instant,
        span: tracing::Span,
        method: &'static str,
        host: String,
        rpc: Option<Rpc>,
    ) -> Record {
        Record {
            start,
            span,
            families: self.families,
            policy: self.policy.clone(),
            method,
            route: Arc::from(host),
            rpc,
            active: None,
            status: None,
            grpc: None,
            empty: false,
            done: false,
        }
    }
}

impl ClientLayer {
    /// A layer with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an objective on the calls through this layer, per server and method.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.options.objectives.push(objective);
        self
    }

    /// Counts a status code as a failure that is not one by default.
    pub fn failure(mut self, status: http::StatusCode) -> Self {
        self.options.failures.push(status.as_u16());
        self
    }

    /// Counts a status code as **not a failure** (a `404` the caller expects, say).
    pub fn not_failure(mut self, status: http::StatusCode) -> Self {
        self.options.not_failures.push(status.as_u16());
        self
    }

    /// Counts a request dropped before its response's end as a failure.
    pub fn cancelled_is_failure(mut self) -> Self {
        self.options.cancelled_is_failure = true;
        self
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client {
            inner,
            measure: self.options.measure(),
            rpc: Arc::new(LazyRpc::client(self.options.cancelled_is_failure)),
        }
    }
}

/// The service [`ClientLayer`] wraps around a client.
#[derive(Clone)]
pub struct Client<S> {
    inner: S,
    measure: Measure,
    rpc: Arc<LazyRpc>,
}

impl<S: core::fmt::Debug> core::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResB> Service<Request<B>> for Client<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    ResB: Body,
{
    type Response = Response<ObsBody<ResB>>;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let method = super::method_label(req.method());
        let host = req.uri().host().unwrap_or("").to_owned();
        let rpc = super::is_grpc(req.headers()).then(|| self.rpc.call(req.uri().path()));
        let span = match &rpc {
            Some(rpc) => grpc_span(rpc, req.uri()),
            None => http_span(
                method,
                &host,
                req.uri().port_u16(),
                req.uri(),
                req.version(),
            ),
        };
        span.in_scope(|| crate::traces::propagation::inject_headers(req.headers_mut()));
        // Boxed, as the server's: it moves with the future, then into the body.
        let record = Box::new(self.measure.record(start, span, method, host, rpc));
        let future = record.span.in_scope(|| self.inner.call(req));
        ClientFuture {
            inner: future,
            record: Some(record),
        }
    }
}

/// The span of an HTTP request: `{method}`, kind client, a child of the current span. Both
/// clients make theirs here, from what a tower request and a reqwest one both have.
pub(super) fn http_span(
    method: &'static str,
    host: &str,
    port: Option<u16>,
    url: &dyn core::fmt::Display,
    version: http::Version,
) -> tracing::Span {
    tracing::info_span!(
        target: "obs_runtime::http",
        "HTTP client request",
        otel.name = super::span_method(method),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        http.request.method = method,
        server.address = host,
        server.port = port,
        // Credentials and signatures redacted, as the conventions ask of `url.full`.
        url.full = tracing::field::display(super::url::Redacted(url)),
        http.response.status_code = tracing::field::Empty,
        network.protocol.version = super::version_label(version),
    )
}

/// The span of a gRPC call: `{service}/{method}`, kind client, with the semantic conventions'
/// RPC attributes and none of HTTP's. `server.address` and `server.port` are there when the
/// request's URI names them: a tonic client made `with_origin` does, while a `Channel` adds
/// its origin below this layer.
fn grpc_span(rpc: &Rpc, uri: &http::Uri) -> tracing::Span {
    let span = tracing::info_span!(
        target: "obs_runtime::http",
        "gRPC client call",
        otel.name = tracing::field::Empty,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = &*rpc.service,
        rpc.method = &*rpc.method,
        rpc.grpc.status_code = tracing::field::Empty,
        server.address = uri.host(),
        server.port = uri.port_u16(),
    );
    if !span.is_disabled() {
        span.record(
            "otel.name",
            format!("{}/{}", rpc.service, rpc.method).as_str(),
        );
    }
    span
}

pin_project_lite::pin_project! {
    /// The future of [`Client`]'s response.
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        record: Option<Box<Record>>,
    }
}

impl<F, ResB, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    ResB: Body,
{
    type Output = Result<Response<ObsBody<ResB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.record.as_ref() {
            Some(record) => record.span.in_scope(|| this.inner.poll(cx)),
            None => this.inner.poll(cx),
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                if let Some(mut record) = this.record.take() {
                    record.finish(End::Error);
                }
                Poll::Ready(Err(e))
            }
            Poll::Ready(Ok(response)) => {
                let record = this.record.take().map(|mut record| {
                    let status = response.status().as_u16();
                    record.status = Some(status);
                    if record.rpc.is_some() {
                        // A trailers-only answer (an error with no message) has its status here.
                        record.grpc = super::grpc_status(response.headers());
                    } else {
                        record.span.record("http.response.status_code", status);
                    }
                    record.empty = response.body().is_end_stream();
                    record
                });
                Poll::Ready(Ok(response.map(|body| ObsBody::new(body, record))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt as _;
    use tower_layer::Layer as _;
    use tower_service::Service as _;

    use super::ClientLayer;

    fn call(path: &str) -> http::Request<String> {
        http::Request::post(path)
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .body(String::new())
            .unwrap()
    }

    fn count(service: &str, code: &str) -> Option<f64> {
        let series = format!(
            r#"rpc_client_call_duration_seconds_count{{rpc_system="grpc",rpc_service="{service}",rpc_method="Call",rpc_grpc_status_code="{code}"}} "#
        );
        crate::render()
            .lines()
            .find_map(|l| l.strip_prefix(&series)?.parse().ok())
    }

    /// Calls a service that answers `status`, `grpc` in `grpc-status` if given, and `body`;
    /// returns the service's name.
    fn answer(status: u16, grpc: Option<&'static str>, body: &'static str) -> String {
        let service = tower::service_fn(move |_: http::Request<String>| async move {
            let mut response = http::Response::builder().status(status);
            if let Some(code) = grpc {
                response = response.header("grpc-status", code);
            }
            Ok::<_, core::convert::Infallible>(response.body(body.to_owned()).unwrap())
        });
        let client = ClientLayer::new().layer(service);
        let service = format!(
            "obs.test.Answer{status}{}{}",
            grpc.unwrap_or("_"),
            body.len()
        );
        let response =
            futures_executor::block_on(client.oneshot(call(&format!("/{service}/Call"))));
        drop(response); // complete if the body is empty, cancelled if not
        service
    }

    #[test]
    fn a_grpc_answer_reads_as_tonic_reads_it() {
        // Trailers-only: the status is in the headers.
        assert_eq!(count(&answer(200, Some("5"), ""), "5"), Some(1.0));
        // No grpc-status: gRPC's mapping of the HTTP status, UNKNOWN for a bare 200.
        assert_eq!(count(&answer(503, None, ""), "14"), Some(1.0));
        assert_eq!(count(&answer(404, None, ""), "12"), Some(1.0));
        assert_eq!(count(&answer(200, None, ""), "2"), Some(1.0));
        // The body dropped before its end: the caller gave up.
        assert_eq!(count(&answer(200, None, "message"), "1"), Some(1.0));
    }

    #[test]
    fn a_grpc_call_dropped_before_its_answer_is_cancelled() {
        let service = tower::service_fn(|_: http::Request<String>| {
            core::future::pending::<Result<http::Response<String>, core::convert::Infallible>>()
        });
        let mut client = ClientLayer::new().layer(service);
        drop(client.call(call("/obs.test.Dropped/Call")));
        assert_eq!(count("obs.test.Dropped", "1"), Some(1.0));
    }

    #[test]
    fn a_failed_client_service_is_unavailable() {
        let service = tower::service_fn(|_: http::Request<String>| async {
            Err::<http::Response<String>, _>("connection refused")
        });
        let client = ClientLayer::new().layer(service);
        let called = futures_executor::block_on(client.oneshot(call("/obs.test.Refused/Call")));
        assert!(called.is_err());
        assert_eq!(count("obs.test.Refused", "14"), Some(1.0));
    }
}
