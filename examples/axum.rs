//! The quickstart's order service as an axum app: obs's layer on the router, `/metrics` on the
//! app's own port, graceful shutdown on Ctrl-C.
//!
//! ```text
//! cargo run --example axum --features axum
//! curl -s -XPOST http://127.0.0.1:3000/orders/3     # out of stock: 409, not a failure
//! curl -s -XPOST http://127.0.0.1:3000/orders/5     # payment timeout: 504, a failure
//! curl -s http://127.0.0.1:3000/metrics
//! ```
//!
//! `AXUM_PORT` sets the port (`0` picks a free one; the URL printed says which).

use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use obs_runtime::catalog::Objective;
use obs_runtime::http::ServerLayer;
use obs_runtime::{counted, timed};

/// Reserves the order's stock: orders 3 and 8 of every 10 are out of stock.
#[counted]
#[timed(buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5])]
async fn reserve(order: u64) -> Result<(), StatusCode> {
    if order % 5 == 3 {
        Err(StatusCode::CONFLICT)
    } else {
        Ok(())
    }
}

/// Charges the order: order 5 of every 10 times out, order 9 is slow.
#[counted]
#[timed(buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5])]
async fn charge(order: u64) -> Result<u64, StatusCode> {
    match order % 10 {
        5 => Err(StatusCode::GATEWAY_TIMEOUT),
        9 => {
            tokio::time::sleep(Duration::from_millis(120)).await;
            Ok(1_250)
        }
        _ => Ok(1_250),
    }
}

/// `POST /orders/{order}`: the layer names its series `http_route="/orders/{order}"`.
async fn place_order(Path(order): Path<u64>) -> Result<String, StatusCode> {
    reserve(order).await?;
    let cents = charge(order).await?;
    Ok(format!("order {order}: {cents} cents\n"))
}

/// `GET /metrics` on the app's own router.
async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, obs_runtime::CONTENT_TYPE)],
        obs_runtime::render(),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No server of obs's own: the app serves `/metrics` itself.
    let _obs = obs_runtime::Builder::new()
        .service_name("axum-shop")
        .without_server()
        .install()?;
    let app = Router::new()
        .route("/orders/{order}", post(place_order))
        .route("/metrics", get(metrics))
        .layer(
            ServerLayer::new()
                .objective(Objective::success(99.0))
                .objective(Objective::latency(Duration::from_millis(250), 95.0)),
        );
    let port = std::env::var("AXUM_PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("serving http://{}/metrics", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Requests in flight have finished and been recorded; `_obs` flushes the spans on drop.
    Ok(())
}
