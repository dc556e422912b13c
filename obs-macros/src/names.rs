//! Prometheus naming rules, checked at compile time.

/// What a metric family holds, for the rules that depend on it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Counter,
    Histogram,
    Gauge,
}

/// Abbreviated or non-base unit suffixes, with the suffix to write instead.
const UNIT_SUFFIXES: [(&str, &str); 14] = [
    ("_ms", "_seconds"),
    ("_msec", "_seconds"),
    ("_millis", "_seconds"),
    ("_milliseconds", "_seconds"),
    ("_us", "_seconds"),
    ("_microseconds", "_seconds"),
    ("_ns", "_seconds"),
    ("_nanoseconds", "_seconds"),
    ("_s", "_seconds"),
    ("_sec", "_seconds"),
    ("_secs", "_seconds"),
    ("_minutes", "_seconds"),
    ("_kb", "_bytes"),
    ("_mb", "_bytes"),
];

/// Checks a family name for a metric of kind `family`; `Err` says what to write instead.
pub(crate) fn check_metric_name(name: &str, family: Family) -> Result<(), String> {
    if name.is_empty() {
        return Err("the metric name is empty".into());
    }
    if name.starts_with("__") {
        return Err(format!("`{name}`: names starting with `__` are reserved for Prometheus"));
    }
    let snake = name.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "`{name}` is not a snake_case metric name: use lowercase letters, digits and `_`, not starting with a digit, e.g. `{snake}`"
        ));
    }
    let base = name.strip_suffix("_total").unwrap_or(name);
    for (suffix, want) in UNIT_SUFFIXES {
        if base.ends_with(suffix) {
            let fixed = format!("{}{want}", &base[..base.len() - suffix.len()]);
            return Err(format!("`{name}` uses the unit `{suffix}`: Prometheus wants base units, e.g. `{fixed}`"));
        }
    }
    for reserved in ["_count", "_sum", "_bucket"] {
        if base.ends_with(reserved) {
            return Err(format!(
                "`{name}` ends in `{reserved}`, which Prometheus reserves for histogram and summary series"
            ));
        }
    }
    match family {
        Family::Counter if !name.ends_with("_total") => {
            Err(format!("counter names end in `_total`: write `{name}_total`"))
        }
        Family::Histogram if !name.ends_with("_seconds") => Err(format!(
            "#[timed] records seconds, so its name ends in `_seconds`: write `{}_seconds`",
            name.strip_suffix("_total").unwrap_or(name)
        )),
        Family::Histogram | Family::Gauge if name.ends_with("_total") => Err(format!(
            "only counters end in `_total`: write `{}`",
            name.strip_suffix("_total").unwrap_or(name)
        )),
        _ => Ok(()),
    }
}

/// Labels obs sets itself on every series.
pub(crate) const OWN_LABELS: [&str; 3] = ["function", "module", "status"];

/// Checks a static label name.
pub(crate) fn check_label_name(name: &str) -> Result<(), String> {
    if OWN_LABELS.contains(&name) {
        return Err(format!("`{name}` is set by obs on every series; pick another label name"));
    }
    if name == "le" || name == "quantile" {
        return Err(format!("`{name}` is reserved by Prometheus for histogram and summary buckets"));
    }
    if name.starts_with("__") {
        return Err(format!("`{name}`: label names starting with `__` are reserved for Prometheus"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{name}` is not a valid label name: use letters, digits and `_`"));
    }
    Ok(())
}
