//! W3C Trace Context level 1: `traceparent` and `tracestate` read by the recommendation's
//! rules (§3.2, §3.3) and written back, the state cut to 512 bytes by its §3.3.1.5 rule.

use std::borrow::Cow;
use std::sync::Arc;

use super::super::context::Remote;
use super::super::ids::to_hex;

pub(crate) const TRACEPARENT: &str = "traceparent";
pub(crate) const TRACESTATE: &str = "tracestate";

/// The most members a `tracestate` may have (§3.3.1.1).
const MAX_MEMBERS: usize = 32;
/// The length past which a propagated `tracestate` loses members (§3.3.1.5).
const MAX_STATE_LEN: usize = 512;
/// Members longer than this go first when a `tracestate` is cut (§3.3.1.5).
const LONG_MEMBER: usize = 128;

/// Optional white space, as HTTP's field rules define it.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// One hex digit, lowercase only unless `any_case`.
fn nibble(b: u8, any_case: bool) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' if any_case => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `2 * N` hex digits (lowercase only unless `any_case`), not all zero.
pub(crate) fn hex_id<const N: usize>(text: &[u8], any_case: bool) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = nibble(pair[0], any_case)? << 4 | nibble(pair[1], any_case)?;
    }
    (out != [0; N]).then_some(out)
}

/// The fields of a `traceparent`: the caller's trace id, its span id, whether it sampled.
pub(crate) type TraceParent = ([u8; 16], [u8; 8], bool);

/// Parses one `traceparent` value (§3.2.2): `version-traceid-parentid-flags`, lowercase hex,
/// white space around it ignored. Version `00` is exactly those 55 characters; a later
/// version is read by its first four fields, which must be followed by nothing or by `-`
/// (fields the next version may add); `ff` is never valid; all-zero ids are invalid.
pub(crate) fn parse_traceparent(value: &str) -> Option<TraceParent> {
    let v = trim_ows(value).as_bytes();
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = nibble(v[0], false)? << 4 | nibble(v[1], false)?;
    let more = &v[55..];
    let valid_tail = match version {
        0xff => false,
        0x00 => more.is_empty(),
        _ => more.is_empty() || more[0] == b'-',
    };
    if !valid_tail {
        return None;
    }
    let trace = hex_id::<16>(&v[3..35], false)?;
    let span = hex_id::<8>(&v[36..52], false)?;
    let flags = nibble(v[53], false)? << 4 | nibble(v[54], false)?;
    Some((trace, span, flags & 1 == 1))
}

/// The one `traceparent` of a request: two or more mean the trace restarts (§3.2, a
/// duplicated header is an invalid one).
pub(crate) fn single_traceparent(values: &[&str]) -> Option<TraceParent> {
    match values {
        [one] => parse_traceparent(one),
        _ => None,
    }
}

/// `00-<trace id>-<span id>-<flags>`, the version obs writes.
pub(crate) fn traceparent(remote: &Remote) -> String {
    format!(
        "00-{}-{}-{}",
        to_hex(&remote.trace_id),
        to_hex(&remote.span_id),
        if remote.sampled { "01" } else { "00" }
    )
}

/// A character a key may have after its first (§3.3.1.3.1).
fn key_char(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// `lcalpha` then up to `max - 1` key characters; with `digit_first`, a digit may lead too.
fn key_part(part: &[u8], max: usize, digit_first: bool) -> bool {
    let first_ok = match part.first() {
        Some(b'a'..=b'z') => true,
        Some(b'0'..=b'9') => digit_first,
        _ => false,
    };
    first_ok && part.len() <= max && part.iter().all(|&b| key_char(b))
}

/// A `tracestate` key: a simple key of up to 256 characters, or a multi-tenant
/// `tenant@system` key, the tenant up to 241 characters (it may start with a digit) and the
/// system up to 14.
pub(crate) fn valid_key(key: &str) -> bool {
    let key = key.as_bytes();
    match key.iter().position(|&b| b == b'@') {
        None => key_part(key, 256, false),
        Some(at) => key_part(&key[..at], 241, true) && key_part(&key[at + 1..], 14, false),
    }
}

/// A `tracestate` value: 1 to 256 printable ASCII characters but `,` and `=`, not ending in a
/// space (§3.3.1.3.2).
pub(crate) fn valid_value(value: &str) -> bool {
    let v = value.as_bytes();
    !v.is_empty()
        && v.len() <= 256
        && v.last() != Some(&b' ')
        && v.iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// The `tracestate` of a request (§3.3): every header combined in order, as one list; white
/// space around members and empty members dropped. Any invalid member, more than 32 members
/// or a key twice make the whole state invalid: `None`, as an empty one is.
pub(crate) fn parse_tracestate(values: &[&str]) -> Option<Arc<str>> {
    let mut members: Vec<&str> = Vec::new();
    for member in values.iter().flat_map(|v| v.split(',')) {
        let member = trim_ows(member);
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) || members.len() == MAX_MEMBERS {
            return None;
        }
        if members
            .iter()
            .any(|m| m.split_once('=').map(|(k, _)| k) == Some(key))
        {
            return None;
        }
        members.push(member);
    }
    (!members.is_empty()).then(|| Arc::from(members.join(",")))
}

/// `state` as it may be propagated: unchanged up to 512 bytes; past that, members longer
/// than 128 characters are removed first, then members from the end, until it fits
/// (§3.3.1.5).
pub(crate) fn limit_tracestate(state: &str) -> Cow<'_, str> {
    if state.len() <= MAX_STATE_LEN {
        return Cow::Borrowed(state);
    }
    let mut members: Vec<&str> = state.split(',').collect();
    let total = |m: &[&str]| m.iter().map(|s| s.len()).sum::<usize>() + m.len().saturating_sub(1);
    while total(&members) > MAX_STATE_LEN {
        match members.iter().rposition(|m| m.len() > LONG_MEMBER) {
            Some(long) => members.remove(long),
            None => members.pop().unwrap_or_default(),
        };
    }
    Cow::Owned(members.join(","))
}

#[cfg(test)]
mod tests;
