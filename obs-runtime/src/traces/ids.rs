//! The W3C ids of a span, as obs keeps them in the span's extensions and writes them.

use core::fmt::Write as _;

/// The ids of a span, kept in its extensions: what JSON log lines carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanIds {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) sampled: bool,
}

/// Lowercase hex, as W3C trace context writes ids.
pub(crate) fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}
