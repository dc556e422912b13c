//! What the expansion and obs-runtime must agree on, written once on this side.
//!
//! The macro crate cannot depend on the runtime, so these values are written here again; the
//! tests at the bottom compare each one with the runtime's own (obs-runtime is a
//! dev-dependency), so that the two cannot drift apart.

/// What a metric records: the runtime's `catalog::MetricKind`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MetricKind {
    /// `#[counted]`.
    Counter,
    /// `#[timed]`.
    Histogram,
    /// `#[in_flight]`.
    Gauge,
}

impl MetricKind {
    /// The family name obs uses when none is given.
    pub(crate) fn default_name(self) -> &'static str {
        match self {
            MetricKind::Counter => "function_calls_total",
            MetricKind::Histogram => "function_duration_seconds",
            MetricKind::Gauge => "function_calls_in_flight",
        }
    }
}

/// The default buckets of `#[timed]`, 10 µs to 10 s (`obs_runtime::DEFAULT_BUCKETS` says why).
pub(crate) const DEFAULT_BUCKETS: [f64; 22] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The schema of `#[timed(native)]` (`obs_runtime::DEFAULT_SCHEMA`): 2^(1/8) between bounds.
pub(crate) const DEFAULT_SCHEMA: i8 = 3;

/// The built-in statuses, in the runtime's slot order (`obs_runtime::Status`).
pub(crate) const STATUSES: [&str; 6] = ["ok", "error", "panic", "cancelled", "timeout", "blocked"];

/// The status label's name, unless `status(label = "…")` renames it.
pub(crate) const STATUS_LABEL: &str = "status";

/// The fields every `#[traced]` span declares, in this order, before the recorded arguments:
/// the runtime fills them by position in `Traced::open` and by name afterwards.
pub(crate) const SPAN_FIELDS: [&str; 7] = [
    "code.function.name",
    "code.file.path",
    "code.line.number",
    "otel.name",
    "otel.status_code",
    "otel.status_description",
    "error.type",
];

#[cfg(test)]
mod tests {
    use super::*;
    use obs_runtime::Status;
    use obs_runtime::catalog::StatusLabel;

    #[test]
    fn default_buckets_are_the_runtimes() {
        // Bit for bit: the same literals on both sides.
        assert_eq!(
            DEFAULT_BUCKETS.map(f64::to_bits),
            obs_runtime::DEFAULT_BUCKETS.map(f64::to_bits)
        );
    }

    #[test]
    fn default_schema_is_the_runtimes() {
        assert_eq!(DEFAULT_SCHEMA, obs_runtime::DEFAULT_SCHEMA);
    }

    #[test]
    fn statuses_are_the_runtimes_in_slot_order() {
        let runtime = [
            Status::OK,
            Status::ERROR,
            Status::PANIC,
            Status::CANCELLED,
            Status::TIMEOUT,
            Status::BLOCKED,
        ];
        assert_eq!(STATUSES, runtime.map(Status::as_str));
        assert_eq!(
            STATUSES,
            runtime.map(|status| StatusLabel::DEFAULT.value(status))
        );
        assert_eq!(STATUS_LABEL, StatusLabel::DEFAULT.name());
    }

    #[test]
    fn default_names_are_the_runtimes() {
        use obs_runtime::__private::shared::{CALLS_FAMILY, DURATION_FAMILY, IN_FLIGHT_FAMILY};
        assert_eq!(MetricKind::Counter.default_name(), CALLS_FAMILY);
        assert_eq!(MetricKind::Histogram.default_name(), DURATION_FAMILY);
        assert_eq!(MetricKind::Gauge.default_name(), IN_FLIGHT_FAMILY);
        assert_eq!(STATUSES, obs_runtime::__private::shared::BUILTIN_STATUSES);
    }

    #[test]
    fn span_fields_are_the_runtimes_in_order() {
        assert_eq!(
            SPAN_FIELDS,
            obs_runtime::__private::shared::SPAN_FIELD_NAMES
        );
        assert_eq!(
            crate::expand::trace::MAX_OPEN_ARGS,
            obs_runtime::__private::shared::MAX_OPEN_ARGS
        );
    }
}
