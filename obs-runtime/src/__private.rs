//! Public only for obs's own crates, in four groups:
//!
//! - at the top, what the attributes' expansion names (`::obs_runtime::__private::Spec`, ...);
//! - `shared`, the values obs-macros keeps copies of, which its tests compare with these;
//! - `live`, the live page's renderer for its bench;
//! - `fuzz`, with `--cfg fuzzing` only (`cargo fuzz` sets it; the stable replay of the
//!   corpus in CI sets it by hand), the parsers the fuzz targets drive.

pub use crate::autoref::{
    ArgDebug, ArgOther, ArgTyped, Autoref, DescribeAny, DescribeDisplay, DescribeResult, RetAny,
    RetOk, Typed, ViaAny, ViaBothStatus, ViaErrorStatus, ViaOkStatus, ViaResult, ViaReturnStatus,
};
pub use crate::metrics::FnMeta;
pub use crate::metrics::catalog::Objective;
pub use crate::metrics::guard::{Counted, InFlight, Timed};
pub use crate::metrics::labelled::{LabelValue, Labelled};
pub use crate::metrics::site::{CounterSite, GaugeSite, HistogramSite, SITES, Site, Spec};
pub use crate::status::Status;
pub use crate::traces::{InSpan, Traced};
pub use {linkme, tracing};

/// Everything the expansion of `#[traced]` needs at once.
pub use tracing::{Level, Span, field::Empty};

/// Calls `f`. The expansion passes the body's closure here, where `FnOnce` is expected, so
/// that the closure is an `FnOnce` one and may return a reborrow of what it captured.
#[inline]
pub fn call_once<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

/// Returns `f`, typed as an `FnOnce` closure for the same reason as [`call_once`].
#[inline]
pub fn once<R, F: FnOnce() -> R>(f: F) -> F {
    f
}

/// The live page's rendering, for `benches/live.rs` (a page of many functions timed without
/// a server).
pub use crate::live::bench as live;

/// One OTLP metrics push, encoded as the pusher encodes it (cumulative, the page gathered as
/// `render()` gathers it) into `out`: `benches/metrics_push.rs`. Returns its data points.
#[cfg(feature = "otlp")]
pub fn otlp_metrics_encode(out: &mut Vec<u8>) -> u64 {
    crate::page::bench_push_encode(out)
}

/// The subscriber `init()` installs, with its default filters and the log format given, built
/// but not installed: `benches/spans.rs` measures spans under it beside a bare `Registry`.
pub fn init_subscriber(format: crate::logs::LogFormat) -> tracing::Dispatch {
    crate::setup::subscriber::default_dispatch(format)
}

/// The values obs-macros writes into the expansion from copies of its own (it cannot depend
/// on this crate): its tests compare each copy with the one here.
pub mod shared {
    pub use crate::metrics::site::{CALLS_FAMILY, DURATION_FAMILY, IN_FLIGHT_FAMILY};
    pub use crate::status::BUILTIN as BUILTIN_STATUSES;
    pub use crate::traces::span::{MAX_OPEN_ARGS, SPAN_FIELD_NAMES};
}

/// The parsers of untrusted input that `fuzz/` drives directly.
#[cfg(fuzzing)]
pub mod fuzz {
    /// Parses an HTTP request head as the `/metrics` server does: `Some((method, path))`, or
    /// `None` for a head it refuses.
    pub fn parse_request_head(head: &[u8]) -> Option<(&str, &str)> {
        crate::serve::parse_head(head)
            .ok()
            .map(|r| (r.method, r.path))
    }

    /// Whether the server answers the request head with OpenMetrics: `None` for a head it
    /// refuses.
    pub fn request_wants_openmetrics(head: &[u8]) -> Option<bool> {
        let request = crate::serve::parse_head(head).ok()?;
        Some(request.accept.is_some_and(crate::serve::wants_openmetrics))
    }

    /// Whether the server answers the request head with the protobuf page: `None` for a head
    /// it refuses.
    pub fn request_wants_protobuf(head: &[u8]) -> Option<bool> {
        let request = crate::serve::parse_head(head).ok()?;
        Some(
            request.accept.map(crate::serve::page_format)
                == Some(crate::serve::PageFormat::Protobuf),
        )
    }
}
