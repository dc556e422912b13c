//! obs's layer on a real axum app and a hyper server, called through obs's client layer over
//! loopback: the page (checked by promtool) and the spans, and one trace across client and
//! server.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use obs_runtime::http::ServerLayer;
use tracing::Instrument as _;

use common::{get as fetch, wait_spans, wait_value};

async fn order(Path(id): Path<u32>) -> String {
    format!("order {id}")
}

async fn fail() -> (http::StatusCode, &'static str) {
    (http::StatusCode::SERVICE_UNAVAILABLE, "down")
}

async fn panics() -> &'static str {
    panic!("handler panicked on purpose")
}

async fn stream() -> axum::body::Body {
    let chunks = futures_util::stream::unfold(0u8, |i| async move {
        if i == 3 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
        Some((
            Ok::<_, Infallible>(bytes::Bytes::from(vec![b'a' + i])),
            i + 1,
        ))
    });
    axum::body::Body::from_stream(chunks)
}

async fn trace_id() -> String {
    obs_runtime::propagation::current_trace_id().unwrap_or_default()
}

fn app() -> Router {
    let api = Router::new().route(
        "/items/{sku}",
        get(|Path(sku): Path<String>| async move { sku }),
    );
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/fail", get(fail))
        .route("/panic", get(panics))
        .route("/stream", get(stream))
        .route("/trace", get(trace_id))
        .nest("/api", api)
        .fallback(|| async { (http::StatusCode::NOT_FOUND, "no such page") })
        .layer(ServerLayer::new().respond_with_traceparent())
}

const H: &str = "http_server_request_duration_seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axum_app_is_measured_by_route_with_extractors_nesting_and_a_fallback() {
    common::setup();
    let addr = common::serve(app()).await;
    let client = common::client();
    for id in [1, 2, 3] {
        let (status, body, _) = fetch(&client, &format!("http://{addr}/orders/{id}")).await;
        assert_eq!(
            (status, body.as_str()),
            (200, format!("order {id}").as_str())
        );
    }
    let (status, body, _) = fetch(&client, &format!("http://{addr}/api/items/x1")).await;
    assert_eq!((status, body.as_str()), (200, "x1"));
    let (status, _, _) = fetch(&client, &format!("http://{addr}/no/such/page")).await;
    assert_eq!(status, 404);
    let (status, _, _) = fetch(&client, &format!("http://{addr}/fail")).await;
    assert_eq!(status, 503);

    wait_value(
        &format!(r#"{H}_count{{http_request_method="GET",http_route="/orders/{{id}}",http_response_status_code="200",error_type=""}}"#),
        3.0,
    )
    .await;
    wait_value(
        &format!(r#"{H}_count{{http_request_method="GET",http_route="/api/items/{{sku}}",http_response_status_code="200",error_type=""}}"#),
        1.0,
    )
    .await;
    // The fallback: one route for every unmatched path, and a 404 is not a failure.
    wait_value(
        &format!(r#"{H}_count{{http_request_method="GET",http_route="unmatched",http_response_status_code="404",error_type=""}}"#),
        1.0,
    )
    .await;
    // A 5xx is, with its status code as error_type.
    let page = wait_value(
        &format!(r#"{H}_count{{http_request_method="GET",http_route="/fail",http_response_status_code="503",error_type="503"}}"#),
        1.0,
    )
    .await;
    assert!(
        page.contains(
            r#"http_server_active_requests{http_request_method="GET",http_route="/orders/{id}"} 0"#
        ),
        "{page}"
    );
    assert!(
        !page.contains("/no/such/page"),
        "raw paths never become labels"
    );
    common::promtool_check(&page);

    // The server spans: named `{method} {route}`, with the conventions' fields.
    let spans = wait_spans("GET /orders/{id}", 3).await;
    let span = &spans[0];
    assert_eq!(span.get("otel.kind"), Some("server"));
    assert_eq!(span.get("http.request.method"), Some("GET"));
    assert_eq!(span.get("http.route"), Some("/orders/{id}"));
    assert_eq!(span.get("http.response.status_code"), Some("200"));
    assert_eq!(span.get("network.protocol.version"), Some("1.1"));
    assert_eq!(span.get("url.scheme"), Some("http"));
    assert!(
        span.get("url.path")
            .is_some_and(|p| p.starts_with("/orders/"))
    );
    assert_eq!(span.get("otel.status_code"), None);
    let failed = wait_spans("GET /fail", 1).await;
    assert_eq!(failed[0].get("otel.status_code"), Some("ERROR"));
    let unmatched = wait_spans("GET", 1).await;
    assert!(
        unmatched
            .iter()
            .any(|s| s.get("otel.kind") == Some("server") && s.get("http.route").is_none())
    );
    // The client side: a client span per request.
    let client_spans = wait_spans("GET", 6).await;
    assert!(
        client_spans
            .iter()
            .any(|s| s.get("otel.kind") == Some("client")
                && s.get("server.address") == Some("127.0.0.1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_body_is_timed_to_its_last_frame() {
    common::setup();
    let addr = common::serve(app()).await;
    let (status, body, _) = fetch(&common::client(), &format!("http://{addr}/stream")).await;
    assert_eq!((status, body.as_str()), (200, "abc"));
    let series = format!(
        r#"{H}_bucket{{http_request_method="GET",http_route="/stream",http_response_status_code="200",error_type="",le="0.1"}}"#
    );
    let page = wait_value(&format!(r#"{H}_count{{http_request_method="GET",http_route="/stream",http_response_status_code="200",error_type=""}}"#), 1.0).await;
    // Three chunks 60 ms apart: more than 0.1 s, though the head was sent at once.
    assert_eq!(common::value(&page, &series), Some(0.0), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_counted_before_it_unwinds() {
    common::setup();
    let addr = common::serve(app()).await;
    let client = common::client();
    let request = http::Request::get(format!("http://{addr}/panic"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let answered = tower::ServiceExt::oneshot(client, request).await;
    assert!(answered.is_err(), "the connection dies with the panic");
    wait_value(
        &format!(r#"{H}_count{{http_request_method="GET",http_route="/panic",http_response_status_code="",error_type="panic"}}"#),
        1.0,
    )
    .await;
    wait_value(
        r#"http_server_active_requests{http_request_method="GET",http_route="/panic"}"#,
        0.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_and_a_server_share_one_trace() {
    common::setup();
    let addr = common::serve(app()).await;
    let client = common::client();
    let caller = tracing::info_span!("checkout", otel.name = "checkout");
    let (mine, (status, theirs, headers)) = async {
        let mine = obs_runtime::propagation::current_trace_id().expect("a sampled span");
        (mine, fetch(&client, &format!("http://{addr}/trace")).await)
    }
    .instrument(caller)
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        theirs, mine,
        "the server's span continues the client's trace"
    );
    let traceparent = headers["traceparent"].to_str().unwrap();
    assert!(
        traceparent.contains(&mine),
        "{traceparent} carries the trace id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hyper_server_through_hyper_utils_tower_adapter() {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    common::setup();
    let service = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from("hyper"),
        )))
    });
    let service = tower::Layer::layer(
        &ServerLayer::new()
            .route_fn(|parts| (parts.uri.path() == "/hyper").then(|| "/hyper".to_owned())),
        service,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..8 {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    let (status, body, _) = fetch(&common::client(), &format!("http://{addr}/hyper")).await;
    assert_eq!((status, body.as_str()), (200, "hyper"));
    wait_value(
        &format!(r#"{H}_count{{http_request_method="GET",http_route="/hyper",http_response_status_code="200",error_type=""}}"#),
        1.0,
    )
    .await;
    let spans = wait_spans("GET /hyper", 1).await;
    assert_eq!(spans[0].get("otel.kind"), Some("server"));
    // The client's own histogram (other tests call through clients too: at least this one).
    let page = obs_runtime::render();
    let client = r#"http_client_request_duration_seconds_count{http_request_method="GET",server_address="127.0.0.1",http_response_status_code="200",error_type=""}"#;
    assert!(
        common::value(&page, client).is_some_and(|n| n >= 1.0),
        "{page}"
    );
    common::promtool_check(&page);
}
