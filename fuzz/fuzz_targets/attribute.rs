//! Arbitrary attribute arguments and items through the whole expansion of each attribute:
//! the result is tokens (an expansion, or the item beside a spanned error), never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| obs_fuzz::attribute(data));
