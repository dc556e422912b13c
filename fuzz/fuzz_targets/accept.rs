//! Arbitrary `Accept` headers: the page's format is chosen, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::accept(data));
