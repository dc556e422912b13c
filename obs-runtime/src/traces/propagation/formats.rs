//! The propagators `OTEL_PROPAGATORS` names: W3C `tracecontext` and `baggage`, Zipkin's B3
//! (`b3` single header, `b3multi`), Jaeger's `uber-trace-id`. Which ones run is one process-wide
//! setting, read without a lock by every extraction and injection.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::super::context::Remote;
use super::super::ids::to_hex;
use super::w3c::{self, TRACEPARENT, TRACESTATE, hex_id};
use super::{Carrier, Set};

/// A context format: `OTEL_PROPAGATORS`, or [`Builder::propagators`](crate::Builder::propagators).
///
/// Extraction tries the configured formats in their order, and the first that finds a valid
/// context wins; injection writes every configured format.
///
/// ```
/// use obs_runtime::propagation::Propagator;
///
/// let obs = obs_runtime::Builder::new()
///     .without_server()
///     .propagators([Propagator::TraceContext, Propagator::Baggage, Propagator::B3Multi])
///     .install()?;
/// # Ok::<(), obs_runtime::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Propagator {
    /// W3C Trace Context, `traceparent` and `tracestate`: `tracecontext`.
    TraceContext,
    /// W3C Baggage, the `baggage` header: `baggage`.
    Baggage,
    /// Zipkin's B3 single header, `b3: {trace id}-{span id}-{sampled}`: `b3`.
    B3,
    /// Zipkin's B3 multiple headers, `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` (and
    /// `X-B3-Flags` read for debug): `b3multi`.
    B3Multi,
    /// Jaeger's `uber-trace-id: {trace id}:{span id}:{parent id}:{flags}`: `jaeger`.
    Jaeger,
}

const ALL: [(Propagator, &str); 5] = [
    (Propagator::TraceContext, "tracecontext"),
    (Propagator::Baggage, "baggage"),
    (Propagator::B3, "b3"),
    (Propagator::B3Multi, "b3multi"),
    (Propagator::Jaeger, "jaeger"),
];

/// What `OTEL_PROPAGATORS` accepts, for the message of a bad value.
const ACCEPTED: &str = "a comma-separated list of tracecontext, baggage, b3, b3multi, jaeger, \
                        or none (default tracecontext,baggage)";

/// The configured propagators, in order, 4 bits each (`1 + index` into `ALL`), lowest first;
/// 0 ends the list. `tracecontext,baggage` until `init()` says otherwise.
static CONFIGURED: AtomicU64 = AtomicU64::new(0x21);

/// Sets the process's propagators (an empty list propagates nothing).
pub(crate) fn set_configured(list: &[Propagator]) {
    let mut packed = 0u64;
    for (slot, p) in list.iter().take(16).enumerate() {
        let code = ALL.iter().position(|(q, _)| q == p).unwrap_or(0) as u64 + 1;
        packed |= code << (4 * slot);
    }
    CONFIGURED.store(packed, Relaxed);
}

/// The process's propagators, in order.
pub(crate) fn configured() -> impl Iterator<Item = Propagator> {
    let mut packed = CONFIGURED.load(Relaxed);
    core::iter::from_fn(move || {
        let code = (packed & 0xf) as usize;
        packed >>= 4;
        (code != 0).then(|| ALL[code - 1].0)
    })
}

/// Reads `OTEL_PROPAGATORS`: names separated by commas, `none` for no propagation. `Err`
/// names what is accepted.
pub(crate) fn parse_list(value: &str) -> Result<Vec<Propagator>, String> {
    let mut list = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let lower = name.to_ascii_lowercase();
        if lower == "none" {
            none = true;
            continue;
        }
        let Some((p, _)) = ALL.iter().find(|(_, n)| *n == lower) else {
            return Err(format!(
                "{name:?} is not a propagator obs knows: expected {ACCEPTED}"
            ));
        };
        if !list.contains(p) {
            list.push(*p);
        }
    }
    if none && !list.is_empty() {
        return Err(format!(
            "none cannot be listed with other propagators: expected {ACCEPTED}"
        ));
    }
    Ok(list)
}

/// The trace context `format` finds in `carrier`, if valid.
pub(crate) fn extract(format: Propagator, carrier: &dyn Carrier) -> Option<Remote> {
    match format {
        Propagator::TraceContext => {
            let (trace_id, span_id, sampled) =
                w3c::single_traceparent(&carrier.values(TRACEPARENT))?;
            Some(Remote {
                trace_id,
                span_id,
                sampled,
                trace_state: w3c::parse_tracestate(&carrier.values(TRACESTATE)),
            })
        }
        Propagator::B3 => b3_single(single(carrier, B3)?),
        Propagator::B3Multi => b3_multi(carrier),
        Propagator::Jaeger => jaeger(single(carrier, UBER_TRACE_ID)?),
        Propagator::Baggage => None,
    }
}

/// Writes `remote` in `format` (baggage is written by its own module).
pub(crate) fn inject(format: Propagator, remote: &Remote, set: Set<'_>) {
    let flag = if remote.sampled { "1" } else { "0" };
    let (trace, span) = (to_hex(&remote.trace_id), to_hex(&remote.span_id));
    match format {
        Propagator::TraceContext => {
            set(TRACEPARENT, w3c::traceparent(remote));
            if let Some(state) = &remote.trace_state {
                set(TRACESTATE, w3c::limit_tracestate(state).into_owned());
            }
        }
        Propagator::B3 => set(B3, format!("{trace}-{span}-{flag}")),
        Propagator::B3Multi => {
            set(B3_TRACE_ID, trace);
            set(B3_SPAN_ID, span);
            set(B3_SAMPLED, flag.to_owned());
        }
        Propagator::Jaeger => set(UBER_TRACE_ID, format!("{trace}:{span}:0:{flag}")),
        Propagator::Baggage => {}
    }
}

const B3: &str = "b3";
const B3_TRACE_ID: &str = "x-b3-traceid";
const B3_SPAN_ID: &str = "x-b3-spanid";
const B3_SAMPLED: &str = "x-b3-sampled";
const B3_FLAGS: &str = "x-b3-flags";
const UBER_TRACE_ID: &str = "uber-trace-id";

/// The one value of a header, trimmed; none when absent or repeated.
fn single<'a>(carrier: &'a dyn Carrier, name: &str) -> Option<&'a str> {
    match carrier.values(name)[..] {
        [one] => Some(one.trim()),
        _ => None,
    }
}

/// A 64- or 128-bit trace id in hex (any case), a 64-bit one left-padded with zeros.
fn trace_id(hex: &str) -> Option<[u8; 16]> {
    match hex.len() {
        32 => hex_id::<16>(hex.as_bytes(), true),
        16 => {
            let low = hex_id::<8>(hex.as_bytes(), true)?;
            let mut id = [0u8; 16];
            id[8..].copy_from_slice(&low);
            Some(id)
        }
        _ => None,
    }
}

/// B3's sampling state: `1`, `d` (debug) or `true` sample; `0` or `false` do not. A context
/// without one (the receiver decides, in B3's words) is taken as sampled, as a
/// parent-based sampler would decide for a root.
fn b3_sampled(value: Option<&str>) -> Option<bool> {
    match value.map(str::trim) {
        None | Some("1" | "d" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        Some(_) => None,
    }
}

/// `{trace id}-{span id}[-{sampled}[-{parent span id}]]`; a lone `0`, `1` or `d` carries a
/// decision without a context, which is not one to continue.
fn b3_single(value: &str) -> Option<Remote> {
    let mut parts = value.split('-');
    let trace_id = trace_id(parts.next()?)?;
    let span_id = hex_id::<8>(parts.next()?.as_bytes(), true)?;
    let sampled = b3_sampled(parts.next())?;
    if let Some(parent) = parts.next() {
        hex_id::<8>(parent.as_bytes(), true)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Remote {
        trace_id,
        span_id,
        sampled,
        trace_state: None,
    })
}

fn b3_multi(carrier: &dyn Carrier) -> Option<Remote> {
    let trace_id = trace_id(single(carrier, B3_TRACE_ID)?)?;
    let span_id = hex_id::<8>(single(carrier, B3_SPAN_ID)?.as_bytes(), true)?;
    let debug = single(carrier, B3_FLAGS) == Some("1");
    let sampled = debug || b3_sampled(single(carrier, B3_SAMPLED))?;
    Some(Remote {
        trace_id,
        span_id,
        sampled,
        trace_state: None,
    })
}

/// `{trace id}:{span id}:{parent span id}:{flags}`, ids in hex of up to 32 and 16 digits
/// (Jaeger drops leading zeros), flags in hex (bit 1 sampled, bit 2 debug); the colons may
/// come URL-encoded.
fn jaeger(value: &str) -> Option<Remote> {
    let value = value.replace("%3A", ":").replace("%3a", ":");
    let mut parts = value.split(':');
    let (trace, span, _parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || trace.len() > 32 || span.len() > 16 {
        return None;
    }
    let trace_id = hex_id::<16>(format!("{trace:0>32}").as_bytes(), true)?;
    let span_id = hex_id::<8>(format!("{span:0>16}").as_bytes(), true)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Remote {
        trace_id,
        span_id,
        sampled: flags & 0b11 != 0,
        trace_state: None,
    })
}

#[cfg(test)]
mod tests;
