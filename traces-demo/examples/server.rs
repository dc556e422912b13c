//! The server of the traces demo: an order service over plain HTTP on loopback that continues
//! its caller's trace. `client` is the caller; together they make one trace per order.
//!
//! ```text
//! docker run --rm -p 16686:16686 -p 4317:4317 -p 4318:4318 jaegertracing/jaeger:latest
//! cargo run -p obs-traces-demo --example server   # terminal 1: serves http://127.0.0.1:8080
//! cargo run -p obs-traces-demo --example client   # terminal 2: 10 orders, then exits
//! ```
//!
//! Then open Jaeger at <http://localhost:16686>: service `shop`, one trace per order, with the
//! spans of `orders` inside. Without Jaeger, `OTEL_TRACES_EXPORTER=console` prints the spans.
//!
//! It serves until a line is entered or standard input closes, then flushes its spans and
//! exits. `TRACES_SERVER_ADDR` sets the address (port `0` picks one: the first line printed
//! says which). The usual variables apply: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OBS_LOG_FORMAT`, …;
//! `/metrics` is served as `init()` does (`OTEL_EXPORTER_PROMETHEUS_PORT`).

use std::fmt;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use obs_runtime::{counted, propagation, traced};

/// Why an order failed.
#[derive(Debug)]
enum OrderError {
    OutOfStock { sku: u32 },
    CardDeclined,
    BadRequest,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::OutOfStock { sku } => write!(f, "sku {sku} is out of stock"),
            OrderError::CardDeclined => f.write_str("the card was declined"),
            OrderError::BadRequest => f.write_str("expected GET /orders/<number>"),
        }
    }
}

impl std::error::Error for OrderError {}

/// One order: reserve the stock, charge the card. Orders 3, 8, 13… are out of stock; orders
/// 6, 13, 20… are declined.
#[traced]
#[counted]
fn handle_order(order: u32) -> Result<u64, OrderError> {
    let sku = order * 7 % 100;
    reserve(order, sku)?;
    let cents = charge(order)?;
    tracing::info!(order, cents, "order placed");
    Ok(cents)
}

#[traced]
fn reserve(order: u32, sku: u32) -> Result<(), OrderError> {
    if order % 5 == 3 {
        tracing::warn!(sku, "out of stock");
        return Err(OrderError::OutOfStock { sku });
    }
    Ok(())
}

#[traced]
fn charge(order: u32) -> Result<u64, OrderError> {
    if order % 7 == 6 {
        Err(OrderError::CardDeclined)
    } else {
        Ok(u64::from(order) * 100)
    }
}

/// Reads a request head: the path and the headers, as an `http::HeaderMap`.
fn read_request(stream: &TcpStream) -> Option<(String, http::HeaderMap)> {
    let mut reader = BufReader::new(stream.take(16 * 1024));
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = http::HeaderMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.trim().as_bytes()),
                http::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    Some((path, headers))
}

fn serve(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some((path, headers)) = read_request(&stream) else {
        return;
    };
    // The caller's `traceparent`: the spans below join its trace.
    let caller = propagation::extract_headers(&headers);
    let result = caller.in_scope(|| {
        path.strip_prefix("/orders/")
            .and_then(|n| n.parse().ok())
            .ok_or(OrderError::BadRequest)
            .and_then(handle_order)
    });
    let (status, body) = match result {
        Ok(cents) => ("200 OK", format!("charged {cents} cents")),
        Err(e @ OrderError::BadRequest) => ("400 Bad Request", e.to_string()),
        Err(e) => ("409 Conflict", e.to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut obs = obs_runtime::Builder::new();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        obs = obs.service_name("orders");
    }
    let obs = obs.install()?;

    let addr = std::env::var("TRACES_SERVER_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });

    // Serve until a line is entered or stdin closes; then the guard flushes the spans.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(obs);
    Ok(())
}
