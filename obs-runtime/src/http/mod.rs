//! HTTP and gRPC services instrumented in one line (feature `http`): a tower layer for axum,
//! hyper and tonic, server and client.
//!
//! ```
//! use std::convert::Infallible;
//! use obs_runtime::http::ServerLayer;
//! use tower::{Layer as _, ServiceExt as _};
//!
//! // Any `Service<http::Request<B>>`: an axum `Router` takes it with `.layer(ServerLayer::new())`.
//! let app = tower::service_fn(|_req: http::Request<String>| async {
//!     Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::from("hi"))))
//! });
//! let app = ServerLayer::new()
//!     .route_fn(|parts| (parts.uri.path() == "/hello").then(|| "/hello".to_owned()))
//!     .layer(app);
//!
//! let request = http::Request::get("/hello").body(String::new()).unwrap();
//! let response = futures_executor::block_on(app.oneshot(request)).unwrap();
//! // The request ends with its body: read it (a server does), then it is on the page.
//! futures_executor::block_on(http_body_util::BodyExt::collect(response.into_body())).unwrap();
//!
//! let page = obs_runtime::render();
//! assert!(page.contains(
//!     r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/hello",http_response_status_code="200",error_type=""} 1"#
//! ));
//! assert!(page.contains(r#"http_server_active_requests{http_request_method="GET",http_route="/hello"} 0"#));
//! ```
//!
//! # What the server layer records
//!
//! - **A span per request**, a plain `tracing` span that obs's trace layer exports: named
//!   `{method} {route}` (`otel.name`), kind server (`otel.kind`), with
//!   `http.request.method`, `url.path`, `url.scheme`, `http.route`,
//!   `http.response.status_code`, `network.protocol.version`, `user_agent.original`, and
//!   `otel.status_code = "ERROR"` with `error.type` on a failure. With the `otlp` feature it
//!   continues the caller's W3C `traceparent`/`tracestate` (the span is a child of the remote
//!   parent), and [`ServerLayer::respond_with_traceparent`] returns its own.
//! - **`http_server_request_duration_seconds{http_request_method, http_route,
//!   http_response_status_code, error_type}`**, a histogram with the semantic conventions'
//!   buckets, timed to the response body's **last frame**: a streaming body counts until it
//!   ends, a body dropped early is `error_type="cancelled"`, a panic of the inner service is
//!   counted (`error_type="panic"`) before it unwinds on.
//! - **`http_server_active_requests{http_request_method, http_route}`**, a gauge.
//! - **gRPC** (a request with `content-type: application/grpc…`, tonic's): the span is named
//!   `{service}/{method}` with `rpc.system`, `rpc.service`, `rpc.method`,
//!   `rpc.grpc.status_code`, and the histogram is
//!   `rpc_server_call_duration_seconds{rpc_system, rpc_service, rpc_method,
//!   rpc_grpc_status_code}`, the status read from the response headers or its trailers.
//!   Calls answered UNIMPLEMENTED (unknown methods) share `rpc_service="_OTHER"`,
//!   `rpc_method="_OTHER"`. In the active-requests gauge gRPC calls are under
//!   `http_route="grpc"` unless a `route_fn` names them. The family joins the page, the rules
//!   and the dashboard at the first gRPC call through the layer: a service that only speaks
//!   HTTP has no `rpc_` family.
//!
//! # Bounded series
//!
//! - `http_route` is the matched template: axum's `MatchedPath` (feature `axum`), else what
//!   [`ServerLayer::route_fn`] says. Requests that matched no route (a fallback, a scanner's
//!   guesses) all share `http_route="unmatched"` ([`UNMATCHED`]), never the raw path, and
//!   their span is named after the method alone.
//! - Methods outside the standard nine are `_OTHER`.
//! - Past [`series_limit`](crate::series_limit) label-value sets, calls go to one
//!   `__overflow__` series, as everywhere in obs.
//!
//! # Failures
//!
//! On a server, 5xx is a failure and 4xx is not (the caller's mistake, as the semantic
//! conventions say for server spans); a request whose client hung up is `cancelled`, not a
//! failure either. [`ServerLayer::failure`], [`ServerLayer::not_failure`] and
//! [`ServerLayer::cancelled_is_failure`] change that per status code. `error_type` is empty
//! on a non-failure, and the generated rules and dashboard count failures as the layer does:
//! `error_type` neither empty nor `cancelled`. For gRPC servers, only `UNKNOWN`,
//! `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE` and `DATA_LOSS` are
//! failures; for gRPC clients, every code but OK and CANCELLED (see [Clients](#clients)).
//!
//! # Rules and dashboard
//!
//! The layer's families join the [catalog](crate::catalog) when the layer is built: the
//! generated rules record rate, error ratio and latency percentiles per method and route, and
//! objectives on the layer ([`ServerLayer::objective`]) get burn-rate alerts that fire per
//! route.
//!
//! ```
//! use std::time::Duration;
//! use obs_runtime::catalog::Objective;
//!
//! let layer = obs_runtime::http::ServerLayer::new()
//!     .objective(Objective::success(99.9))
//!     .objective(Objective::latency(Duration::from_millis(250), 99.0));
//! let _service = tower::Layer::layer(&layer, tower::service_fn(|_: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! }));
//! let rules = obs_runtime::rules::rules_yaml();
//! assert!(rules.contains("record: obs:http_server_request_duration_seconds:error_ratio_rate1h"));
//! assert!(rules.contains("sum by (job, http_request_method, http_route)"));
//! ```
//!
//! # Clients
//!
//! [`ClientLayer`] wraps a tower client (hyper-util's legacy client, a tonic channel): a
//! client span per request, its `traceparent` injected, and
//! `http_client_request_duration_seconds{http_request_method, server_address,
//! http_response_status_code, error_type}`.
//!
//! A gRPC call through it (tonic's, `content-type: application/grpc…`) is measured as a
//! gRPC call, not as an HTTP request that got a 200:
//!
//! - **The span** is named `{service}/{method}`, kind client, with `rpc.system`,
//!   `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, and `server.address` and
//!   `server.port` when the request's URI names them (a tonic client made `with_origin` does;
//!   a `Channel` adds its origin below the layer). No `http.*` attribute.
//! - **`rpc_client_call_duration_seconds{rpc_system, rpc_service, rpc_method,
//!   rpc_grpc_status_code}`** (OTel's `rpc.client.call.duration`, the server's buckets)
//!   instead of the HTTP histogram, registered at the first gRPC call, as the server's is.
//! - **The code is the one the application sees**: the `grpc-status` of the response headers
//!   (a trailers-only answer) or trailers; without one, gRPC's mapping of the HTTP status (a
//!   proxy's `503` is `14`, a `200` that ends with no status `2`); `14` (UNAVAILABLE) when
//!   the client service fails, a connection refused say, as tonic reports it; `1`
//!   (CANCELLED) when the call or its response body is dropped before the end.
//! - **Every code but OK is a failure** (the semantic conventions' rule for client spans):
//!   `otel.status_code = "ERROR"` and `error.type` the code. CANCELLED is the exception, the
//!   caller giving up, unless [`ClientLayer::cancelled_is_failure`]; the generated rules count
//!   failures the same way.
//!
//! ```
//! use obs_runtime::http::ClientLayer;
//! use tower::ServiceExt as _;
//!
//! // Stands for a tonic channel: an answer with no message, the status in the headers.
//! let channel = tower::service_fn(|_req: http::Request<String>| async {
//!     let response = http::Response::builder().header("grpc-status", "14").body(String::new());
//!     Ok::<_, std::convert::Infallible>(response.unwrap())
//! });
//! let channel = tower::Layer::layer(&ClientLayer::new(), channel);
//! let call = http::Request::post("/shop.Inventory/Reserve")
//!     .header("content-type", "application/grpc")
//!     .body(String::new())
//!     .unwrap();
//! let response = futures_executor::block_on(channel.oneshot(call)).unwrap();
//! drop(response); // an empty body: the call ends here
//!
//! let page = obs_runtime::render();
//! assert!(page.contains(
//!     r#"rpc_client_call_duration_seconds_count{rpc_system="grpc",rpc_service="shop.Inventory",rpc_method="Reserve",rpc_grpc_status_code="14"} 1"#
//! ));
//! assert!(!page.contains("http_client_request_duration_seconds_count{"));
//! ```
//!
//! reqwest is not a tower service: with the `reqwest` feature, `ReqwestMiddleware` goes in a
//! `reqwest-middleware` chain and records the same span, `traceparent` and histogram, timed
//! to the response's headers rather than its body's end (see its docs).
//!
//! ```
//! # #[cfg(feature = "reqwest")] {
//! use obs_runtime::http::ReqwestMiddleware;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(ReqwestMiddleware::new())
//!     .build();
//!
//! async fn items(
//!     client: &reqwest_middleware::ClientWithMiddleware,
//! ) -> reqwest_middleware::Result<String> {
//!     Ok(client.get("http://inventory/items").send().await?.text().await?)
//! }
//! # drop(items(&client)); // built, not sent: there is no inventory service here
//! # }
//! ```
//!
//! Without reqwest-middleware, or with another client, call
//! `obs_runtime::propagation::inject_headers(&mut headers)` inside a traced call: it writes
//! that call's `traceparent` into an `http::HeaderMap` to send with the request.
//!
//! # Return types
//!
//! With the feature, `http::Response<B>`, `http::StatusCode` and `(StatusCode, body)`,
//! `(StatusCode, headers, body)` are [`ReturnStatus`]es: a 5xx counts as `error` for
//! `#[counted]`, `#[timed]` and `#[traced]`, with no code of yours. axum's `Response` is
//! `http::Response<axum::body::Body>`, so it is covered. In a `Result`, the `Ok` value's
//! status decides, so an axum handler's `Result<impl IntoResponse, AppError>` whose body
//! returns one of these shapes is covered too (the probe sees the concrete type the body
//! returns); an `Err` is `error`, or what the error type's
//! [`ErrorStatus`](crate::ErrorStatus) says.

mod body;
mod client;
mod record;
#[cfg(feature = "reqwest")]
mod reqwest;
mod server;
mod url;

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest::ReqwestMiddleware;
pub use body::ObsBody;
pub use client::{Client, ClientFuture, ClientLayer};
pub use record::{CANCELLED, OTHER, PANIC, UNMATCHED};
pub use server::{ResponseFuture, RouteFn, Server, ServerLayer};

use crate::status::{ReturnStatus, Status};

/// The `http_request_method` label: the standard methods as they are, anything else
/// `_OTHER`, so a scanner inventing methods cannot make series.
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => record::OTHER,
    }
}

/// The method in a span name: `HTTP` for `_OTHER`, as the conventions ask.
fn span_method(method: &'static str) -> &'static str {
    if method == record::OTHER {
        "HTTP"
    } else {
        method
    }
}

/// `network.protocol.version`.
fn version_label(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// A gRPC request: `content-type: application/grpc`, `application/grpc+proto`, ….
fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The `grpc-status` of headers or trailers.
fn grpc_status(headers: &http::HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// A 5xx response is `error`; anything else `ok`.
///
/// ```rust,standalone_crate
/// #[obs_runtime::counted]
/// fn handler(fail: bool) -> http::Response<String> {
///     let code = if fail { 503 } else { 200 };
///     http::Response::builder().status(code).body(String::new()).unwrap()
/// }
///
/// handler(false);
/// handler(true);
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function_calls_total{function="handler",module="rust_out",status="error"} 1"#));
/// assert!(page.contains(r#"function_calls_total{function="handler",module="rust_out",status="ok"} 1"#));
/// ```
impl<B> ReturnStatus for http::Response<B> {
    fn status(&self) -> Status {
        if self.status().is_server_error() {
            Status::ERROR
        } else {
            Status::OK
        }
    }
}

/// A handler's bare status code: 5xx is `error`.
impl ReturnStatus for http::StatusCode {
    fn status(&self) -> Status {
        if self.is_server_error() {
            Status::ERROR
        } else {
            Status::OK
        }
    }
}

/// `(StatusCode, body)`, as axum handlers return: the code decides, as for a bare one.
///
/// With a `Result`, the `Ok` value's code decides too, so a handler returning
/// `Result<impl IntoResponse, AppError>` counts an `Ok((StatusCode::SERVICE_UNAVAILABLE, ..))`
/// as `error`; an `Err` is `error` unless the error type has an
/// [`ErrorStatus`](crate::ErrorStatus) (an `AppError::NotFound` can be
/// `Status::custom_ok("not_found")`).
///
/// ```rust,standalone_crate
/// use http::StatusCode;
///
/// #[obs_runtime::counted]
/// async fn reserve(seats: u32) -> Result<(StatusCode, String), String> {
///     match seats {
///         0 => Err("no seats asked".to_owned()),
///         1..=9 => Ok((StatusCode::CREATED, "booked".to_owned())),
///         _ => Ok((StatusCode::SERVICE_UNAVAILABLE, "sold out".to_owned())),
///     }
/// }
///
/// for seats in [2, 20, 0] {
///     let _ = futures_executor::block_on(reserve(seats));
/// }
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function_calls_total{function="reserve",module="rust_out",status="ok"} 1"#));
/// assert!(page.contains(r#"function_calls_total{function="reserve",module="rust_out",status="error"} 2"#));
/// ```
impl<T> ReturnStatus for (http::StatusCode, T) {
    fn status(&self) -> Status {
        self.0.status()
    }
}

/// `(StatusCode, headers, body)`: the code decides.
impl<T, U> ReturnStatus for (http::StatusCode, T, U) {
    fn status(&self) -> Status {
        self.0.status()
    }
}
