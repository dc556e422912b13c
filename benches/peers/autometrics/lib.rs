//! The bench's function under `#[autometrics]`, with whichever backend this build enabled.
#![allow(missing_docs)]

use autometrics::autometrics;

/// The same body as obs-benches' functions.
#[inline(never)]
fn work(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

#[autometrics]
#[inline(never)]
pub fn autometrics_fn(x: u64) -> u64 {
    work(x)
}

#[autometrics]
#[inline(never)]
pub async fn autometrics_async(x: u64) -> u64 {
    work(x)
}

/// The backend this build records into, as cargo features name it.
pub const BACKEND: &str = if cfg!(feature = "metrics") {
    "metrics"
} else if cfg!(feature = "opentelemetry") {
    "opentelemetry"
} else if cfg!(feature = "prometheus-client") {
    "prometheus-client"
} else {
    "prometheus"
};
