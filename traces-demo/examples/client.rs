//! The client of the traces demo: places orders with `server` over HTTP, one trace per
//! order across both services. See `server.rs` for the commands.
//!
//! Each order shows a span feature: nested `#[traced]` calls, an `.await` chain, a thread and
//! a Tokio task that keep the caller's span, the `traceparent` header to the server, a panic
//! and a cancelled future recorded as errors. It prints each order's trace id.
//!
//! `TRACES_SERVER` is the server's address (default `127.0.0.1:8080`), `TRACES_ORDERS` the
//! number of orders (default 10). It serves no `/metrics`.

use std::fmt::Write as _;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use obs_runtime::{propagation, traced};
use tracing::Instrument as _;

/// Why an order could not be placed.
#[derive(Debug)]
enum ClientError {
    Io(std::io::Error),
    Refused(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "cannot reach the server: {e}"),
            ClientError::Refused(why) => write!(f, "the server refused: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Returns `Pending` once: a real suspension point for the `.await` chain.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Never completes: dropped while pending, its span ends `cancelled`.
struct Never;

impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

#[traced]
async fn price(order: u32) -> u64 {
    YieldOnce(false).await;
    u64::from(order) * 100
}

/// Awaits `price`: its span is `quote`'s child across the suspension.
#[traced]
async fn quote(order: u32) -> u64 {
    let cents = price(order).await;
    YieldOnce(false).await;
    cents
}

/// Runs on another thread, in `place_order`'s span.
#[traced]
fn audit(order: u32) -> u32 {
    order
}

/// Runs as a Tokio task, in `place_order`'s span.
#[traced]
async fn notify(order: u32) -> u32 {
    YieldOnce(false).await;
    order
}

/// Panics: the span ends with status ERROR, `panic`.
#[traced]
fn flaky(order: u32) -> u32 {
    assert!(order == 0, "the flaky dependency failed for order {order}");
    order
}

/// Never finishes: polled once, then dropped, so its span ends `cancelled`.
#[traced]
async fn give_up(order: u32) -> u32 {
    Never.await;
    order
}

/// GET /orders/N with the current span's `traceparent`.
#[traced]
fn call_server(server: &str, order: u32) -> Result<String, ClientError> {
    let mut headers = http::HeaderMap::new();
    propagation::inject_headers(&mut headers);
    let mut request =
        format!("GET /orders/{order} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n");
    for (name, value) in &headers {
        let _ = write!(
            request,
            "{name}: {}\r\n",
            value.to_str().unwrap_or_default()
        );
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(server).map_err(ClientError::Io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(ClientError::Io)?;
    stream
        .write_all(request.as_bytes())
        .map_err(ClientError::Io)?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(ClientError::Io)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    if head.starts_with("HTTP/1.1 200") {
        Ok(body.to_owned())
    } else {
        Err(ClientError::Refused(body.to_owned()))
    }
}

/// One order, one trace.
#[traced(skip(runtime))]
fn place_order(
    runtime: &tokio::runtime::Runtime,
    server: &str,
    order: u32,
) -> Result<String, ClientError> {
    let cents = futures_executor::block_on(quote(order));
    tracing::info!(order, cents, "quoted");

    // A thread keeps the span by entering it; a task by being instrumented with it.
    let span = tracing::Span::current();
    let audited = std::thread::spawn(move || span.in_scope(|| audit(order)))
        .join()
        .expect("audit thread");
    let task = notify(order).in_current_span();
    let notified = runtime
        .block_on(async move { tokio::spawn(task).await })
        .expect("notify task");
    assert_eq!((audited, notified), (order, order));

    let _ = std::panic::catch_unwind(|| flaky(order));
    let mut pending = Box::pin(give_up(order));
    let waker = std::task::Waker::noop();
    assert!(
        pending
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending()
    );
    drop(pending);

    call_server(server, order)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut obs = obs_runtime::Builder::new().without_server();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        obs = obs.service_name("shop");
    }
    let obs = obs.install()?;
    // The panics of `flaky` are expected: keep them off the terminal.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.contains("flaky dependency"));
        if !expected {
            default_hook(info);
        }
    }));

    let server = std::env::var("TRACES_SERVER").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let orders: u32 = std::env::var("TRACES_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;

    for order in 1..=orders {
        let span = tracing::info_span!("order", order);
        let trace = span.in_scope(propagation::current_trace_id);
        let result = span.in_scope(|| place_order(&runtime, &server, order));
        let trace = trace.as_deref().unwrap_or("(not sampled)");
        match result {
            Ok(body) => println!("order {order}: {body} (trace {trace})"),
            Err(e) => println!("order {order}: {e} (trace {trace})"),
        }
    }
    drop(obs); // sends the queued spans
    Ok(())
}
