//! PromQL both generated files write: status groups, error and miss ratios, `le` regexes.

use crate::catalog::{Function, MetricKind, Objective, StatusLabel};

/// How the functions of one family write their status, `(label, functions)`, the most common
/// way first (ties: the default first).
pub(crate) type StatusGroups<'a> = Vec<(StatusLabel, Vec<&'a Function>)>;

/// Groups the functions with a counter or histogram named `name` by how they write their
/// status: its label's name and the value of `ok` (`status(..)` on the attribute). Two ways of
/// naming the failures do not matter, only what counts as success.
pub(crate) fn status_groups<'a>(functions: &'a [Function], name: &str) -> StatusGroups<'a> {
    let mut groups: StatusGroups<'a> = Vec::new();
    for f in functions {
        for m in f
            .metrics
            .iter()
            .filter(|m| m.name == name && m.kind != MetricKind::Gauge)
        {
            let same = |s: &StatusLabel| s.name() == m.status.name() && s.ok() == m.status.ok();
            match groups.iter_mut().find(|(s, _)| same(s)) {
                Some((_, members)) => members.push(f),
                None => groups.push((m.status, vec![f])),
            }
        }
    }
    let renamed = |s: &StatusLabel| {
        s.name() != StatusLabel::DEFAULT.name() || s.ok() != StatusLabel::DEFAULT.ok()
    };
    groups.sort_by(|(a, fa), (b, fb)| fb.len().cmp(&fa.len()).then(renamed(a).cmp(&renamed(b))));
    if groups.is_empty() {
        groups.push((StatusLabel::DEFAULT, Vec::new()));
    }
    groups
}

/// Label matchers joined into a selector: `{a="b",c!="d"}`, or nothing for none.
fn braces(matchers: &[&str]) -> String {
    let matchers: Vec<&str> = matchers.iter().copied().filter(|m| !m.is_empty()).collect();
    if matchers.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", matchers.join(","))
    }
}

/// The share of failed calls of family `name` over `window`, summed `by` the given labels,
/// among the series `selector` (matchers, possibly empty) picks. A failure is a call whose
/// status label is not the `ok` value of its function's metric: when the family's functions
/// disagree on it (`status(ok = "success")` on some), each function outside the most common
/// group gets a term of its own, and `or` lets its term win over the general one.
pub(crate) fn error_ratio_expr(
    name: &str,
    groups: &StatusGroups<'_>,
    selector: &str,
    by: &str,
    window: &str,
) -> String {
    let term = |status: StatusLabel, only: &str| {
        let bad = format!("{}!=\"{}\"", status.name(), status.ok());
        format!(
            "sum by ({by}) (rate({name}{}[{window}])) / sum by ({by}) (rate({name}{}[{window}]))",
            braces(&[selector, only, &bad]),
            braces(&[selector, only]),
        )
    };
    let mut groups = groups.iter();
    let Some((general, _)) = groups.next() else {
        return term(StatusLabel::DEFAULT, "");
    };
    let mut terms: Vec<String> = Vec::new();
    for (status, members) in groups {
        for f in members {
            let only = format!("function=\"{}\",module=\"{}\"", f.function, f.module);
            terms.push(term(*status, &only));
        }
    }
    if terms.is_empty() {
        return term(*general, "");
    }
    terms.push(term(*general, ""));
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

/// The share of calls selected by `selector` that missed `objective` over `window`, summed
/// `by` the given labels, as PromQL on the raw series of family `name`, whose status label
/// is written as `status` says.
pub(crate) fn bad_ratio_expr(
    name: &str,
    objective: Objective,
    status: StatusLabel,
    selector: &str,
    by: &str,
    window: &str,
) -> String {
    match objective {
        Objective::Success { .. } => format!(
            "sum by ({by}) (rate({name}{{{selector},{}!=\"{}\"}}[{window}])) / sum by ({by}) (rate({name}{{{selector}}}[{window}]))",
            status.name(),
            status.ok()
        ),
        Objective::Latency { threshold, .. } => format!(
            "(1 - sum by ({by}) (rate({name}_bucket{{{selector},le=~\"{}\"}}[{window}])) / sum by ({by}) (rate({name}_count{{{selector}}}[{window}])))",
            le_regex(threshold)
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
