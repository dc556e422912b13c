//! reqwest's side (feature `reqwest`): [`ReqwestMiddleware`] in a `reqwest-middleware` chain,
//! measured as [`ClientLayer`](super::ClientLayer) measures a tower client.

use std::sync::OnceLock;
use std::time::Instant;

use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument as _;

use super::client::{Measure, Options, http_span};
use super::record::{End, Record};
use crate::metrics::catalog::Objective;

/// A [`reqwest_middleware::Middleware`] for reqwest clients, recording what
/// [`ClientLayer`](super::ClientLayer) records for tower ones: a client span per request (a
/// child of the current span), its trace context written into the request (whatever the exporter),
/// and the histogram `http_client_request_duration_seconds{http_request_method,
/// server_address, http_response_status_code, error_type}`, the same family with the same
/// labels.
///
/// On a client, 4xx and 5xx are failures (the semantic conventions' rule for client spans);
/// a request that got no response (connection refused, a timeout, another middleware's error)
/// is `error_type="_OTHER"` ([`OTHER`](super::OTHER)); a request dropped before its response
/// is `cancelled`, not a failure unless [`cancelled_is_failure`](Self::cancelled_is_failure).
///
/// ```
/// use obs_runtime::catalog::Objective;
/// use obs_runtime::http::ReqwestMiddleware;
///
/// # // Stands for the network: every request is answered 404.
/// # struct NotFound;
/// # #[async_trait::async_trait]
/// # impl reqwest_middleware::Middleware for NotFound {
/// #     async fn handle(
/// #         &self,
/// #         _: reqwest::Request,
/// #         _: &mut http::Extensions,
/// #         _: reqwest_middleware::Next<'_>,
/// #     ) -> reqwest_middleware::Result<reqwest::Response> {
/// #         Ok(http::Response::builder().status(404).body("").unwrap().into())
/// #     }
/// # }
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(
///         ReqwestMiddleware::new()
///             .objective(Objective::success(99.9))
///             .not_failure(http::StatusCode::NOT_FOUND), // a lookup that may miss
///     )
/// #   .with(NotFound)
///     .build();
/// let sent = client.get("http://inventory/items/7").send();
/// let response = futures_executor::block_on(sent).unwrap();
/// assert_eq!(response.status(), 404);
///
/// let page = obs_runtime::render();
/// assert!(page.contains(
///     r#"http_client_request_duration_seconds_count{http_request_method="GET",server_address="inventory",http_response_status_code="404",error_type=""} 1"#
/// ));
/// let rules = obs_runtime::rules::rules_yaml();
/// assert!(rules.contains("obs:http_client_request_duration_seconds:error_ratio_rate1h"));
/// ```
///
/// # Timed to the response's headers
///
/// Unlike `ClientLayer`, which times a request to its response body's last frame, the
/// duration here ends when the response's headers arrive: reqwest hands its `Response` to
/// the application with the body unread, and timing the body would take it out through
/// `http::Response` and back, which loses the response's URL and wraps each error of the
/// body in two more `reqwest::Error`s. A slow body is not in the histogram, and a response
/// dropped unread is not `cancelled`.
///
/// # Where in the chain
///
/// Middlewares run in the order given to `with`. After a retrying one, each attempt is a
/// request of its own, with its own span and its own count, as the semantic conventions ask
/// of resent requests; before it, the attempts together are one.
///
/// # When the family registers
///
/// The family joins the page, the rules and the dashboard at the first request through the
/// middleware, not when it is built: a middleware is handed to `with` by value, with no step
/// that ends its building, so the options are only known to be final then.
#[derive(Clone, Default)]
#[must_use]
pub struct ReqwestMiddleware {
    options: Options,
    /// Made at the first request: one atomic load after that.
    measure: OnceLock<Measure>,
}

impl core::fmt::Debug for ReqwestMiddleware {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReqwestMiddleware")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ReqwestMiddleware {
    /// A middleware with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an objective on the requests through this middleware, per server and method.
    pub fn objective(mut self, objective: Objective) -> Self {
        self.options.objectives.push(objective);
        self.changed()
    }

    /// Counts a status code as a failure that is not one by default.
    pub fn failure(mut self, status: http::StatusCode) -> Self {
        self.options.failures.push(status.as_u16());
        self.changed()
    }

    /// Counts a status code as **not a failure** (a `404` the caller expects, say).
    pub fn not_failure(mut self, status: http::StatusCode) -> Self {
        self.options.not_failures.push(status.as_u16());
        self.changed()
    }

    /// Counts a request dropped before its response as a failure.
    pub fn cancelled_is_failure(mut self) -> Self {
        self.options.cancelled_is_failure = true;
        self.changed()
    }

    /// The middleware, changed: a clone made after a request must not keep the family and
    /// policy its original made with the old options.
    fn changed(mut self) -> Self {
        self.measure = OnceLock::new();
        self
    }

    /// The request's span and record, its trace context written.
    fn start(&self, req: &mut Request) -> Record {
        let start = Instant::now();
        let measure = self.measure.get_or_init(|| self.options.measure());
        let method = super::method_label(req.method());
        let url = req.url();
        let host = url.host_str().unwrap_or("").to_owned();
        let span = http_span(method, &host, url.port(), url, req.version());
        span.in_scope(|| crate::traces::propagation::inject_headers(req.headers_mut()));
        measure.record(start, span, method, host, None)
    }
}

#[async_trait::async_trait]
impl Middleware for ReqwestMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        // Dropped with this future before the answer, the record counts a cancelled request.
        let mut record = self.start(&mut req);
        let span = record.span.clone();
        let answer = next.run(req, extensions).instrument(span).await;
        match &answer {
            Ok(response) => {
                let status = response.status().as_u16();
                record.span.record("http.response.status_code", status);
                record.finish(End::Done { status, grpc: None });
            }
            Err(_) => record.finish(End::Error),
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use core::future::Future as _;
    use core::task::{Context, Waker};

    use super::ReqwestMiddleware;

    /// Never answers.
    struct Silent;

    #[async_trait::async_trait]
    impl reqwest_middleware::Middleware for Silent {
        async fn handle(
            &self,
            _: reqwest::Request,
            _: &mut http::Extensions,
            _: reqwest_middleware::Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            core::future::pending().await
        }
    }

    #[test]
    fn a_clone_changed_after_a_request_measures_with_its_own_options() {
        let used = ReqwestMiddleware::new();
        used.measure.get_or_init(|| used.options.measure());
        let changed = used.clone().failure(http::StatusCode::NOT_FOUND);
        assert!(changed.measure.get().is_none());
        assert!(used.measure.get().is_some());
    }

    #[test]
    fn a_request_dropped_before_its_answer_is_cancelled() {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(ReqwestMiddleware::new())
            .with(Silent)
            .build();
        let mut sent = Box::pin(client.delete("http://obs-test-dropped/").send());
        let polled = sent.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(polled.is_pending());
        drop(sent);
        let series = r#"http_client_request_duration_seconds_count{http_request_method="DELETE",server_address="obs-test-dropped",http_response_status_code="",error_type="cancelled"} 1"#;
        let page = crate::render();
        assert!(page.contains(series), "{page}");
    }
}
