//! `record!`: a field of the call's own span, filled from the body, checked at compile time
//! (the undeclared case is `tests/ui/fail/record_undeclared_field.rs`).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use obs_runtime::{record, traced};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;

use super::{capture_all, field};

#[traced(fields(ticket, seat.row, r#type))]
fn book(seat: u32) -> u64 {
    let ticket = 1000 + u64::from(seat);
    record!(ticket = ticket);
    record!(seat.row = %(seat / 10));
    record!(r#type = ?Some("aisle"));
    record!(seat = "upgraded");
    // Into `book`'s span, not the span the body is in now.
    let inner = tracing::info_span!("inner", ticket = tracing::field::Empty);
    let _entered = inner.enter();
    record!(ticket = ticket + 1);
    ticket
}

#[test]
fn record_writes_declared_fields_typed_into_the_calls_own_span() {
    let c = capture_all(|| {
        book(17);
    });
    let span = c.span("book");
    assert_eq!(field(span, "ticket"), Some("1018"));
    assert_eq!(span.types["ticket"], "u64");
    assert_eq!(field(span, "seat.row"), Some("1"));
    assert_eq!(
        span.types["seat.row"], "debug",
        "`%` is recorded as Display text"
    );
    assert_eq!(field(span, "type"), Some("Some(\"aisle\")"));
    // An argument is a declared field too: the body's value replaces the argument's.
    assert_eq!(field(span, "seat"), Some("upgraded"));
    assert_eq!(span.types["seat"], "str");
    assert_eq!(field(c.span("inner"), "ticket"), None);
}

#[traced(fields(attempts))]
async fn retry(times: u32) -> u32 {
    for attempt in 1..=times {
        record!(attempts = attempt);
        super::Yield(false).await;
    }
    times
}

#[test]
fn record_in_an_async_body_reaches_its_span_across_awaits() {
    let c = capture_all(|| {
        futures_executor::block_on(retry(3));
    });
    let span = c.span("retry");
    assert_eq!(field(span, "attempts"), Some("3"));
    assert_eq!(span.types["attempts"], "u64");
}

static EVALUATED: AtomicU32 = AtomicU32::new(0);

fn costly() -> u32 {
    EVALUATED.fetch_add(1, Relaxed);
    42
}

#[traced(level = "debug", fields(answer))]
fn quiet() {
    record!(answer = costly());
}

#[test]
fn record_evaluates_nothing_when_the_level_is_off() {
    // The subscriber's own filter, not a per-layer one (under which the registry still makes
    // the span): other tests' subscribers raise the global level hint meanwhile.
    let off = tracing_subscriber::registry().with(LevelFilter::INFO);
    tracing::subscriber::with_default(off, quiet);
    assert_eq!(EVALUATED.load(Relaxed), 0);
    let c = capture_all(quiet);
    assert_eq!(field(c.span("quiet"), "answer"), Some("42"));
    assert_eq!(EVALUATED.load(Relaxed), 1);
}

struct Till {
    fee: u32,
}

impl Till {
    #[traced(skip(self), fields(total))]
    fn close(&self, amounts: &[u32]) -> u32 {
        let total = amounts.iter().sum::<u32>() + self.fee;
        record!(total = total);
        total
    }
}

#[test]
fn record_works_in_methods() {
    let c = capture_all(|| {
        Till { fee: 1 }.close(&[1, 2, 3]);
    });
    assert_eq!(field(c.span("close"), "total"), Some("7"));
}
