//! Prometheus naming rules, checked at compile time.
//!
//! Every refusal names a fix: [`suggest`] turns any name into one that passes the rules for
//! its kind, and the messages propose it.

use crate::shared::{MetricKind, STATUS_LABEL};

/// Abbreviated or non-base unit suffixes, with the suffix to write instead.
const UNIT_SUFFIXES: [(&str, &str); 22] = [
    ("_ms", "_seconds"),
    ("_msec", "_seconds"),
    ("_msecs", "_seconds"),
    ("_millis", "_seconds"),
    ("_milliseconds", "_seconds"),
    ("_us", "_seconds"),
    ("_micros", "_seconds"),
    ("_microseconds", "_seconds"),
    ("_ns", "_seconds"),
    ("_nanos", "_seconds"),
    ("_nanoseconds", "_seconds"),
    ("_s", "_seconds"),
    ("_sec", "_seconds"),
    ("_secs", "_seconds"),
    ("_minutes", "_seconds"),
    ("_hours", "_seconds"),
    ("_kb", "_bytes"),
    ("_kilobytes", "_bytes"),
    ("_mb", "_bytes"),
    ("_megabytes", "_bytes"),
    ("_gb", "_bytes"),
    ("_gigabytes", "_bytes"),
];

/// Suffixes Prometheus gives the series of histograms and summaries.
const RESERVED_SUFFIXES: [&str; 3] = ["_count", "_sum", "_bucket"];

/// Checks a family name for a metric of kind `kind`; `Err` says what to write instead.
pub(crate) fn check_metric_name(name: &str, kind: MetricKind) -> Result<(), String> {
    let fixed = suggest(name, kind);
    if name.is_empty() {
        return Err(format!(
            "the metric name is empty: write one, e.g. `{fixed}`, or leave `name` out for the default"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{name}`: names starting with `__` are reserved for Prometheus' own use: write `{fixed}`"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "`{name}` is not a snake_case metric name (lowercase letters, digits and `_`, not starting with a digit): write `{fixed}`"
        ));
    }
    let base = name.strip_suffix("_total").unwrap_or(name);
    if let Some((suffix, _)) = unit_suffix(base) {
        return Err(format!(
            "`{name}` uses the unit `{suffix}`; Prometheus wants base units (seconds, bytes): write `{fixed}`"
        ));
    }
    if let Some(reserved) = RESERVED_SUFFIXES.into_iter().find(|r| base.ends_with(r)) {
        return Err(format!(
            "`{name}` ends in `{reserved}`, which Prometheus gives the series of histograms and summaries: write `{fixed}`"
        ));
    }
    match kind {
        MetricKind::Counter if !name.ends_with("_total") => {
            Err(format!("counter names end in `_total`: write `{fixed}`"))
        }
        MetricKind::Histogram if !name.ends_with("_seconds") => Err(format!(
            "#[timed] records seconds, so its name ends in `_seconds`: write `{fixed}`"
        )),
        MetricKind::Gauge if name.ends_with("_total") => Err(format!(
            "only counters end in `_total`, and #[in_flight] is a gauge: write `{fixed}`"
        )),
        _ => Ok(()),
    }
}

/// The unit suffix `name` ends in, if it is not a base unit, with the one to use instead.
fn unit_suffix(name: &str) -> Option<(&'static str, &'static str)> {
    UNIT_SUFFIXES
        .into_iter()
        .find(|(suffix, _)| name.ends_with(suffix))
}

/// A name close to `name` that passes [`check_metric_name`] for `kind`.
pub(crate) fn suggest(name: &str, kind: MetricKind) -> String {
    // snake_case: `JobsDone-Total` becomes `jobs_done_total`.
    let mut snake = String::with_capacity(name.len() + 8);
    let mut after_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if after_lower {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
            after_lower = false;
        } else if c.is_ascii_alphanumeric() {
            snake.push(c);
            after_lower = true;
        } else {
            snake.push('_');
            after_lower = false;
        }
    }
    // No empty words (so no `__`), and no leading digit.
    let words: Vec<&str> = snake.split('_').filter(|w| !w.is_empty()).collect();
    let joined = words.join("_");
    let mut base = joined
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '_')
        .to_owned();
    // Take off what the rules refuse and the kind's own suffix (added back at the end),
    // until nothing changes: `x_ms_count_total` becomes `x_seconds`.
    loop {
        let kind_suffix = match kind {
            MetricKind::Histogram => Some("_seconds"),
            MetricKind::Counter | MetricKind::Gauge => None,
        };
        if let Some(suffix) = RESERVED_SUFFIXES
            .into_iter()
            .chain(["_total"])
            .chain(kind_suffix)
            .find(|s| base.ends_with(s))
        {
            base.truncate(base.len() - suffix.len());
        } else if let Some((suffix, want)) = unit_suffix(&base) {
            base.truncate(base.len() - suffix.len());
            if Some(want) != kind_suffix {
                base.push_str(want);
            }
        } else {
            break;
        }
    }
    if base.is_empty() || base == "total" || base == "seconds" {
        return kind.default_name().to_owned();
    }
    match kind {
        MetricKind::Counter => format!("{base}_total"),
        MetricKind::Histogram => format!("{base}_seconds"),
        MetricKind::Gauge => base,
    }
}

/// Labels obs sets itself on every series.
pub(crate) const OWN_LABELS: [&str; 3] = ["function", "module", STATUS_LABEL];

/// Checks a static label name; `Err` says what to write instead.
pub(crate) fn check_label_name(name: &str) -> Result<(), String> {
    if OWN_LABELS.contains(&name) {
        return Err(format!(
            "`{name}` is set by obs on every series: pick another label name"
        ));
    }
    if name == "le" || name == "quantile" {
        return Err(format!(
            "`{name}` is reserved by Prometheus for histogram and summary buckets: pick another label name"
        ));
    }
    if name.starts_with("__") {
        let fixed = name.trim_start_matches('_');
        let fixed = if fixed.is_empty() { "key" } else { fixed };
        return Err(format!(
            "`{name}`: label names starting with `__` are reserved for Prometheus' own use: write `{fixed}`"
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || name.starts_with(|c: char| c.is_ascii_digit())
        || name.is_empty()
    {
        return Err(format!(
            "`{name}` is not a valid label name: use ASCII letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [MetricKind; 3] = [
        MetricKind::Counter,
        MetricKind::Histogram,
        MetricKind::Gauge,
    ];

    fn refused(name: &str, kind: MetricKind) -> String {
        check_metric_name(name, kind).expect_err(name)
    }

    #[test]
    fn accepts_good_names() {
        for name in [
            "function_calls_total",
            "jobs_processed_total",
            "http_requests_total",
            "cpu_seconds_total",
            "sent_bytes_total",
            "_private_total",
            "v2_calls_total",
        ] {
            assert_eq!(
                check_metric_name(name, MetricKind::Counter),
                Ok(()),
                "{name}"
            );
        }
        for name in [
            "function_duration_seconds",
            "db_query_duration_seconds",
            "ttfb_seconds",
        ] {
            assert_eq!(
                check_metric_name(name, MetricKind::Histogram),
                Ok(()),
                "{name}"
            );
        }
        for name in [
            "function_calls_in_flight",
            "active_requests",
            "queue_depth",
            "temperature_celsius",
        ] {
            assert_eq!(check_metric_name(name, MetricKind::Gauge), Ok(()), "{name}");
        }
        for kind in KINDS {
            assert_eq!(check_metric_name(kind.default_name(), kind), Ok(()));
        }
    }

    #[test]
    fn kind_suffixes() {
        assert_eq!(
            refused("jobs_processed", MetricKind::Counter),
            "counter names end in `_total`: write `jobs_processed_total`"
        );
        assert_eq!(
            refused("query_duration", MetricKind::Histogram),
            "#[timed] records seconds, so its name ends in `_seconds`: write `query_duration_seconds`"
        );
        assert!(
            refused("query_duration_seconds_total", MetricKind::Histogram)
                .ends_with("write `query_duration_seconds`")
        );
        assert_eq!(
            refused("active_requests_total", MetricKind::Gauge),
            "only counters end in `_total`, and #[in_flight] is a gauge: write `active_requests`"
        );
    }

    #[test]
    fn snake_case() {
        let message = refused("JobsProcessed-total", MetricKind::Counter);
        assert!(message.contains("snake_case"), "{message}");
        assert!(
            message.ends_with("write `jobs_processed_total`"),
            "{message}"
        );
        assert!(
            refused("1st_calls_total", MetricKind::Counter).ends_with("write `st_calls_total`")
        );
        assert!(refused("jobs:done_total", MetricKind::Counter).contains("snake_case"));
        assert!(
            refused("jobs done_total", MetricKind::Counter).ends_with("write `jobs_done_total`")
        );
        assert!(refused("jöbs_total", MetricKind::Counter).contains("snake_case"));
    }

    #[test]
    fn reserved_names() {
        assert!(refused("", MetricKind::Counter).contains("empty"));
        let message = refused("__jobs_total", MetricKind::Counter);
        assert!(message.contains("reserved"), "{message}");
        assert!(message.ends_with("write `jobs_total`"), "{message}");
        for (name, kind, fixed) in [
            ("requests_count", MetricKind::Counter, "requests_total"),
            (
                "requests_count_total",
                MetricKind::Counter,
                "requests_total",
            ),
            ("latency_sum", MetricKind::Gauge, "latency"),
            ("latency_bucket", MetricKind::Histogram, "latency_seconds"),
        ] {
            let message = refused(name, kind);
            assert!(message.contains("histograms and summaries"), "{message}");
            assert!(message.ends_with(&format!("write `{fixed}`")), "{message}");
        }
    }

    #[test]
    fn base_units() {
        for (name, kind, fixed) in [
            (
                "query_duration_ms",
                MetricKind::Histogram,
                "query_duration_seconds",
            ),
            (
                "query_duration_sec",
                MetricKind::Histogram,
                "query_duration_seconds",
            ),
            ("busy_ms_total", MetricKind::Counter, "busy_seconds_total"),
            ("payload_kb", MetricKind::Gauge, "payload_bytes"),
            ("uptime_minutes", MetricKind::Gauge, "uptime_seconds"),
        ] {
            let message = refused(name, kind);
            assert!(message.contains("base units"), "{message}");
            assert!(message.ends_with(&format!("write `{fixed}`")), "{message}");
        }
        // Words that merely end in the letters of a unit are fine.
        assert_eq!(
            check_metric_name("items_total", MetricKind::Counter),
            Ok(())
        );
        assert_eq!(
            check_metric_name("bonus_total", MetricKind::Counter),
            Ok(())
        );
        assert_eq!(check_metric_name("pms", MetricKind::Gauge), Ok(()));
    }

    /// Whatever the name, the suggestion passes the rules it was made for.
    #[test]
    fn suggestions_pass_the_rules() {
        let names = [
            "",
            "_",
            "__",
            "___x",
            "x",
            "X",
            "1",
            "123abc",
            "JobsDone",
            "HTTPRequests",
            "jobs-done",
            "jobs  done",
            "jöbs",
            "total",
            "_total",
            "seconds",
            "_seconds",
            "x_total_total",
            "x_seconds_total",
            "x_seconds_seconds",
            "x_count_sum_bucket",
            "count",
            "_count",
            "x_ms_count",
            "x_ms",
            "ms",
            "_ms",
            "x_kb_total",
            "a:b",
            "a.b.c",
            "__name__",
        ];
        for kind in KINDS {
            for name in names {
                let fixed = suggest(name, kind);
                assert_eq!(
                    check_metric_name(&fixed, kind),
                    Ok(()),
                    "{name:?} as a {kind:?} suggests {fixed:?}"
                );
            }
        }
    }

    #[test]
    fn label_names() {
        for name in ["queue", "skill", "_x", "Region", "shard2"] {
            assert_eq!(check_label_name(name), Ok(()), "{name}");
        }
        for name in OWN_LABELS {
            assert!(check_label_name(name).unwrap_err().contains("set by obs"));
        }
        for name in ["le", "quantile"] {
            assert!(
                check_label_name(name)
                    .unwrap_err()
                    .contains("reserved by Prometheus")
            );
        }
        assert!(
            check_label_name("__name")
                .unwrap_err()
                .ends_with("write `name`")
        );
        assert!(check_label_name("__").unwrap_err().ends_with("write `key`"));
        assert!(
            check_label_name("é")
                .unwrap_err()
                .contains("not a valid label name")
        );
        assert!(
            check_label_name("")
                .unwrap_err()
                .contains("not a valid label name")
        );
    }
}
