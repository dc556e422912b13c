//! Arbitrary `traceparent`/`tracestate` values through `propagation::extract_map`: a valid
//! context carrying the header's trace id, or none; never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::traceparent(data));
