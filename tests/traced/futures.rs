//! Futures spanned as `tracing::Instrumented` spans them: the span is entered for every poll
//! and once more while the spent future is dropped, so a completed call reads `enter, exit,
//! enter, exit, close`; a fn that returns `async move { .. }` or `Box::pin(async move { .. })`
//! (async-trait's methods) has that future spanned, not the statements that build it.

use std::future::Future;
use std::pin::Pin;

use obs_runtime::traced;

use super::{Refused, Yield, capture_all, field, poll_once_and_drop};

/// Logs an event when dropped: a destructor that runs when its future is dropped.
struct LogsOnDrop;

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        tracing::info!(dropped = true);
    }
}

#[traced]
async fn checkout(cart: u32) -> u32 {
    tracing::info!(polled = cart);
    Yield::default().await;
    cart
}

#[test]
fn a_completed_call_enters_its_span_once_more_to_drop_its_future() {
    let c = capture_all(|| {
        assert_eq!(futures_executor::block_on(checkout(3)), 3);
    });
    assert_eq!(
        c.log,
        [
            "enter checkout",
            "event polled",
            "exit checkout",
            "enter checkout",
            "exit checkout",
            "enter checkout",
            "exit checkout",
            "close checkout",
        ],
        "two polls, then the drop in the span"
    );
}

#[traced]
async fn reserve(seat: u32) -> Result<u32, Refused> {
    Yield::default().await;
    if seat == 0 { Err(Refused) } else { Ok(seat) }
}

#[traced]
async fn book(seat: u32) -> Result<u32, Refused> {
    let seat = reserve(seat).await?;
    Ok(seat + 1)
}

#[test]
fn a_nested_call_is_dropped_and_closed_before_the_outer_exits() {
    let c = capture_all(|| {
        assert!(futures_executor::block_on(book(0)).is_err());
    });
    assert_eq!(
        c.log,
        [
            "enter book",
            "enter reserve",
            "exit reserve",
            "exit book",
            "enter book",
            "enter reserve",
            "exit reserve",
            "enter reserve",
            "exit reserve",
            "close reserve",
            "exit book",
            "enter book",
            "exit book",
            "close book",
        ]
    );
    // What obs adds is still there: the failure of both calls.
    assert_eq!(field(c.span("reserve"), "otel.status_code"), Some("ERROR"));
    assert_eq!(field(c.span("book"), "otel.status_code"), Some("ERROR"));
}

#[traced]
async fn hold(_guard_id: u32) {
    let _guard = LogsOnDrop;
    std::future::pending::<()>().await;
}

#[test]
fn a_future_dropped_unfinished_drops_in_its_span_and_is_cancelled_once() {
    let c = capture_all(|| poll_once_and_drop(hold(1)));
    assert_eq!(
        c.log,
        [
            "enter hold",
            "exit hold",
            "enter hold",
            "event dropped",
            "exit hold",
            "close hold",
        ]
    );
    let dropped = c.events.iter().find(|e| e.fields.contains_key("dropped"));
    assert_eq!(dropped.and_then(|e| e.span.as_deref()), Some("hold"));
    let span = c.span("hold");
    assert_eq!(field(span, "otel.status_description"), Some("cancelled"));
    let status_records = c
        .records
        .iter()
        .filter(|r| *r == "hold otel.status_code")
        .count();
    assert_eq!(status_records, 1, "{:?}", c.records);
}

#[traced(err)]
fn quote(amount: u32) -> impl Future<Output = Result<u32, Refused>> {
    tracing::info!(building = amount);
    async move {
        tracing::info!(polled = amount);
        Yield::default().await;
        if amount == 0 {
            Err(Refused)
        } else {
            Ok(amount * 2)
        }
    }
}

#[traced]
fn boxed_quote(amount: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    tracing::info!(building = amount);
    Box::pin(async move {
        tracing::info!(polled = amount);
        amount
    })
}

#[test]
fn a_returned_async_block_is_spanned_not_the_statements_before_it() {
    let c = capture_all(|| {
        assert!(futures_executor::block_on(quote(0)).is_err());
    });
    assert_eq!(
        c.log,
        [
            "event building",
            "enter quote",
            "event polled",
            "exit quote",
            "enter quote",
            "event error",
            "exit quote",
            "enter quote",
            "exit quote",
            "close quote",
        ]
    );
    let building = c.events.iter().find(|e| e.fields.contains_key("building"));
    assert_eq!(building.and_then(|e| e.span.as_deref()), None);
    let span = c.span("quote");
    assert_eq!(field(span, "amount"), Some("0"), "arguments, at call time");
    assert_eq!(field(span, "otel.status_code"), Some("ERROR"));

    let c = capture_all(|| {
        assert_eq!(futures_executor::block_on(boxed_quote(4)), 4);
    });
    assert_eq!(
        c.log,
        [
            "event building",
            "enter boxed_quote",
            "event polled",
            "exit boxed_quote",
            "enter boxed_quote",
            "exit boxed_quote",
            "close boxed_quote",
        ]
    );
}

#[traced]
fn prebuilt(amount: u32) -> impl Future<Output = u32> {
    tracing::info!(building = amount);
    std::future::ready(amount)
}

#[test]
fn another_future_returning_body_keeps_its_statements_in_the_span() {
    let c = capture_all(|| {
        assert_eq!(futures_executor::block_on(prebuilt(5)), 5);
    });
    let building = c.events.iter().find(|e| e.fields.contains_key("building"));
    assert_eq!(building.and_then(|e| e.span.as_deref()), Some("prebuilt"));
}

#[async_trait::async_trait]
trait Store {
    async fn load(&self, key: u32) -> Result<u32, Refused>;
}

#[derive(Debug)]
struct Memory(u32);

#[async_trait::async_trait]
impl Store for Memory {
    #[traced(err, fields(store = "memory"))]
    async fn load(&self, key: u32) -> Result<u32, Refused> {
        tracing::info!(polled = key);
        Yield::default().await;
        if key == self.0 { Ok(key) } else { Err(Refused) }
    }
}

#[test]
fn async_trait_methods_are_spanned_around_their_future() {
    let c = capture_all(|| {
        let store: &dyn Store = &Memory(7);
        assert!(futures_executor::block_on(store.load(8)).is_err());
    });
    assert_eq!(
        c.log,
        [
            "enter load",
            "event polled",
            "exit load",
            "enter load",
            "event error",
            "exit load",
            "enter load",
            "exit load",
            "close load",
        ]
    );
    let span = c.span("load");
    assert_eq!(field(span, "self"), Some("Memory(7)"));
    assert_eq!(field(span, "key"), Some("8"));
    assert_eq!(field(span, "store"), Some("memory"));
    assert_eq!(
        field(span, "otel.status_description"),
        Some("card refused by issuer")
    );
}
