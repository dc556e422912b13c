//! Cost per request of obs's HTTP layer on an axum router, beside the same router without any
//! layer and with axum-prometheus, requests served in-process through `tower::Service::call`
//! (no sockets) and their bodies read to the end, all in one run:
//!
//! ```text
//! cargo bench -p obs-benches-http --bench http
//! ```
//!
//! No `tracing` subscriber is installed, so the spans are level-disabled for every case, as
//! they are for a service whose trace filter leaves them out; what is measured is the
//! metrics path: the route, the labels, the histogram and gauge, the body wrapper.

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use tower::{Service as _, ServiceExt};

async fn order() -> &'static str {
    "order"
}

fn router() -> Router {
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/health", get(|| async { "ok" }))
}

/// The router as `axum::serve` runs it: `with_state(())` turns its handlers into routes once.
/// Called without it, axum does that on every request, layers included, which is not what a
/// served app pays.
fn served(router: Router) -> Router {
    router.with_state(())
}

/// Serves one request through `app` and reads its body, on a current-thread runtime (axum-
/// prometheus spawns its upkeep task on it).
fn serve(rt: &tokio::runtime::Runtime, app: &mut Router) -> usize {
    rt.block_on(async {
        let request = http::Request::get("/orders/7").body(Body::empty()).unwrap();
        let ready = ServiceExt::<http::Request<Body>>::ready(app).await.unwrap();
        let response = ready.call(request).await.unwrap();
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .len()
    })
}

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("http");
    let mut bare = served(router());
    group.bench_function("bare", |b| b.iter(|| black_box(serve(&rt, &mut bare))));
    let mut obs = served(router().layer(obs_runtime::http::ServerLayer::new()));
    group.bench_function("obs_layer", |b| b.iter(|| black_box(serve(&rt, &mut obs))));
    let (prometheus, _handle) = {
        let _in_runtime = rt.enter();
        axum_prometheus::PrometheusMetricLayer::pair()
    };
    let mut peer = served(router().layer(prometheus));
    group.bench_function("axum_prometheus", |b| {
        b.iter(|| black_box(serve(&rt, &mut peer)));
    });
    group.finish();
}

criterion_group!(benches, http);
criterion_main!(benches);
