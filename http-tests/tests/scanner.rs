//! A scanner hitting 10,000 distinct unknown paths (and made-up methods) adds no series.

mod common;

use axum::Router;
use axum::routing::get;
use obs_runtime::http::ServerLayer;
use tower::ServiceExt as _;

#[tokio::test]
async fn ten_thousand_unknown_paths_add_no_series() {
    let app = Router::new()
        .route("/known", get(|| async { "ok" }))
        .layer(ServerLayer::new());
    let series = |page: &str| {
        common::Page::parse(page)
            .samples()
            .iter()
            .filter(|s| s.name.starts_with("http_server_"))
            .count()
    };
    // One request of each kind first, so every series the scan may touch exists.
    for (method, path) in [("GET", "/known"), ("GET", "/unknown"), ("BREW", "/x")] {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        drop(
            axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap(),
        );
    }
    let before = series(&obs_runtime::render());
    for i in 0..10_000 {
        let method = if i % 2 == 0 {
            "GET".to_owned()
        } else {
            format!("M{i}")
        };
        let request = http::Request::builder()
            .method(method.as_str())
            .uri(format!("/wp-admin/{i}.php?q={i}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 404);
        drop(
            axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap(),
        );
    }
    let page = obs_runtime::render();
    assert_eq!(series(&page), before, "{page}");
    assert_eq!(
        common::value(
            &page,
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_code="404",error_type=""}"#
        ),
        Some(5001.0),
        "{page}"
    );
    let other = [
        ("http_request_method", "_OTHER"),
        ("http_route", "unmatched"),
    ];
    assert!(
        common::Page::parse(&page)
            .samples()
            .iter()
            .any(|s| s.has(&other)),
        "{page}"
    );
    common::promtool_check(&page);
}
