//! Statuses chosen by the types: `ReturnStatus`, `ErrorStatus`.

use futures_executor::block_on;
use obs_runtime::{ErrorStatus, ReturnStatus, Status, counted, in_flight, timed, traced};

use crate::harness::{YieldOnce, assert_calls, setup};

struct Response {
    code: u16,
}

impl ReturnStatus for Response {
    fn status(&self) -> Status {
        match self.code {
            500.. => Status::ERROR,
            429 => Status::BLOCKED,
            _ => Status::OK,
        }
    }
}

#[derive(Debug)]
enum CallError {
    TimedOut,
    Forbidden,
    Throttled,
    Broken,
}

impl ErrorStatus for CallError {
    fn status(&self) -> Status {
        match self {
            CallError::TimedOut => Status::TIMEOUT,
            CallError::Forbidden => Status::BLOCKED,
            CallError::Throttled => Status::custom("throttled"),
            CallError::Broken => Status::ERROR,
        }
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn respond(code: u16) -> Response {
    Response { code }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn call_out(fail: Option<CallError>) -> Result<u8, CallError> {
    match fail {
        Some(e) => Err(e),
        None => Ok(1),
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn call_out_async(fail: Option<CallError>) -> Result<u8, CallError> {
    YieldOnce(false).await;
    fail.map_or(Ok(2), Err)
}

#[test]
fn statuses_chosen_by_return_and_error_types() {
    setup();
    for code in [200, 404, 429, 500, 503] {
        let _ = respond(code);
    }
    assert_calls("respond", &[("ok", 2), ("error", 2), ("blocked", 1)]);

    let _ = call_out(None);
    let _ = call_out(Some(CallError::TimedOut));
    let _ = call_out(Some(CallError::TimedOut));
    let _ = call_out(Some(CallError::Forbidden));
    let _ = call_out(Some(CallError::Throttled));
    let _ = call_out(Some(CallError::Broken));
    assert_calls(
        "call_out",
        &[
            ("ok", 1),
            ("error", 1),
            ("timeout", 2),
            ("blocked", 1),
            ("throttled", 1),
        ],
    );

    let _ = block_on(call_out_async(Some(CallError::Forbidden)));
    let _ = block_on(call_out_async(None));
    assert_calls("call_out_async", &[("ok", 1), ("blocked", 1)]);
}
