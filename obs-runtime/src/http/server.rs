//! The server side: [`ServerLayer`] and the service it wraps around an HTTP or gRPC server.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::{Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use super::body::ObsBody;
use super::record::{End, Families, LazyRpc, Policy, Record, Rpc, UNMATCHED};
use crate::metrics::catalog::Objective;
use crate::traces::propagation::RemoteContext;

/// Names a request's route, for servers that do not say it (anything but axum's
/// `MatchedPath`): `None` means the request matched no route.
pub type RouteFn = Arc<dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync>;

/// A [`tower_layer::Layer`] that measures and traces every request of an HTTP or gRPC server:
/// axum (`Router::layer`), hyper (through hyper-util's tower adapter), tonic
/// (`Server::builder().layer(..)`). See [the module](super) for what it records.
#[derive(Clone)]
#[must_use]
pub struct ServerLayer {
    route: Option<RouteFn>,
    traceparent: bool,
    objectives: Vec<Objective>,
    failures: Vec<u16>,
    not_failures: Vec<u16>,
    cancelled_is_failure: bool,
    /// What the services share, made at the first `layer` call and reused by the next ones:
    /// axum applies a layer to each route, and, on a router called without `with_state`,
    /// again on every request (its handlers become routes per call), where registering the
    /// families each time cost 700 instructions a request (callgrind). Reset by every
    /// setter, so a layer changed after a clone does not share its original's.
    built: Arc<OnceLock<Arc<Shared>>>,
}

impl Default for ServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for ServerLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerLayer")
            .field("route_fn", &self.route.is_some())
            .field("traceparent", &self.traceparent)
            .field("objectives", &self.objectives)
            .finish_non_exhaustive()
    }
}

impl ServerLayer {
    /// A layer with the defaults: the route from axum's `MatchedPath` (feature `axum`), 5xx
    /// a failure, 4xx and cancelled requests not.
    pub fn new() -> Self {
        ServerLayer {
            route: None,
            traceparent: false,
            objectives: Vec::new(),
            failures: Vec::new(),
            not_failures: Vec::new(),
            cancelled_is_failure: false,
            built: Arc::default(),
        }
    }

    /// The layer, changed: what it built before is not what it builds now.
    fn changed(mut self) -> Self {
        self.built = Arc::default();
        self
    }

    /// Names each request's route (a template such as `/orders/{id}`, never the raw path):
    /// for hyper, tonic or any router that does not put axum's `MatchedPath` in the request.
    /// `None` is a request that matched no route ([`UNMATCHED`]).
    ///
    /// ```
    /// let layer = obs_runtime::http::ServerLayer::new().route_fn(|parts| {
    ///     match parts.uri.path() {
    ///         "/health" => Some("/health".to_owned()),
    ///         p if p.starts_with("/orders/") => Some("/orders/{id}".to_owned()),
    ///         _ => None,
    ///     }
    /// });
    /// # let _ = layer;
    /// ```
    pub fn route_fn(
        mut self,
        f: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.route = Some(Arc::new(f));
        self.changed()
    }

    /// Writes the server span's `traceparent` into each response, so a caller, a browser or
    /// a support ticket can find the trace.
    pub fn respond_with_traceparent(mut self) -> Self {
        self.traceparent = true;
        self.changed()
    }

    /// Declares an objective on every route through this layer:
    /// `.objective(Objective::success(99.9))`,
    /// `.objective(Objective::latency(Duration::from_millis(250), 99.0))`. The generated
    /// rules get burn-rate alerts per route, the dashboard a burn panel.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objectives.push(objective);
        self.changed()
    }

    /// Counts a status code as a failure that is not one by default (a `429` that should
    /// page, say): `error_type` is set, the span is `ERROR`.
    pub fn failure(mut self, status: http::StatusCode) -> Self {
        self.failures.push(status.as_u16());
        self.changed()
    }

    /// Counts a status code as **not a failure** that is one by default (a `503` a load
    /// shedder answers on purpose, say): no `error_type`, the span is not `ERROR`, the rules
    /// count it with the successes.
    pub fn not_failure(mut self, status: http::StatusCode) -> Self {
        self.not_failures.push(status.as_u16());
        self.changed()
    }

    /// Counts a request whose client hung up before the response's end as a failure. By
    /// default it is not (the client gave up, the server did not fail): the series reads
    /// `error_type="cancelled"` and the rules leave it out of the error ratio.
    pub fn cancelled_is_failure(mut self) -> Self {
        self.cancelled_is_failure = true;
        self.changed()
    }
}

/// What every request through one layer shares.
struct Shared {
    policy: Arc<Policy>,
    families: Families,
    rpc: LazyRpc,
    route: Option<RouteFn>,
    traceparent: bool,
}

impl<S> Layer<S> for ServerLayer {
    type Service = Server<S>;

    fn layer(&self, inner: S) -> Server<S> {
        let shared = self.built.get_or_init(|| {
            Arc::new(Shared {
                policy: Arc::new(Policy {
                    client: false,
                    not_failures: self.not_failures.clone(),
                    failures: self.failures.clone(),
                    cancelled_is_failure: self.cancelled_is_failure,
                }),
                families: Families::server(&self.objectives, self.cancelled_is_failure),
                rpc: LazyRpc::server(),
                route: self.route.clone(),
                traceparent: self.traceparent,
            })
        });
        Server {
            inner,
            shared: shared.clone(),
        }
    }
}

/// The service [`ServerLayer`] wraps around a server's service.
#[derive(Clone)]
pub struct Server<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: core::fmt::Debug> core::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The route of a request: axum's `MatchedPath`, else the layer's `route_fn`, else none.
fn route_of(parts: &http::request::Parts, route: Option<&RouteFn>) -> Option<Arc<str>> {
    #[cfg(feature = "axum")]
    if let Some(matched) = parts.extensions.get::<axum::extract::MatchedPath>() {
        return Some(Arc::from(matched.as_str()));
    }
    route.and_then(|f| f(parts)).map(Arc::from)
}

impl<S, B, ResB> Service<Request<B>> for Server<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    ResB: Body,
{
    type Response = Response<ObsBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let (parts, body) = req.into_parts();
        let shared = &*self.shared;
        let method = super::method_label(&parts.method);
        let grpc = super::is_grpc(&parts.headers);
        let matched = route_of(&parts, shared.route.as_ref());
        let rpc = grpc.then(|| shared.rpc.call(parts.uri.path()));
        let route: Arc<str> = match (&matched, grpc) {
            (Some(route), _) => route.clone(),
            (None, true) => Arc::from("grpc"),
            (None, false) => Arc::from(UNMATCHED),
        };
        let span = server_span(&parts, method, matched.as_deref(), rpc.as_ref());
        // The caller's context: the server span's parent when obs's layer sees the span, and in
        // scope while the handler runs whatever the exporter, so that what the handler sends
        // on continues the trace even when nothing is recorded here.
        let caller = crate::traces::propagation::extract_headers(&parts.headers);
        if caller.is_valid() {
            caller.set_parent_of(&span);
        }
        crate::traces::propagation::record_baggage(&span, caller.baggage());
        let caller = (caller.is_valid() || !caller.baggage().is_empty()).then_some(caller);
        let active = shared.families.active.map(|family| {
            let cell = family.cell(&[method, &route]);
            cell.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            cell
        });
        // Boxed: the record moves from the call into the response future, then into the body,
        // each move of the future or body a copy of it otherwise (memcpy was a quarter of the
        // layer's cost, callgrind).
        let mut record = Box::new(Record {
            start,
            span,
            families: shared.families,
            policy: shared.policy.clone(),
            method,
            route,
            rpc,
            active,
            status: None,
            grpc: None,
            empty: false,
            done: false,
        });
        let req = Request::from_parts(parts, body);
        let inner = &mut self.inner;
        let scope = caller.as_ref().map(RemoteContext::enter);
        let outcome = record
            .span
            .in_scope(|| catch_unwind(AssertUnwindSafe(|| inner.call(req))));
        drop(scope);
        match outcome {
            Ok(future) => ResponseFuture {
                inner: future,
                record: Some(record),
                traceparent: shared.traceparent,
                caller,
            },
            Err(panic) => {
                record.finish(End::Panic);
                resume_unwind(panic)
            }
        }
    }
}

/// The server span: `{method} {route}` (or `{service}/{method}` for gRPC), kind server.
fn server_span(
    parts: &http::request::Parts,
    method: &'static str,
    route: Option<&str>,
    rpc: Option<&Rpc>,
) -> tracing::Span {
    let span = tracing::info_span!(
        target: "obs_runtime::http",
        "HTTP request",
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        http.request.method = method,
        url.path = parts.uri.path(),
        url.scheme = parts.uri.scheme_str().unwrap_or("http"),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        network.protocol.version = super::version_label(parts.version),
        user_agent.original = tracing::field::Empty,
        rpc.system = tracing::field::Empty,
        rpc.service = tracing::field::Empty,
        rpc.method = tracing::field::Empty,
        rpc.grpc.status_code = tracing::field::Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(agent) = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.record("user_agent.original", agent);
    }
    if let Some(route) = route {
        span.record("http.route", route);
    }
    let name = match (rpc, route) {
        (Some(rpc), _) => {
            span.record("rpc.system", "grpc");
            span.record("rpc.service", &*rpc.service);
            span.record("rpc.method", &*rpc.method);
            format!("{}/{}", rpc.service, rpc.method)
        }
        (None, Some(route)) => format!("{} {route}", super::span_method(method)),
        (None, None) => super::span_method(method).to_owned(),
    };
    span.record("otel.name", name.as_str());
    span
}

pin_project_lite::pin_project! {
    /// The future of [`Server`]'s response: the inner service's, polled inside the request's
    /// span, with a panic counted before it goes on.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        record: Option<Box<Record>>,
        traceparent: bool,
        // The caller's context, in scope on every poll; `None` when the request had none.
        caller: Option<RemoteContext>,
    }
}

impl<F, ResB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    ResB: Body,
{
    type Output = Result<Response<ObsBody<ResB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span = this.record.as_ref().map(|r| r.span.clone());
        let _scope = this.caller.as_ref().map(RemoteContext::enter);
        let entered = span.as_ref().map(tracing::Span::enter);
        let inner = this.inner;
        let polled = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(polled) => polled,
            Err(panic) => {
                drop(entered);
                if let Some(mut record) = this.record.take() {
                    record.finish(End::Panic);
                }
                resume_unwind(panic)
            }
        };
        drop(entered);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                if let Some(mut record) = this.record.take() {
                    record.finish(End::Error);
                }
                Poll::Ready(Err(e))
            }
            Poll::Ready(Ok(response)) => {
                let Some(mut record) = this.record.take() else {
                    return Poll::Ready(Ok(response.map(|b| ObsBody::new(b, None))));
                };
                let (mut parts, body) = response.into_parts();
                record.status = Some(parts.status.as_u16());
                record
                    .span
                    .record("http.response.status_code", parts.status.as_u16());
                if record.rpc.is_some() {
                    record.grpc = super::grpc_status(&parts.headers);
                }
                record.empty = body.is_end_stream();
                if *this.traceparent {
                    record.span.in_scope(|| {
                        crate::traces::propagation::inject_headers(&mut parts.headers);
                    });
                }
                Poll::Ready(Ok(Response::from_parts(
                    parts,
                    ObsBody::new(body, Some(record)),
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_builds_what_its_services_share_once_and_again_when_changed() {
        let layer = ServerLayer::new();
        let a = layer.layer(());
        let b = layer.layer(());
        assert!(Arc::ptr_eq(&a.shared, &b.shared), "one Shared per layer");
        let changed = layer.clone().respond_with_traceparent();
        let c = changed.layer(());
        assert!(
            !Arc::ptr_eq(&a.shared, &c.shared),
            "a changed clone builds its own"
        );
        assert!(c.shared.traceparent && !a.shared.traceparent);
        // The original is unaffected by its clone's change.
        assert!(Arc::ptr_eq(&a.shared, &layer.layer(()).shared));
    }
}
