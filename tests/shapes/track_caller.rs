//! `#[track_caller]`: the body stays inline, its `return`s turned into breaks, so the caller's
//! location is what `Location::caller()` and an `unwrap()` in the body see.

use std::future::Future;
use std::panic::{self, Location};

use futures_executor::block_on;
use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{YieldOnce, assert_calls, panic_payload, setup};

#[traced]
#[counted]
#[timed]
#[in_flight]
#[track_caller]
fn caller_line() -> u32 {
    Location::caller().line()
}

#[track_caller]
#[counted]
#[traced]
#[timed]
#[in_flight]
fn caller_or_error(fail: bool) -> Result<u32, String> {
    if fail {
        return Err(format!("failed at line {}", Location::caller().line()));
    }
    let mut n = 0;
    // A user label named like the expansion's, and a `return` inside a loop.
    'obs_body: loop {
        n += 1;
        if n == 2 {
            break 'obs_body;
        }
    }
    for i in 0.. {
        if i == n {
            return Ok(Location::caller().line());
        }
    }
    unreachable!()
}

#[in_flight]
#[timed]
#[track_caller]
#[counted]
#[traced]
fn unwrap_at_caller(value: Option<u32>) -> u32 {
    // The `return` of a closure and of a nested fn are their own.
    let double = |v: u32| -> u32 {
        if v > 100 {
            return 0;
        }
        v * 2
    };
    fn triple(v: u32) -> u32 {
        if v > 100 {
            return 0;
        }
        v * 3
    }
    assert!(
        value != Some(0),
        "zero at line {}",
        Location::caller().line()
    );
    triple(double(value.unwrap()))
}

struct Ledger {
    entries: Vec<u32>,
}

impl Ledger {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    #[track_caller]
    fn last_mut(&mut self) -> &mut u32 {
        if self.entries.is_empty() {
            self.entries.push(0);
        }
        self.entries.last_mut().unwrap()
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    #[track_caller]
    fn where_built(&self) -> impl Future<Output = u32> + use<> {
        let line = Location::caller().line();
        async move { line }
    }
}

/// A `?` could leave the fn without the wrapper seeing it, so this body runs in the closure
/// like any other fn's: statuses are right, but `Location::caller()` sees the closure.
#[traced]
#[counted]
#[timed]
#[in_flight]
#[track_caller]
fn caller_with_try(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n)
}

/// `#[track_caller]` does nothing on an async fn (rustc says so): its body keeps its own
/// `return`s in the async block.
#[allow(ungated_async_fn_track_caller)]
#[track_caller]
#[counted]
#[timed]
#[in_flight]
#[traced]
async fn async_tracked(fail: bool) -> Result<u8, String> {
    YieldOnce(false).await;
    if fail {
        return Err("failed".to_owned());
    }
    Ok(1)
}

/// The last location a panic of this thread reported.
fn last_panic_line() -> Option<u32> {
    LAST_PANIC_LINE.with(std::cell::Cell::get)
}

thread_local! {
    static LAST_PANIC_LINE: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// Records the line of each panic, then reports it as before.
fn record_panic_lines() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            LAST_PANIC_LINE.with(|l| l.set(info.location().map(Location::line)));
            previous(info);
        }));
    });
}

#[test]
fn track_caller_sees_the_caller() {
    setup();
    record_panic_lines();
    let line = line!() + 1;
    assert_eq!(caller_line(), line);
    assert_calls("caller_line", &[("ok", 1)]);

    let line = line!() + 1;
    assert_eq!(caller_or_error(false), Ok(line));
    let line = line!() + 1;
    assert_eq!(caller_or_error(true), Err(format!("failed at line {line}")));
    assert_calls("caller_or_error", &[("ok", 1), ("error", 1)]);

    assert_eq!(unwrap_at_caller(Some(1)), 6);
    let line = line!() + 1;
    let payload = panic_payload(|| unwrap_at_caller(None));
    assert_eq!(
        last_panic_line(),
        Some(line),
        "the unwrap panics at the caller's line"
    );
    assert!(
        payload
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("None")),
        "the unwrap's message"
    );
    let line = line!() + 1;
    let payload = panic_payload(|| unwrap_at_caller(Some(0)));
    assert_eq!(last_panic_line(), Some(line));
    assert_eq!(
        payload.downcast_ref::<String>(),
        Some(&format!("zero at line {line}"))
    );
    assert_calls("unwrap_at_caller", &[("ok", 1), ("panic", 2)]);

    let mut ledger = Ledger { entries: vec![] };
    *ledger.last_mut() += 5;
    assert_eq!(ledger.entries, [5]);
    assert_calls("Ledger::last_mut", &[("ok", 1)]);
    let line = line!() + 1;
    let fut = ledger.where_built();
    assert_eq!(block_on(fut), line);
    assert_calls("Ledger::where_built", &[("ok", 1)]);

    assert_eq!(caller_with_try("4"), Ok(4));
    assert!(caller_with_try("x").is_err());
    assert_calls("caller_with_try", &[("ok", 1), ("error", 1)]);

    assert_eq!(block_on(async_tracked(false)), Ok(1));
    assert!(block_on(async_tracked(true)).is_err());
    assert_calls("async_tracked", &[("ok", 1), ("error", 1)]);
}
