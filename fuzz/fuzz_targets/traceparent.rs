//! Arbitrary `traceparent`/`tracestate` values through `propagation::extract_map`: a valid
//! context carrying the header's trace id, or none, and a propagated `tracestate` that is valid
//! and made of the header's own members; never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::traceparent(data));
