//! PromQL both generated files write: status groups, error and miss ratios, `le` regexes.

use crate::metrics::catalog::{Function, Metric, MetricKind, Objective, StatusLabel};

/// What counts as success for one metric: its status label's `ok` value, and the other values
/// that are not failures ([`Status::custom_ok`](crate::Status::custom_ok), the HTTP layer's
/// `cancelled`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Success {
    pub(crate) label: StatusLabel,
    pub(crate) also: Vec<&'static str>,
}

impl Success {
    pub(crate) fn of(metric: &Metric) -> Self {
        let mut also = metric.not_failures.clone();
        also.sort_unstable();
        also.dedup();
        Success {
            label: metric.status,
            also,
        }
    }

    /// The matcher of failed calls: `status!="ok"`, or `status!~"ok|not_found"`.
    pub(crate) fn bad_matcher(&self) -> String {
        if self.also.is_empty() {
            format!("{}!=\"{}\"", self.label.name(), self.label.ok())
        } else {
            let values: Vec<String> = core::iter::once(self.label.ok())
                .chain(self.also.iter().copied())
                .map(regex_escape)
                .collect();
            format!("{}!~\"{}\"", self.label.name(), values.join("|"))
        }
    }

    fn is_default(&self) -> bool {
        self.also.is_empty()
            && self.label.name() == StatusLabel::DEFAULT.name()
            && self.label.ok() == StatusLabel::DEFAULT.ok()
    }
}

/// `value` as a literal inside a PromQL regex string.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push_str("\\\\");
        } else if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How the functions of one family write their status, `(success, functions)`, the most
/// common way first (ties: the default first).
pub(crate) type StatusGroups<'a> = Vec<(Success, Vec<&'a Function>)>;

/// Groups the functions with a counter or histogram named `name` by what counts as success:
/// the status label's name, the value of `ok` (`status(..)` on the attribute) and the values
/// that are not failures. Two ways of naming the failures do not matter.
pub(crate) fn status_groups<'a>(functions: &'a [Function], name: &str) -> StatusGroups<'a> {
    let mut groups: StatusGroups<'a> = Vec::new();
    for f in functions {
        let mut seen = false;
        for m in f
            .metrics
            .iter()
            .filter(|m| m.name == name && m.kind != MetricKind::Gauge)
        {
            if std::mem::replace(&mut seen, true) {
                continue; // the same metric again, with another objective
            }
            let success = Success::of(m);
            let same = |s: &Success| {
                s.label.name() == success.label.name()
                    && s.label.ok() == success.label.ok()
                    && s.also == success.also
            };
            match groups.iter_mut().find(|(s, _)| same(s)) {
                Some((_, members)) => members.push(f),
                None => groups.push((success, vec![f])),
            }
        }
    }
    groups.sort_by(|(a, fa), (b, fb)| {
        fb.len()
            .cmp(&fa.len())
            .then((!a.is_default()).cmp(&!b.is_default()))
    });
    if groups.is_empty() {
        groups.push((
            Success {
                label: StatusLabel::DEFAULT,
                also: Vec::new(),
            },
            Vec::new(),
        ));
    }
    groups
}

/// The labels a family's rules keep beside `job`, in first-seen order: the union of what its
/// metrics declare (`function, module` and `labels(..)` for attributes).
pub(crate) fn family_by(functions: &[Function], name: &str) -> Vec<&'static str> {
    let mut by: Vec<&'static str> = Vec::new();
    for m in functions
        .iter()
        .flat_map(|f| &f.metrics)
        .filter(|m| m.name == name)
    {
        for label in &m.by {
            if !by.contains(label) {
                by.push(label);
            }
        }
    }
    by
}

/// The matchers of a catalog entry's series: `function="f",module="m"`, or nothing.
pub(crate) fn entry_matchers(f: &Function) -> String {
    f.selector
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Label matchers joined into a selector: `{a="b",c!="d"}`, or nothing for none.
pub(crate) fn braces(matchers: &[&str]) -> String {
    let matchers: Vec<&str> = matchers.iter().copied().filter(|m| !m.is_empty()).collect();
    if matchers.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", matchers.join(","))
    }
}

/// The series that count a family's calls: a counter's own, or a histogram's count, which
/// Prometheus may store as the native histogram, the classic `_count`, or both.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Calls<'a> {
    /// A counter family, `function_calls_total`.
    Counter(&'a str),
    /// A histogram family, `http_server_request_duration_seconds`: its observations are the
    /// calls.
    Histogram(&'a str),
}

impl<'a> Calls<'a> {
    /// The family's name.
    pub(crate) fn name(self) -> &'a str {
        match self {
            Calls::Counter(name) | Calls::Histogram(name) => name,
        }
    }
}

/// Calls a second over `window` among the series `matchers` pick, summed `by` the given
/// labels. A histogram's is its native count (`histogram_count`) `or` its classic `_count`:
/// a Prometheus that scrapes native histograms may store no `_count` (2.42 to 2.44, 3.x
/// without `always_scrape_classic_histograms`), a text scrape stores no native one, and
/// where both are, `or` keeps the native side (the same labels, the same calls).
pub(crate) fn calls_rate(calls: Calls<'_>, matchers: &[&str], by: &str, window: &str) -> String {
    let sel = braces(matchers);
    match calls {
        Calls::Counter(name) => format!("sum by ({by}) (rate({name}{sel}[{window}]))"),
        Calls::Histogram(name) => format!(
            "(sum by ({by}) (histogram_count(rate({name}{sel}[{window}]))) or sum by ({by}) (rate({name}_count{sel}[{window}])))"
        ),
    }
}

/// The share of failed calls of family `calls` over `window`, summed `by` the given labels,
/// among the series `selector` (matchers, possibly empty) picks. A failure is a call whose
/// status label is not the `ok` value of its function's metric: when the family's functions
/// disagree on it (`status(ok = "success")` on some), each function outside the most common
/// group gets a term of its own, and `or` lets its term win over the general one.
pub(crate) fn error_ratio_expr(
    calls: Calls<'_>,
    groups: &StatusGroups<'_>,
    selector: &str,
    by: &str,
    window: &str,
) -> String {
    let term = |status: &Success, only: &str| {
        let bad = status.bad_matcher();
        format!(
            "{} / {}",
            calls_rate(calls, &[selector, only, &bad], by, window),
            calls_rate(calls, &[selector, only], by, window),
        )
    };
    let mut groups = groups.iter();
    let Some((general, _)) = groups.next() else {
        return term(
            &Success {
                label: StatusLabel::DEFAULT,
                also: Vec::new(),
            },
            "",
        );
    };
    let mut terms: Vec<String> = Vec::new();
    for (status, members) in groups {
        for f in members {
            terms.push(term(status, &entry_matchers(f)));
        }
    }
    if terms.is_empty() {
        return term(general, "");
    }
    terms.push(term(general, ""));
    terms
        .iter()
        .map(|t| format!("({t})"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A regex matching how Prometheus may spell bucket bound `bound` in `le` (`1`, `1.0`, …).
pub(crate) fn le_regex(bound: f64) -> String {
    let text = format!("{bound}");
    let escaped = text.replace('.', "\\\\.");
    if text.contains('.') {
        format!("{escaped}0*")
    } else {
        format!("{escaped}(\\\\.0*)?")
    }
}

/// A number with at most 10 decimals, without float noise: `0.0144`, not `0.014399999999999`.
pub(crate) fn num(x: f64) -> String {
    let text = format!("{x:.10}");
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_owned()
}

/// Quantile `q` of histogram family `name` (`sel`: its `{..}` matchers or nothing) over
/// `window`, summed `by` the given labels, whatever Prometheus stores: the native histogram
/// (a scrape of the protobuf page with native histograms enabled, which may keep only it),
/// `or` the classic `_bucket` series. Where both are stored the native one answers (`or`
/// keeps the left side's series); where one is, it does.
pub(crate) fn quantile_expr(q: f64, name: &str, sel: &str, by: &str, window: &str) -> String {
    format!(
        "histogram_quantile({q}, sum by ({by}) (rate({name}{sel}[{window}]))) or histogram_quantile({q}, sum by ({by}, le) (rate({name}_bucket{sel}[{window}])))"
    )
}

/// The share of calls selected by `selector` that missed `objective` over `window`, summed
/// `by` the given labels, as PromQL on the raw series of family `calls`, whose status label
/// is written as `status` says.
pub(crate) fn bad_ratio_expr(
    calls: Calls<'_>,
    objective: Objective,
    success: &Success,
    selector: &str,
    by: &str,
    window: &str,
) -> String {
    match objective {
        Objective::Success { .. } => format!(
            "{} / {}",
            calls_rate(calls, &[selector, &success.bad_matcher()], by, window),
            calls_rate(calls, &[selector], by, window),
        ),
        // Native first (`histogram_fraction` of the calls up to the threshold), or the classic
        // bucket at the threshold over the count: right with either or both stored.
        Objective::Latency { threshold, .. } => format!(
            "((1 - histogram_fraction(0, {t}, sum by ({by}) (rate({name}{all}[{window}])))) or (1 - sum by ({by}) (rate({name}_bucket{le}[{window}])) / sum by ({by}) (rate({name}_count{all}[{window}]))))",
            name = calls.name(),
            t = num(threshold),
            all = braces(&[selector]),
            le = braces(&[selector, &format!("le=~\"{}\"", le_regex(threshold))]),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::le_regex;

    #[test]
    fn le_regexes_match_both_spellings() {
        assert_eq!(le_regex(0.25), "0\\\\.250*");
        assert_eq!(le_regex(1.0), "1(\\\\.0*)?");
    }
}
