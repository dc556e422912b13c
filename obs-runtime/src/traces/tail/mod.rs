//! Tail sampling: which local traces are kept once their local root span has closed, by how
//! they went (`OBS_TRACES_TAIL`, [`Builder::tail_sampling`](crate::Builder::tail_sampling)).
//!
//! While it is on, the trace work keeps a record of every span, not only of the sampled ones;
//! a span the head sampler did not keep is marked unsampled and carries its local trace's
//! hold ([`hold::Tally`]), where it goes when it closes. The local root's close decides, on
//! the thread it closes on: the whole local trace is exported if a span failed, the root ran
//! longer than `slower=`, a call ran past its function's latency objective, or the trace id
//! falls in `ratio=`; else it is dropped whole, there. Spans of a trace decided already follow
//! the decision.
//!
//! The ratio is also the head sampler's (`parentbased_traceidratio`, unless
//! `OTEL_TRACES_SAMPLER` says otherwise): those traces are known to be kept at their start,
//! are marked sampled, propagate `sampled=1`, link exemplars and are never held. Held spans
//! enter no exemplar: an exemplar only ever names a trace kept at its start.

mod hold;
#[cfg(test)]
pub(crate) mod tests;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub(crate) use hold::{Rules, Tally, sweep};

use crate::exposition::{Collector, Labels, MetricKind};

/// Which traces tail sampling keeps, and how much it holds while deciding: `OBS_TRACES_TAIL`
/// (a comma list, `errors,slower=250ms,objectives,ratio=0.01`) or
/// [`Builder::tail_sampling`](crate::Builder::tail_sampling).
///
/// Every span of a local trace is recorded and held until the trace's local root span closes;
/// the whole local trace is then exported if any rule keeps it, or dropped whole:
///
/// - `errors`: a span failed (an `Err`, a panic, a failure status; not `cancelled` or a status
///   of `not_failure = [..]` / [`Status::custom_ok`](crate::Status::custom_ok));
/// - `slower=250ms`: the local root ran longer than that;
/// - `objectives`: a call ran past its own function's latency objective
///   (`#[timed(objective(latency = ..))]`);
/// - `ratio=0.01`: the trace id falls in that share, as `traceidratio` decides it.
///
/// The bounds (`max_spans=1000`, `max_age=30s`, `max_memory=64MiB` by default): a trace that
/// holds more spans, waits longer, or a hold that would take more memory, is decided at once
/// on what is held (and counted in `obs_traces_tail_bounded_total{bound}`).
///
/// ```
/// use std::time::Duration;
///
/// let rules = obs_runtime::TailSampling::new()
///     .errors()
///     .slower(Duration::from_millis(250))
///     .ratio(0.01);
/// assert_eq!("errors,slower=250ms,ratio=0.01".parse(), Ok(rules));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TailSampling {
    pub(crate) errors: bool,
    pub(crate) slower: Option<Duration>,
    pub(crate) objectives: bool,
    pub(crate) ratio: f64,
    pub(crate) max_spans: usize,
    pub(crate) max_age: Duration,
    pub(crate) max_memory: usize,
}

impl Default for TailSampling {
    fn default() -> Self {
        TailSampling::new()
    }
}

impl TailSampling {
    /// Keeps nothing yet (add rules), with the default bounds: 1000 spans per trace, 30 s,
    /// 64 MiB held in all.
    #[must_use]
    pub const fn new() -> Self {
        TailSampling {
            errors: false,
            slower: None,
            objectives: false,
            ratio: 0.0,
            max_spans: 1000,
            max_age: Duration::from_secs(30),
            max_memory: 64 << 20,
        }
    }

    /// `errors`: keeps a trace in which a span failed.
    #[must_use]
    pub const fn errors(mut self) -> Self {
        self.errors = true;
        self
    }

    /// `slower=250ms`: keeps a trace whose local root ran longer than `threshold`.
    #[must_use]
    pub const fn slower(mut self, threshold: Duration) -> Self {
        self.slower = Some(threshold);
        self
    }

    /// `objectives`: keeps a trace in which a call ran past its function's latency objective.
    #[must_use]
    pub const fn objectives(mut self) -> Self {
        self.objectives = true;
        self
    }

    /// `ratio=0.01`: keeps this share of the other traces (0.0 to 1.0), by trace id, the
    /// same traces `traceidratio` with this ratio keeps.
    #[must_use]
    pub const fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = ratio;
        self
    }

    /// `max_spans=1000`: a trace holding this many spans is decided at once.
    #[must_use]
    pub const fn max_spans(mut self, spans: usize) -> Self {
        self.max_spans = spans;
        self
    }

    /// `max_age=30s`: a trace held this long without its root is decided at once.
    #[must_use]
    pub const fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// `max_memory=64MiB`: past this many bytes held in all, the trace whose span passes it
    /// is decided at once.
    #[must_use]
    pub const fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The settings that do not hold: a ratio out of 0.0..=1.0, a zero bound.
    pub(crate) fn check(self) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&self.ratio) {
            return Err(format!(
                "`ratio` must be from 0.0 to 1.0, not {}",
                self.ratio
            ));
        }
        if self.max_spans == 0 || self.max_memory == 0 || self.max_age.is_zero() {
            return Err("the bounds (`max_spans`, `max_age`, `max_memory`) must be above 0".into());
        }
        Ok(self)
    }
}

/// What a valid item looks like, for messages.
const EXPECTED: &str = "expected a comma list of errors, objectives, slower=<duration>, \
                        ratio=<0.0 to 1.0>, max_spans=<n>, max_age=<duration>, \
                        max_memory=<bytes, KiB, MiB or GiB> (durations as 250ms, 2s, 1m)";

impl FromStr for TailSampling {
    type Err = String;

    /// The syntax of `OBS_TRACES_TAIL`; the error names the item and says what is expected.
    fn from_str(list: &str) -> Result<Self, String> {
        let mut rules = TailSampling::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let bad = |why: &str| format!("`{item}`: {why}; {EXPECTED}");
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            let value = |what| value.ok_or_else(|| bad(&format!("`{key}` needs {what}")));
            match key.to_ascii_lowercase().as_str() {
                "errors" => rules.errors = true,
                "objectives" => rules.objectives = true,
                "slower" => rules.slower = Some(duration(value("a duration")?).map_err(bad)?),
                "max_age" => rules.max_age = duration(value("a duration")?).map_err(bad)?,
                "ratio" => {
                    rules.ratio = match value("a ratio")?.parse::<f64>() {
                        Ok(r) if (0.0..=1.0).contains(&r) => r,
                        _ => return Err(bad("the ratio must be from 0.0 to 1.0")),
                    };
                }
                "max_spans" => {
                    rules.max_spans = match value("a number")?.parse::<usize>() {
                        Ok(n) if n > 0 => n,
                        _ => return Err(bad("expected a whole number above 0")),
                    };
                }
                "max_memory" => rules.max_memory = bytes(value("a size")?).map_err(bad)?,
                _ => return Err(bad("unknown item")),
            }
        }
        Ok(rules)
    }
}

/// `250ms`, `2s`, `1m`, `500us`: a duration above 0.
fn duration(text: &str) -> Result<Duration, &'static str> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| "expected a number and a unit")?;
    let seconds = match unit.trim() {
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err("expected a unit: ns, us, ms, s or m"),
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err("expected a duration above 0"),
    }
}

/// `65536`, `64KiB`, `64MiB`, `1GiB`: a size above 0.
fn bytes(text: &str) -> Result<usize, &'static str> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| "expected a whole number of bytes")?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err("expected a unit: KiB, MiB or GiB"),
    };
    number
        .checked_mul(1 << shift)
        .filter(|n| *n > 0)
        .ok_or("expected a size above 0")
}

/// Why a local trace was kept or dropped: the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Kept: a span failed.
    Error,
    /// Kept: the root ran longer than `slower=`.
    Slower,
    /// Kept: a call ran past its latency objective.
    Objective,
    /// Kept: the trace id falls in `ratio=` (known at the trace's start).
    Ratio,
    /// Kept at its start by the head sampler or the caller, outside the ratio.
    Head,
    /// Dropped: no rule kept it.
    Outcome,
}

impl Reason {
    const ALL: [Reason; 6] = [
        Reason::Error,
        Reason::Slower,
        Reason::Objective,
        Reason::Ratio,
        Reason::Head,
        Reason::Outcome,
    ];

    fn label(self) -> &'static str {
        match self {
            Reason::Error => "error",
            Reason::Slower => "slower",
            Reason::Objective => "objective",
            Reason::Ratio => "ratio",
            Reason::Head => "head",
            Reason::Outcome => "outcome",
        }
    }

    pub(crate) fn keeps(self) -> bool {
        self != Reason::Outcome
    }
}

/// A bound that made the holder decide a trace before its root arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The trace held `max_spans` spans.
    Spans,
    /// The trace was held `max_age`.
    Age,
    /// The held traces took `max_memory`: the trace whose span passed it went.
    Memory,
    /// The pipeline stopped.
    Shutdown,
}

impl Bound {
    const ALL: [Bound; 4] = [Bound::Spans, Bound::Age, Bound::Memory, Bound::Shutdown];

    fn label(self) -> &'static str {
        match self {
            Bound::Spans => "spans",
            Bound::Age => "age",
            Bound::Memory => "memory",
            Bound::Shutdown => "shutdown",
        }
    }
}

/// Local traces decided, by [`Reason`].
static DECIDED: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
/// Traces decided before their root arrived, by [`Bound`].
static BOUNDED: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

pub(crate) fn count(reason: Reason) {
    DECIDED[reason as usize].fetch_add(1, Relaxed);
}

pub(crate) fn count_bound(bound: Bound) {
    BOUNDED[bound as usize].fetch_add(1, Relaxed);
}

/// `obs_traces_sampled_total{decision,reason}` and `obs_traces_tail_bounded_total{bound}`,
/// once a pipeline with tail sampling ran.
pub(crate) fn collect(out: &mut Collector) {
    if !hold::EVER_ON.load(Relaxed) {
        return;
    }
    let family = out.family(
        "obs_traces_sampled_total",
        MetricKind::Counter,
        "Local traces tail sampling decided, when their local root closed (or a bound came \
         first): decision kept or dropped, and why: error, slower, objective, ratio (the \
         trace id falls in ratio=, known at its start), head (kept at its start by the \
         sampler or the caller), outcome (no rule kept it).",
    );
    for reason in Reason::ALL {
        let mut labels = Labels::empty();
        labels.push("decision", if reason.keeps() { "kept" } else { "dropped" });
        labels.push("reason", reason.label());
        family.counter(&labels, DECIDED[reason as usize].load(Relaxed));
    }
    let family = out.family(
        "obs_traces_tail_bounded_total",
        MetricKind::Counter,
        "Local traces tail sampling decided before their root closed, on what was held: \
         spans (max_spans reached), age (held max_age), memory (the held traces reached \
         max_memory; the trace whose span passed it went), shutdown (the exporter stopped).",
    );
    for bound in Bound::ALL {
        let mut labels = Labels::empty();
        labels.push("bound", bound.label());
        family.counter(&labels, BOUNDED[bound as usize].load(Relaxed));
    }
}
