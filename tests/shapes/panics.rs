//! 16. Panics and cancellation.

use std::future::Future;
use std::pin::Pin;

use futures_executor::block_on;
use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{
    YieldOnce, assert_calls, in_flight_now, panic_payload, poll_once, render, setup,
};

#[derive(Debug, PartialEq)]
struct Payload(u32);

#[traced]
#[counted]
#[timed]
#[in_flight]
fn panics_with_payload(n: u32) -> u32 {
    if n > 0 {
        std::panic::panic_any(Payload(n));
    }
    n
}

#[in_flight]
#[counted]
#[traced]
#[timed]
fn panics_with_message(n: u32) -> Result<u32, String> {
    assert!(n < 10, "{n} is too big");
    Ok(n)
}

struct Machine {
    state: u32,
}

impl Machine {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn step(&mut self) -> u32 {
        self.state += 1;
        assert!(self.state < 3, "state {} out of range", self.state);
        self.state
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn panics_later(n: u32) -> u32 {
    YieldOnce(false).await;
    if n > 0 {
        std::panic::panic_any(Payload(n));
    }
    n
}

#[test]
fn panics_are_recorded_and_continue_unchanged() {
    setup();
    assert_eq!(panics_with_payload(0), 0);
    let payload = panic_payload(|| panics_with_payload(7));
    assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(7)));
    assert_calls("panics_with_payload", &[("ok", 1), ("panic", 1)]);

    assert_eq!(panics_with_message(1), Ok(1));
    let payload = panic_payload(|| panics_with_message(11));
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("11 is too big")
    );
    assert_calls("panics_with_message", &[("ok", 1), ("panic", 1)]);

    let mut machine = Machine { state: 0 };
    assert_eq!(machine.step(), 1);
    assert_eq!(machine.step(), 2);
    let payload = panic_payload(|| machine.step());
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("state 3 out of range")
    );
    assert_calls("Machine::step", &[("ok", 2), ("panic", 1)]);

    let payload = panic_payload(|| block_on(panics_later(5)));
    assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(5)));
    assert_eq!(block_on(panics_later(0)), 0);
    assert_calls("panics_later", &[("ok", 1), ("panic", 1)]);
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn waits_forever(n: u32) -> u32 {
    std::future::pending::<()>().await;
    n
}

#[timed]
#[counted]
#[in_flight]
#[traced]
fn waits_forever_impl() -> impl Future<Output = Result<(), String>> {
    async {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[counted]
#[traced]
#[in_flight]
#[timed]
fn waits_forever_boxed() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(std::future::pending())
}

#[test]
fn dropped_futures_are_cancelled() {
    setup();
    let mut fut = Box::pin(waits_forever(1));
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(in_flight_now(&render(), "waits_forever"), 1);
    drop(fut);
    assert_calls("waits_forever", &[("cancelled", 1)]);

    // Never polled: an async fn has not started, so nothing is recorded.
    drop(waits_forever(2));
    assert_calls("waits_forever", &[("cancelled", 1)]);

    let mut fut = Box::pin(waits_forever_impl());
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(in_flight_now(&render(), "waits_forever_impl"), 1);
    drop(fut);
    assert_calls("waits_forever_impl", &[("cancelled", 1)]);

    let mut fut = waits_forever_boxed();
    assert!(poll_once(fut.as_mut()).is_pending());
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(in_flight_now(&render(), "waits_forever_boxed"), 1);
    drop(fut);
    assert_calls("waits_forever_boxed", &[("cancelled", 1)]);

    // A future-returning fn started at call time: dropping its future unpolled cancels it.
    drop(waits_forever_boxed());
    assert_calls("waits_forever_boxed", &[("cancelled", 2)]);
}
