//! `#[counted]` on axum handlers, with no code of the user's for the status: a bare
//! `Response`, a `(StatusCode, body)`, and `Result<impl IntoResponse, AppError>` whose `Ok`
//! code decides and whose error type says which errors are failures.

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use obs_runtime::{ErrorStatus, Status, counted};
use tower::ServiceExt as _;

enum AppError {
    NotFound,
    Down,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND.into_response(),
            AppError::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }
}

impl ErrorStatus for AppError {
    fn status(&self) -> Status {
        match self {
            AppError::NotFound => Status::custom_ok("not_found"),
            AppError::Down => Status::ERROR,
        }
    }
}

#[counted]
async fn seat(
    axum::extract::Path(n): axum::extract::Path<u32>,
) -> Result<impl IntoResponse, AppError> {
    match n {
        0 => Err(AppError::NotFound),
        1 => Err(AppError::Down),
        2 => Ok((StatusCode::SERVICE_UNAVAILABLE, "overloaded")),
        _ => Ok((StatusCode::OK, "seat")),
    }
}

#[counted]
async fn health(axum::extract::Path(ok): axum::extract::Path<bool>) -> Response {
    if ok {
        "up".into_response()
    } else {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

#[counted]
async fn code(axum::extract::Path(code): axum::extract::Path<u16>) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn call(app: &Router, path: &str) -> u16 {
    let request = http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap();
    app.clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn calls(page: &str, function: &str, status: &str) -> Option<u64> {
    let labels = [
        ("function", function),
        ("module", "handlers"),
        ("status", status),
    ];
    obs_testkit::Page::parse(page)
        .get("function_calls_total", &labels)
        .map(obs_testkit::Sample::count)
}

#[tokio::test]
async fn handler_return_types_count_5xx_and_their_errors_as_the_response_says() {
    let app = Router::new()
        .route("/seat/{n}", get(seat))
        .route("/health/{ok}", get(health))
        .route("/code/{code}", get(code));
    let codes = [
        call(&app, "/seat/0").await,
        call(&app, "/seat/1").await,
        call(&app, "/seat/2").await,
        call(&app, "/seat/3").await,
        call(&app, "/health/true").await,
        call(&app, "/health/false").await,
        call(&app, "/code/204").await,
        call(&app, "/code/502").await,
    ];
    assert_eq!(codes, [404, 503, 503, 200, 200, 500, 204, 502]);
    let page = obs_runtime::render();
    // `Err(NotFound)`: its own label, not a failure; `Err(Down)` and `Ok((503, _))`: errors.
    assert_eq!(calls(&page, "seat", "not_found"), Some(1), "{page}");
    assert_eq!(calls(&page, "seat", "error"), Some(2), "{page}");
    assert_eq!(calls(&page, "seat", "ok"), Some(1), "{page}");
    assert_eq!(calls(&page, "health", "error"), Some(1), "{page}");
    assert_eq!(calls(&page, "health", "ok"), Some(1), "{page}");
    assert_eq!(calls(&page, "code", "error"), Some(1), "{page}");
    assert_eq!(calls(&page, "code", "ok"), Some(1), "{page}");
    let rules = obs_runtime::rules::rules_yaml();
    assert!(rules.contains(r#"status!~"ok|not_found""#), "{rules}");
}
