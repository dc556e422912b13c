//! Reading settings from environment variables: the helpers every part uses, so each
//! message names the variable and says what a valid value looks like.

use std::time::Duration;

use tracing_subscriber::filter::Targets;

use crate::error::Error;

/// Where a variable's value comes from: the process environment, or `Builder::env`'s source.
pub(crate) type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An invalid variable.
pub(crate) fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidEnv {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// An invalid value given to a `Builder` method.
pub(crate) fn setting(
    setting: &'static str,
    value: impl std::fmt::Debug,
    reason: impl Into<String>,
) -> Error {
    Error::InvalidSetting {
        setting,
        value: format!("{value:?}"),
        reason: reason.into(),
    }
}

/// The first of `vars` that is set, with its name.
pub(crate) fn first(var: Var<'_>, vars: &[&'static str]) -> Option<(&'static str, String)> {
    vars.iter()
        .find_map(|name| var(name).map(|value| (*name, value)))
}

/// A number of milliseconds.
pub(crate) fn millis(
    var: Var<'_>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, Error> {
    match var(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| invalid(name, &value, "expected a whole number of milliseconds")),
    }
}

/// The most a queue or batch size may be: each is allocated up front (a bounded channel's
/// slots, a batch's `Vec`), and the fuzzer's `OTEL_BSP_MAX_QUEUE_SIZE=80000000000000` aborted
/// the process allocating 5 TB. 2^20 spans or records is 512 times the specification's
/// default queue.
pub(crate) const MAX_COUNT: usize = 1 << 20;

/// A queue or batch size: a whole number from 1 to [`MAX_COUNT`].
pub(crate) fn count(var: Var<'_>, name: &'static str, default: usize) -> Result<usize, Error> {
    match var(name) {
        None => Ok(default),
        Some(value) => match value.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
            _ => Err(invalid(
                name,
                &value,
                format!(
                    "expected a whole number from 1 to {MAX_COUNT} (queues and batches are \
                     allocated up front)"
                ),
            )),
        },
    }
}

/// `%XX` escapes decoded, as `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`
/// values are written.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `key=value,key=value`, values percent-decoded. `Err` says what is wrong.
pub(crate) fn parse_pairs(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, raw) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{item:?} has an empty key"));
        }
        let decoded = percent_decode(raw.trim())
            .ok_or_else(|| format!("the value of {key:?} has a bad %-escape"))?;
        pairs.push((key.to_owned(), decoded));
    }
    Ok(pairs)
}

/// A `target=level,…` filter (`tracing_subscriber`'s `Targets` syntax).
pub(crate) fn parse_filter(value: &str) -> Result<Targets, String> {
    if value.contains(['[', '{']) {
        return Err(
            "span filters ([span{field=value}]) are not supported: use target=level \
                    pairs such as info,my_crate=debug"
                .into(),
        );
    }
    value.trim().parse::<Targets>().map_err(|e| {
        format!(
            "{e}: expected a level (error, warn, info, debug, trace, off) or target=level \
             pairs such as info,my_crate=debug (span filters in [] are not supported)"
        )
    })
}

/// An `OTEL_*_EXPORTER` comma list, as the specification writes it: the names trimmed,
/// lowercased, empty ones dropped, sorted and deduplicated, then given to `pick`, so `pick`
/// matches one spelling per set (`["console", "otlp"]` for `otlp,console` and `console, OTLP`).
/// `pick`'s `Err` is the reason the error gives, beside the variable and its value.
pub(crate) fn exporter_list<T>(
    name: &'static str,
    value: &str,
    pick: impl FnOnce(&[&str]) -> Result<T, &'static str>,
) -> Result<T, Error> {
    let mut names: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    pick(&names).map_err(|reason| invalid(name, value, reason))
}
