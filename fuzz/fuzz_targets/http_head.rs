//! Arbitrary bytes as an HTTP request head: parsed or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::http_head(data));
