//! W3C Baggage: the `baggage` header's entries, kept beside the trace context in scope, read
//! and added to by the program, and copied into span attributes when configured.

use core::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use super::super::context::{self, Scope};
use crate::sync::{read, write};

pub(crate) const BAGGAGE: &str = "baggage";
/// The specification's limits: what a `baggage` header may carry.
const MAX_MEMBERS: usize = 64;
const MAX_BYTES: usize = 8192;

/// One entry: a key, its value (decoded), and its properties (what follows `;`), kept as
/// they came.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    key: Box<str>,
    value: Box<str>,
    properties: Option<Box<str>>,
}

/// W3C baggage: `key=value` entries a request carries across services, beside its trace
/// context (a tenant id, a user tier, a test flag…). Cheap to clone: the entries are shared.
///
/// [`baggage`](super::baggage) returns the entries in scope: those of the request a
/// `http::ServerLayer` (feature `http`) serves, or of a [`RemoteContext`](super::RemoteContext)
/// in scope, plus what [`in_scope`](Baggage::in_scope) added. Outgoing requests
/// (`inject_headers`, obs's HTTP clients) carry them on.
///
/// ```
/// use obs_runtime::propagation::{self, Baggage};
///
/// let mut headers = std::collections::HashMap::new();
/// propagation::baggage().with("tenant.id", "acme corp").in_scope(|| {
///     assert_eq!(propagation::baggage().get("tenant.id"), Some("acme corp"));
///     propagation::inject_map(&mut headers); // what an outgoing request would carry
/// });
/// assert_eq!(headers["baggage"], "tenant.id=acme%20corp");
/// assert!(propagation::baggage().is_empty()); // out of the scope
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage(Option<Arc<[Entry]>>);

impl Baggage {
    /// No entries.
    pub fn new() -> Self {
        Baggage(None)
    }

    fn entries(&self) -> &[Entry] {
        self.0.as_deref().unwrap_or_default()
    }

    /// The value of `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries()
            .iter()
            .find(|e| &*e.key == key)
            .map(|e| &*e.value)
    }

    /// The properties of `key`'s entry (`;`-separated, as they came), if it has any.
    pub fn properties(&self, key: &str) -> Option<&str> {
        self.entries()
            .iter()
            .find(|e| &*e.key == key)
            .and_then(|e| e.properties.as_deref())
    }

    /// Every `(key, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries().iter().map(|e| (&*e.key, &*e.value))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// These entries and `key=value`, which replaces an entry of that key. A key must be an
    /// HTTP token (letters, digits and the marks ``!#$%&'*+-.^_`|~``): one that is not is never sent. Values
    /// are percent-encoded when sent. Past 64 entries or 8192 bytes, the last entries are not
    /// sent, as the specification asks.
    #[must_use]
    pub fn with(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_entry(Entry {
            key: key.into().into(),
            value: value.into().into(),
            properties: None,
        })
    }

    /// These entries without `key`'s.
    #[must_use]
    pub fn without(self, key: &str) -> Self {
        let kept: Vec<Entry> = self
            .entries()
            .iter()
            .filter(|e| &*e.key != key)
            .cloned()
            .collect();
        Baggage((!kept.is_empty()).then(|| kept.into()))
    }

    fn with_entry(self, entry: Entry) -> Self {
        let mut entries: Vec<Entry> = self
            .entries()
            .iter()
            .filter(|e| e.key != entry.key)
            .cloned()
            .collect();
        entries.push(entry);
        Baggage(Some(entries.into()))
    }

    /// Runs `f` with these entries as the baggage in scope: what [`baggage`](super::baggage)
    /// returns and outgoing requests carry. The trace context in scope stays as it is.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = context::enter(self.scope());
        f()
    }

    /// Polls `future` with these entries as the baggage in scope, as [`in_scope`](Self::in_scope).
    pub fn instrument<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        InScope {
            future,
            scope: self.scope(),
        }
    }

    fn scope(&self) -> Scope {
        Scope {
            remote: context::remote(),
            baggage: self.clone(),
        }
    }

    /// The `baggage` header's value, within the specification's limits; `None` when empty.
    pub(crate) fn header(&self) -> Option<String> {
        let mut out = String::new();
        let mut members = 0;
        for entry in self.entries() {
            if members == MAX_MEMBERS || !is_token(&entry.key) {
                continue;
            }
            let mut member = format!("{}={}", entry.key, encode(&entry.value));
            if let Some(properties) = &entry.properties {
                member.push(';');
                member.push_str(properties);
            }
            let added = member.len() + usize::from(!out.is_empty());
            if out.len() + added > MAX_BYTES {
                continue;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&member);
            members += 1;
        }
        (!out.is_empty()).then_some(out)
    }

    /// The entries of every `baggage` header, combined in order. A member that does not
    /// parse is skipped; past 64 members or 8192 bytes, the rest is.
    pub(crate) fn parse(values: &[&str]) -> Baggage {
        let mut entries: Vec<Entry> = Vec::new();
        let mut bytes = 0;
        for member in values.iter().flat_map(|v| v.split(',')) {
            let member = member.trim_matches([' ', '\t']);
            bytes += member.len() + 1;
            if member.is_empty() {
                continue;
            }
            if entries.len() == MAX_MEMBERS || bytes > MAX_BYTES + 1 {
                break;
            }
            if let Some(entry) = parse_member(member) {
                entries.retain(|e| e.key != entry.key);
                entries.push(entry);
            }
        }
        Baggage((!entries.is_empty()).then(|| entries.into()))
    }
}

/// `key = value [; properties]`.
fn parse_member(member: &str) -> Option<Entry> {
    let (pair, properties) = match member.split_once(';') {
        Some((pair, props)) => (pair, Some(props.trim_matches([' ', '\t']))),
        None => (member, None),
    };
    let (key, value) = pair.split_once('=')?;
    let (key, value) = (
        key.trim_matches([' ', '\t']),
        value.trim_matches([' ', '\t']),
    );
    if !is_token(key) || !value.bytes().all(|b| value_octet(b) || b == b'%') {
        return None;
    }
    let value = crate::env::percent_decode(value)?;
    Some(Entry {
        key: key.into(),
        value: value.into(),
        properties: properties.filter(|p| !p.is_empty()).map(Into::into),
    })
}

/// An HTTP token (RFC 9110 `tchar`s), as baggage keys are.
fn is_token(key: &str) -> bool {
    !key.is_empty()
        && key.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// A byte a value may carry as it is: printable ASCII but space, `"`, `,`, `;`, `\` (and `%`,
/// which starts an escape).
fn value_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// `value` with every byte that is not a [`value_octet`] as `%XX`.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if value_octet(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The baggage keys copied into server spans' attributes (`OBS_BAGGAGE_ATTRIBUTES`,
/// `Builder::baggage_attributes`): set once at `init()`, names leaked once (a few short
/// strings) so that records keep `&'static str` names as for every other field.
static ATTRIBUTES: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());

/// Sets the keys copied into span attributes.
pub(crate) fn set_attributes(keys: &[String]) {
    let mut list = write(&ATTRIBUTES);
    list.clear();
    for key in keys {
        list.push(Box::leak(key.clone().into_boxed_str()));
    }
}

/// The configured entries of `baggage`, as `(attribute, value)`.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn attributes(baggage: &Baggage) -> Vec<(&'static str, String)> {
    if baggage.is_empty() {
        return Vec::new();
    }
    read(&ATTRIBUTES)
        .iter()
        .filter_map(|key| baggage.get(key).map(|v| (*key, v.to_owned())))
        .collect()
}

/// `OBS_BAGGAGE_ATTRIBUTES`: keys separated by commas.
pub(crate) fn parse_attribute_keys(value: &str) -> Result<Vec<String>, String> {
    let keys: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    match keys.iter().find(|k| !is_token(k)) {
        Some(bad) => Err(format!(
            "{bad:?} is not a baggage key: expected keys such as tenant.id,user.tier \
             (letters, digits and !#$%&'*+-.^_`|~), separated by commas"
        )),
        None => Ok(keys),
    }
}

pin_project_lite::pin_project! {
    /// A future polled with a scope entered.
    pub(crate) struct InScope<F> {
        #[pin]
        pub(crate) future: F,
        pub(crate) scope: Scope,
    }
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = context::enter(this.scope.clone());
        this.future.poll(cx)
    }
}

#[cfg(test)]
mod tests;
