//! Arbitrary bytes as an HTTP request head: parsed or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = obs_runtime::__private::parse_request_head(data);
    let _ = obs_runtime::__private::request_wants_openmetrics(data);
});
