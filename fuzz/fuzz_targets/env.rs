//! Arbitrary values of the `OTEL_*`/`OBS_*` variables through `Builder::install`: installed
//! or a described error, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::env(data));
