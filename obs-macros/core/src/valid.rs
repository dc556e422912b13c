//! The second phase, validate: the rules between options, checked on each attribute whose
//! arguments parsed cleanly: what one option says must fit what another says.

use proc_macro2::Span;
use syn::LitStr;
use syn::ext::IdentExt;

use crate::args::{Args, MetricArgs, ObjectiveArg, StatusArg, combine};
use crate::input::{Input, Target};
use crate::shared::{DEFAULT_BUCKETS, STATUSES};

/// Checks every attribute of `input` that parsed: one that breaks a rule is replaced by its
/// errors, in its place, so the errors keep the order of the attributes.
pub fn validate(mut input: Input) -> Input {
    check_in_place(&mut input.own);
    match &mut input.item {
        Target::Fn { stacked, .. } => stacked.iter_mut().for_each(check_in_place),
        Target::Impl {
            stacked, methods, ..
        } => {
            stacked.iter_mut().for_each(check_in_place);
            for method in methods {
                method.stacked.iter_mut().for_each(check_in_place);
            }
        }
        Target::AsIs { .. } => {}
    }
    input
}

fn check_in_place(parsed: &mut syn::Result<Args>) {
    if let Ok(args) = parsed
        && let Err(e) = check(args)
    {
        *parsed = Err(e);
    }
}

/// Checks the options of one attribute against each other.
pub(crate) fn check(args: &Args) -> syn::Result<()> {
    if let Some(status) = &args.metric.status {
        check_status_values(status)?;
    }
    if let Some(ObjectiveArg::Latency { seconds, span, .. }) = args.metric.objective {
        let bounds = args
            .metric
            .buckets
            .as_ref()
            .map_or(&DEFAULT_BUCKETS[..], |(b, _)| &b[..]);
        check_latency_bound(seconds, bounds, span)?;
    }
    if let Some(label) = args.metric.status.as_ref().and_then(|s| s.label.as_ref()) {
        check_status_label_free(label, &args.metric)?;
    }
    Ok(())
}

/// A renamed status label must not be one of the metric's own labels.
fn check_status_label_free(label: &LitStr, metric: &MetricArgs) -> syn::Result<()> {
    let name = label.value();
    let taken = metric
        .labels
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .chain(metric.dynamic_labels.iter().map(|(k, _)| k));
    if taken.into_iter().any(|k| k.unraw() == name) {
        return Err(syn::Error::new(
            label.span(),
            format!(
                "`{name}` is already a label of this metric in `labels(..)`: name the status label differently, or drop that label"
            ),
        ));
    }
    Ok(())
}

/// A failure must not read like a success: the rules and the dashboard tell them apart by the
/// value of `ok` alone. Failures may share a value (`panic = "error"`).
fn check_status_values(arg: &StatusArg) -> syn::Result<()> {
    let values = arg.values();
    let mut errors = None;
    for (slot, value) in values.iter().enumerate().skip(1) {
        if *value != values[0] {
            continue;
        }
        let failure = STATUSES[slot];
        let (at, message) = match (&arg.values[slot], &arg.values[0]) {
            (Some(lit), _) => (
                lit.span(),
                format!(
                    "`{failure}` would read `{value}`, as `ok` does: a failure must read differently from a success, or error ratios count it as one. Pick another value for `{failure}`"
                ),
            ),
            (None, Some(lit)) => (
                lit.span(),
                format!(
                    "`ok` would read `{value}`, which is how `{failure}` reads: rename `{failure}` too (e.g. `{failure} = \"failed\"`), or pick another value for `ok`"
                ),
            ),
            (None, None) => continue,
        };
        combine(&mut errors, syn::Error::new(at, message));
    }
    errors.map_or(Ok(()), Err)
}

/// A latency objective is read off the histogram, so its threshold must be a bucket bound.
fn check_latency_bound(seconds: f64, bounds: &[f64], span: Span) -> syn::Result<()> {
    if bounds
        .iter()
        .any(|b| (b - seconds).abs() <= 1e-12 * b.max(seconds))
    {
        return Ok(());
    }
    let below = bounds.iter().rev().find(|b| **b < seconds);
    let above = bounds.iter().find(|b| **b > seconds);
    let nearest = match (below, above) {
        (Some(b), Some(a)) => format!("{b} or {a}"),
        (Some(x), None) | (None, Some(x)) => format!("{x}"),
        (None, None) => String::new(),
    };
    Err(syn::Error::new(
        span,
        format!(
            "the latency threshold {seconds}s is not a bucket bound of this function, so the share of calls under it cannot be read from its histogram: use {nearest}, or add {seconds} to `buckets = [..]`"
        ),
    ))
}
