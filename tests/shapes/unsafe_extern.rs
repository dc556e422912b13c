//! 5. `unsafe fn`, `extern "C" fn`, `async unsafe fn`, `-> !`.
#![allow(unsafe_code)] // `unsafe fn`, `extern "C" fn` and `async unsafe fn` are the shapes under test.

use futures_executor::block_on;
use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{YieldOnce, assert_calls, panic_payload, setup};

/// # Safety
/// `p` must be valid for reads.
#[traced]
#[counted]
#[timed]
#[in_flight]
unsafe fn read_raw(p: *const u8) -> u8 {
    // SAFETY: the caller promises `p` is valid.
    unsafe { *p }
}

#[counted]
#[traced]
#[in_flight]
#[timed]
extern "C" fn c_add(a: i32, b: i32) -> i32 {
    a + b
}

/// # Safety
/// `p` must be valid for reads.
#[counted]
#[timed]
#[traced]
#[in_flight]
unsafe extern "C" fn c_read(p: *const i32) -> i32 {
    // SAFETY: the caller promises `p` is valid.
    unsafe { *p }
}

/// # Safety
/// `p` must be valid for reads until the future completes.
#[traced]
#[counted]
#[timed]
#[in_flight]
async unsafe fn read_raw_later(p: *const u8) -> u8 {
    YieldOnce(false).await;
    // SAFETY: the caller promises `p` is valid.
    unsafe { *p }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn diverge(message: &'static str) -> ! {
    panic!("{message}")
}

#[test]
fn unsafe_extern_and_never() {
    setup();
    let byte = 42u8;
    // SAFETY: `byte` is alive.
    assert_eq!(unsafe { read_raw(&raw const byte) }, 42);
    let add: extern "C" fn(i32, i32) -> i32 = c_add;
    assert_eq!(add(2, 3), 5);
    let n = 9;
    // SAFETY: `n` is alive.
    assert_eq!(unsafe { c_read(&raw const n) }, 9);
    // SAFETY: `byte` outlives the future.
    assert_eq!(block_on(unsafe { read_raw_later(&raw const byte) }), 42);
    let payload = panic_payload(|| diverge("never returns"));
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("never returns")
    );
    assert_calls("read_raw", &[("ok", 1)]);
    assert_calls("c_add", &[("ok", 1)]);
    assert_calls("c_read", &[("ok", 1)]);
    assert_calls("read_raw_later", &[("ok", 1)]);
    assert_calls("diverge", &[("panic", 1)]);
}
