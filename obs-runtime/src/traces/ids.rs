//! The W3C ids of a span: how obs makes them and keeps them in the span's extensions.

use core::cell::Cell;
use core::fmt::Write as _;
use std::sync::Arc;

use super::tail::Tally;

/// The ids of a span, kept in its extensions by the trace layer, sampled or not: what JSON
/// log lines carry, what a child inherits, what `traceparent` is written from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanIds {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) sampled: bool,
}

/// What an unsampled span keeps in its extensions: its ids and the caller's `tracestate`, to
/// pass on unchanged. A few words (the state is shared, not copied), never a record. As a
/// parent's context, also its local trace's tail-sampling hold, which a child joins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpanContext {
    pub(crate) ids: SpanIds,
    pub(crate) trace_state: Option<Arc<str>>,
    pub(crate) tally: Option<Tally>,
}

/// Lowercase hex, as W3C trace context writes ids.
pub(crate) fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// `bytes` as lowercase hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    hex(&mut out, bytes);
    out
}

thread_local! {
    /// The generator's state: per thread, so making an id touches no shared cache line.
    static STATE: Cell<u64> = Cell::new(seed());
}

/// A per-thread seed from the standard library's randomly keyed hasher and the time.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

/// `SplitMix64`: a few nanoseconds, and uniform enough for ids and ratio sampling (not for
/// secrets).
#[inline]
fn next() -> u64 {
    STATE.with(|state| {
        let x = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// A new trace id: 16 random bytes, never all zero (W3C's invalid id).
pub(crate) fn trace_id() -> [u8; 16] {
    loop {
        let id = (u128::from(next()) << 64) | u128::from(next());
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

/// A new span id: 8 random bytes, never all zero.
pub(crate) fn span_id() -> [u8; 8] {
    loop {
        let id = next();
        if id != 0 {
            return id.to_be_bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_zero_and_differ() {
        let a = (trace_id(), span_id());
        let b = (trace_id(), span_id());
        assert_ne!(a, b);
        assert_ne!(a.0, [0; 16]);
        assert_ne!(a.1, [0; 8]);
        let mut out = String::new();
        hex(&mut out, &[0x0a, 0xff]);
        assert_eq!(out, "0aff");
    }
}
