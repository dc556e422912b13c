//! A small order service with obs: a mix of ok, failing and slow calls, served at `/metrics`.
//!
//! ```text
//! cargo run --example quickstart
//! curl -s http://127.0.0.1:9464/metrics
//! ```
//!
//! It serves until Ctrl-C. `QUICKSTART_REQUESTS=N` stops the workload after `N` orders (the
//! page is still served), which makes the counts known: of every 10 orders, orders 3 and 8 run
//! out of stock (`error`), order 5 times out at the payment provider (`timeout`) and order 9 is
//! slow (about 120 ms). The usual `OTEL_EXPORTER_PROMETHEUS_HOST`/`_PORT` apply (port `0` picks
//! a free one; the URL printed says which), and `OBS_EXPORT_RULES=path` /
//! `OBS_EXPORT_DASHBOARD=path` write the generated Prometheus rules and Grafana dashboard.

use std::fmt;
use std::thread;
use std::time::Duration;

use obs_runtime::{ErrorStatus, Status, counted, in_flight, timed, traced};

/// Why an order failed.
#[derive(Debug)]
enum OrderError {
    OutOfStock { sku: u32 },
    PaymentTimeout,
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderError::OutOfStock { sku } => write!(f, "sku {sku} is out of stock"),
            OrderError::PaymentTimeout => {
                f.write_str("the payment provider did not answer in time")
            }
        }
    }
}

impl std::error::Error for OrderError {}

/// A payment timeout is its own status, so dashboards can tell it from a plain error.
impl ErrorStatus for OrderError {
    fn status(&self) -> Status {
        match self {
            OrderError::OutOfStock { .. } => Status::ERROR,
            OrderError::PaymentTimeout => Status::TIMEOUT,
        }
    }
}

/// What a successful order returns.
#[derive(Debug)]
struct Receipt {
    cents: u64,
}

struct Shop;

// A real shop's methods read its stores through `self`; this one's are rules of thumb.
#[allow(clippy::unused_self)]
#[counted]
#[timed(buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5])]
impl Shop {
    fn reserve(&self, order: u64, sku: u32) -> Result<(), OrderError> {
        if order % 5 == 3 {
            Err(OrderError::OutOfStock { sku })
        } else {
            Ok(())
        }
    }

    fn charge(&self, order: u64, cents: u64) -> Result<u64, OrderError> {
        if order % 10 == 5 {
            return Err(OrderError::PaymentTimeout);
        }
        if order % 10 == 9 {
            thread::sleep(Duration::from_millis(120));
        }
        Ok(cents)
    }
}

/// The request handler: a span per order, its count, its duration and how many run at once,
/// with objectives that the generated alert rules watch (`/obs/rules.yml`).
#[traced(skip(shop))]
#[counted(objective(success = 99.0))]
#[timed(objective(latency = "250ms", percentile = 95))]
#[in_flight]
fn handle_order(shop: &Shop, order: u64, sku: u32) -> Result<Receipt, OrderError> {
    shop.reserve(order, sku)?;
    let cents = shop.charge(order, 1_250)?;
    // The `metrics` facade lands on the same page.
    metrics::counter!("shop_revenue_cents_total").increment(cents);
    Ok(Receipt { cents })
}

fn main() -> Result<(), obs_runtime::Error> {
    let obs = obs_runtime::Builder::new()
        .service_name("quickstart-shop")
        .install()?;
    if let Some(url) = obs.metrics_url() {
        println!("serving {url}");
    }
    println!("press Ctrl-C to stop");

    let limit = std::env::var("QUICKSTART_REQUESTS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok());
    let shop = Shop;
    let (mut order, mut revenue) = (0u64, 0u64);
    loop {
        if limit.is_none_or(|limit| order < limit) {
            #[allow(clippy::cast_possible_truncation)] // a demo sku
            let sku = (order % 7) as u32;
            match handle_order(&shop, order, sku) {
                Ok(receipt) => revenue += receipt.cents,
                Err(e) => eprintln!("order {order} failed: {e}"),
            }
            order += 1;
            if limit.is_some_and(|limit| order == limit) {
                println!("workload done: {order} orders, {revenue} cents taken");
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}
