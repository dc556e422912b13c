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
use super::record::{End, Families, Policy, Record};
use crate::catalog::Objective;

/// A [`tower_layer::Layer`] for HTTP clients: a client span per request (a child of the
/// current span), its `traceparent` written into the request (feature `otlp`), and the
/// histogram `http_client_request_duration_seconds{http_request_method, server_address,
/// http_response_status_code, error_type}`. On a client, 4xx and 5xx are failures (the
/// semantic conventions' rule for client spans); a cancelled request is not, by default.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ClientLayer {
    objectives: Vec<Objective>,
    failures: Vec<u16>,
    not_failures: Vec<u16>,
    cancelled_is_failure: bool,
}

impl ClientLayer {
    /// A layer with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an objective on the calls through this layer, per server and method.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objectives.push(objective);
        self
    }

    /// Counts a status code as a failure that is not one by default.
    pub fn failure(mut self, status: http::StatusCode) -> Self {
        self.failures.push(status.as_u16());
        self
    }

    /// Counts a status code as **not a failure** (a `404` the caller expects, say).
    pub fn not_failure(mut self, status: http::StatusCode) -> Self {
        self.not_failures.push(status.as_u16());
        self
    }

    /// Counts a request dropped before its response's end as a failure.
    pub fn cancelled_is_failure(mut self) -> Self {
        self.cancelled_is_failure = true;
        self
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client {
            inner,
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

/// The service [`ClientLayer`] wraps around a client.
#[derive(Clone)]
pub struct Client<S> {
    inner: S,
    families: Families,
    policy: Arc<Policy>,
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

    #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let method = super::method_label(req.method());
        let host = req.uri().host().unwrap_or("").to_owned();
        let span = tracing::info_span!(
            target: "obs_runtime::http",
            "HTTP client request",
            otel.name = super::span_method(method),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            http.request.method = method,
            server.address = host.as_str(),
            server.port = req.uri().port_u16(),
            url.full = tracing::field::display(req.uri()),
            http.response.status_code = tracing::field::Empty,
            network.protocol.version = super::version_label(req.version()),
        );
        #[cfg(feature = "otlp")]
        span.in_scope(|| crate::propagation::inject_headers(req.headers_mut()));
        let record = Record {
            start,
            span,
            families: self.families,
            policy: self.policy.clone(),
            method,
            route: Arc::from(host),
            rpc: None,
            active: None,
            status: None,
            grpc: None,
            empty: false,
            done: false,
        };
        let future = record.span.in_scope(|| self.inner.call(req));
        ClientFuture {
            inner: future,
            record: Some(record),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Client`]'s response.
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        record: Option<Record>,
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
                    record.status = Some(response.status().as_u16());
                    record
                        .span
                        .record("http.response.status_code", response.status().as_u16());
                    record.empty = response.body().is_end_stream();
                    record
                });
                Poll::Ready(Ok(response.map(|body| ObsBody::new(body, record))))
            }
        }
    }
}
