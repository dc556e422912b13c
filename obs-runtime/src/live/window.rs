//! Windows kept off the hot path: obs's sampler thread reads every row every [`TICK`] into a
//! bounded ring of points per row, from which the page takes the last minute, the error budget
//! over the kept [`KEPT`] (15 minutes, or since start when younger) and the chart.
//!
//! A point is 56 bytes (its time, three counts, its p99, the bucket counts' box): 180 points a
//! row, 10 KB. The bucket counts a point also holds (for the minute's quantiles and the next
//! point's p99) are dropped once it is older than [`MINUTE`] plus two ticks: 14 points keep
//! them, 2.6 KB with the 22 default bounds. About 13 KB a row, 13 MB for 1,000 functions.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::rows::{Row, over};
use crate::metrics::catalog::Objective;
use crate::sync::lock;

/// How often the sampler reads the sites.
pub(crate) const TICK: Duration = Duration::from_secs(5);
/// The page's short window.
pub(crate) const MINUTE: Duration = Duration::from_secs(60);
/// How long points are kept: the chart, and the error budgets' window.
pub(crate) const KEPT: Duration = Duration::from_secs(15 * 60);
/// Points per row.
const POINTS: usize = 180;

/// One reading of one row.
#[derive(Clone, Debug)]
struct Point {
    /// Milliseconds since [`started`]: integer arithmetic, where `Instant`'s took a tenth of
    /// a page of 1,000 functions.
    at: u64,
    calls: u64,
    failures: u64,
    over: u64,
    /// p99 of the calls since the point before, in seconds.
    p99: Option<f32>,
    buckets: Option<Box<[u64]>>,
}

#[derive(Default)]
struct Windows {
    tracks: HashMap<String, VecDeque<Point>>,
}

static WINDOWS: Mutex<Option<Windows>> = Mutex::new(None);
static STARTED: OnceLock<Instant> = OnceLock::new();

/// When the first sampler started: "since start" on the page.
pub(crate) fn started() -> Instant {
    *STARTED.get_or_init(Instant::now)
}

/// Milliseconds from [`started`] to `at`.
fn millis(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(started()).as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds as seconds, at least one millisecond.
#[allow(clippy::cast_precision_loss)] // ms since start, far below 2^52
fn secs(ms: u64) -> f64 {
    ms.max(1) as f64 / 1e3
}

/// Cumulative per-bucket `counts` minus `base` (shorter or missing `base`: zeros).
fn delta(counts: &[u64], base: Option<&[u64]>) -> Vec<u64> {
    counts
        .iter()
        .enumerate()
        .map(|(i, n)| n.saturating_sub(base.and_then(|b| b.get(i)).copied().unwrap_or(0)))
        .collect()
}

/// The `q` quantile (0 to 1) of calls counted per bucket (`+Inf` last) under `bounds`,
/// interpolated linearly within its bucket as Prometheus's `histogram_quantile` does: the
/// first bucket starts at 0, and a quantile in `+Inf` reads as the highest bound. `None`
/// without calls.
pub(crate) fn quantile(q: f64, bounds: &[f64], buckets: &[u64]) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 || bounds.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let rank = q * total as f64;
    let mut below = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        if n > 0 && (below + n) as f64 >= rank {
            let Some(&upper) = bounds.get(i) else {
                return bounds.last().copied();
            };
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            #[allow(clippy::cast_precision_loss)]
            let within = (rank - below as f64) / n as f64;
            return Some(lower + (upper - lower) * within.clamp(0.0, 1.0));
        }
        below += n;
    }
    bounds.last().copied()
}

/// Reads every row once and files a point for each.
pub(crate) fn tick(rows: &[Row], now: Instant) {
    let now = millis(now);
    let minute = u64::try_from((MINUTE + 2 * TICK).as_millis()).unwrap_or(u64::MAX);
    let mut windows = lock(&WINDOWS);
    let windows = windows.get_or_insert_with(Windows::default);
    for row in rows {
        let track = windows.tracks.entry(row.key.clone()).or_default();
        let previous = track.back().and_then(|p| p.buckets.as_deref());
        let step = delta(&row.reading.buckets, previous);
        #[allow(clippy::cast_possible_truncation)] // a chart's precision
        let p99 = quantile(0.99, &row.reading.bounds, &step).map(|s| s as f32);
        track.push_back(Point {
            at: now,
            calls: row.calls(),
            failures: row.failures(),
            over: row.over(),
            p99,
            buckets: Some(row.reading.buckets.clone().into_boxed_slice()),
        });
        while track.len() > POINTS {
            track.pop_front();
        }
        for p in track.iter_mut() {
            if now.saturating_sub(p.at) > minute {
                p.buckets = None;
            }
        }
    }
}

/// What the page shows of one row.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    /// Calls per second since start.
    pub(crate) rate: f64,
    pub(crate) calls_1m: u64,
    pub(crate) failures_1m: u64,
    pub(crate) rate_1m: f64,
    /// Seconds the short window really covers (60 to 65 once the process is a minute old).
    pub(crate) window_1m: f64,
    pub(crate) p50: Option<f64>,
    pub(crate) p95: Option<f64>,
    pub(crate) p99: Option<f64>,
    pub(crate) in_flight: Option<i64>,
    /// Each objective and the share of its error budget left over the kept window (`None`
    /// without calls there; below 0 when overspent).
    pub(crate) budgets: Vec<(Objective, Option<f64>)>,
    /// The chart: calls per second and p99 (seconds) per tick, oldest first.
    pub(crate) series: Vec<(f64, Option<f64>)>,
}

/// A ratio, `None` when there is nothing to divide by.
pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The stats of each row, read at `now`, against the points kept of it (one lock for all).
pub(crate) fn stats_all(rows: Vec<Row>, now: Instant) -> Vec<(Row, Stats)> {
    let windows = lock(&WINDOWS);
    let empty = VecDeque::new();
    rows.into_iter()
        .map(|row| {
            let track = windows.as_ref().and_then(|w| w.tracks.get(&row.key));
            let s = stats_of(&row, track.unwrap_or(&empty), now);
            (row, s)
        })
        .collect()
}

/// The stats of `row`, read at `now`, against the points kept of it.
#[cfg(test)]
pub(crate) fn stats(row: &Row, now: Instant) -> Stats {
    stats_all(vec![row.clone()], now).remove(0).1
}

fn stats_of(row: &Row, track: &VecDeque<Point>, now: Instant) -> Stats {
    let (calls, failures) = (row.calls(), row.failures());
    let now = millis(now);
    let minute = u64::try_from(MINUTE.as_millis()).unwrap_or(u64::MAX);
    // The minute: from the newest point at least a minute old, else from start (zero).
    let base = track
        .iter()
        .rev()
        .find(|p| now.saturating_sub(p.at) >= minute);
    let (base_at, base_calls, base_failures) =
        base.map_or((0, 0, 0), |p| (p.at, p.calls, p.failures));
    let window_1m = secs(now.saturating_sub(base_at));
    let step = delta(
        &row.reading.buckets,
        base.and_then(|p| p.buckets.as_deref()),
    );
    let q = |q| quantile(q, &row.reading.bounds, &step);
    let calls_1m = calls.saturating_sub(base_calls);
    // The budgets: over every point kept, from zero while the ring is not full.
    let oldest = (track.len() >= POINTS).then(|| track.front()).flatten();
    let (kept_calls, kept_failures, kept_over) =
        oldest.map_or((0, 0, 0), |p| (p.calls, p.failures, p.over));
    let window_calls = calls.saturating_sub(kept_calls);
    let budgets = row
        .objectives
        .iter()
        .map(|o| {
            let bad = match o {
                Objective::Success { .. } => failures.saturating_sub(kept_failures),
                Objective::Latency { threshold, .. } => {
                    over(&row.reading.bounds, &row.reading.buckets, *threshold)
                        .saturating_sub(kept_over)
                }
            };
            let left = ratio(bad, window_calls).map(|r| 1.0 - r / o.budget().max(1e-12));
            (*o, left)
        })
        .collect();
    let mut series = Vec::with_capacity(track.len());
    let mut previous: Option<&Point> = None;
    for p in track {
        if let Some(prev) = previous {
            #[allow(clippy::cast_precision_loss)]
            let rate = p.calls.saturating_sub(prev.calls) as f64 / secs(p.at - prev.at);
            series.push((rate, p.p99.map(f64::from)));
        }
        previous = Some(p);
    }
    #[allow(clippy::cast_precision_loss)]
    Stats {
        calls,
        failures,
        rate: calls as f64 / secs(now),
        calls_1m,
        failures_1m: failures.saturating_sub(base_failures),
        rate_1m: calls_1m as f64 / window_1m,
        window_1m,
        p50: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
        in_flight: row.reading.in_flight,
        budgets,
        series,
    }
}

/// The sampler thread, shared by every install that serves the page: the last guard dropped
/// stops it.
struct Sampler {
    users: usize,
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

static SAMPLER: Mutex<Option<Sampler>> = Mutex::new(None);

/// Keeps the sampler running while held.
#[derive(Debug)]
pub(crate) struct SamplerGuard(());

/// Starts the sampler, or counts one more user of the running one.
pub(crate) fn start() -> Result<SamplerGuard, crate::error::Error> {
    let mut sampler = lock(&SAMPLER);
    if let Some(s) = sampler.as_mut() {
        s.users += 1;
        return Ok(SamplerGuard(()));
    }
    started();
    let (stop, stopped) = channel::<()>();
    let thread = std::thread::Builder::new()
        .name("obs-page-sampler".into())
        .spawn(move || {
            loop {
                tick(&super::rows::current(), Instant::now());
                match stopped.recv_timeout(TICK) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => break,
                }
            }
        })
        .map_err(crate::error::Error::Thread)?;
    *sampler = Some(Sampler {
        users: 1,
        stop,
        thread,
    });
    Ok(SamplerGuard(()))
}

impl Drop for SamplerGuard {
    fn drop(&mut self) {
        let mut sampler = lock(&SAMPLER);
        let last = sampler.as_mut().is_some_and(|s| {
            s.users -= 1;
            s.users == 0
        });
        if last && let Some(s) = sampler.take() {
            drop(sampler);
            let _ = s.stop.send(());
            let _ = s.thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
