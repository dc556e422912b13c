//! Arbitrary label values from the call, rendered and parsed back: the same value, or counted
//! under `__overflow__`; counts exact.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::labels(data));
