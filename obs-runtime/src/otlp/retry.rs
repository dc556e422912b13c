//! When to send a failed request again: the OTLP specification's retryable answers, its
//! exponential backoff with jitter, and the server's own `Retry-After` or `RetryInfo`.
//!
//! The waiting is the caller's (the signal's worker keeps the batch and waits on its own
//! shutdown signal); this module only says how long, and when to give up.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why an export failed, and whether sending the same request again may succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// A retryable answer (HTTP 429, 502, 503, 504; gRPC `UNAVAILABLE` and its kin) or no
    /// answer at all; `after` is the delay the server asked for, if it asked.
    Retryable {
        /// `Retry-After`, or `RetryInfo.retry_delay`.
        after: Option<Duration>,
    },
    /// The server refused the request: sending it again would be refused again.
    Permanent,
    /// The server's certificate did not verify (or the handshake failed): never retried,
    /// counted apart, since it is a configuration to fix and not an outage.
    Tls,
}

/// A failed export: what happened, for the log, and what to do about it.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) reason: String,
    pub(crate) kind: FailureKind,
}

impl Failure {
    pub(crate) fn retryable(reason: impl Into<String>, after: Option<Duration>) -> Self {
        Failure {
            reason: reason.into(),
            kind: FailureKind::Retryable { after },
        }
    }

    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            kind: FailureKind::Permanent,
        }
    }

    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tls(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            kind: FailureKind::Tls,
        }
    }
}

impl From<String> for Failure {
    /// No answer (a timeout, a connection that closed): the server may not have seen the
    /// request, so it is sent again.
    fn from(reason: String) -> Self {
        Failure::retryable(reason, None)
    }
}

/// The first wait after a failure; each next one doubles, up to [`MAX_DELAY`].
pub(crate) const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest computed wait between two attempts (a server's `Retry-After` may ask longer).
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(16);

/// The retries of one request: how long to wait before each, until its budget is spent.
#[derive(Debug)]
pub(crate) struct Backoff {
    /// No attempt starts after this: the batch's export timeout from its first attempt.
    give_up: Instant,
    next: Duration,
}

impl Backoff {
    /// Retries of a request first sent now, allowed until `budget` has passed.
    pub(crate) fn new(budget: Duration) -> Self {
        Backoff {
            give_up: Instant::now() + budget,
            next: FIRST_DELAY,
        }
    }

    /// When to send again after a retryable failure, or `None` once the budget does not
    /// leave room for another attempt. The server's delay wins over the computed one; the
    /// computed one is drawn between half and all of the current step (full jitter would let
    /// many clients that failed together retry together as often).
    pub(crate) fn next_attempt(&mut self, after: Option<Duration>) -> Option<Instant> {
        let step = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        let wait = after.unwrap_or_else(|| jitter(step));
        let at = Instant::now() + wait;
        (at < self.give_up).then_some(at)
    }

    /// The time left for attempts.
    pub(crate) fn left(&self) -> Duration {
        self.give_up.saturating_duration_since(Instant::now())
    }
}

/// Between half of `step` and all of it, at random.
fn jitter(step: Duration) -> Duration {
    // std's hasher keys are random per process and change with every `RandomState`: enough
    // randomness for spreading retries, with no dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    #[allow(clippy::cast_precision_loss)]
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    step.mul_f64(0.5 + fraction / 2.0)
}

/// Whether an HTTP status asks for the same request again (the specification's list).
pub(crate) fn http_retryable(code: u16) -> bool {
    matches!(code, 429 | 502 | 503 | 504)
}

/// A `Retry-After` value: a number of seconds, or an HTTP date (RFC 9110: IMF-fixdate).
/// A date in the past is no wait; anything else unreadable is `None`.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as seconds since the Unix epoch.
fn parse_http_date(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)?;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(str::parse::<u64>);
    let (h, m, s) = (
        clock.next()?.ok()?,
        clock.next()?.ok()?,
        clock.next()?.ok()?,
    );
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let month = i64::try_from(month).ok()? + 1;
    let days = days_from_civil(year, month, i64::try_from(day).ok()?);
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        // A date past is no wait; garbage is no answer.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 CET"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_its_budget() {
        let mut backoff = Backoff::new(Duration::from_secs(60));
        for step in [1, 2, 4, 8, 16, 16] {
            let at = backoff.next_attempt(None).expect("within the budget");
            let wait = at.saturating_duration_since(Instant::now());
            let step = Duration::from_secs(step);
            assert!(
                wait <= step && wait + Duration::from_millis(50) >= step / 2,
                "{wait:?}"
            );
        }
        // The server's delay wins; one past the budget is no retry.
        let at = backoff.next_attempt(Some(Duration::from_secs(30))).unwrap();
        assert!(at > Instant::now() + Duration::from_secs(29));
        assert_eq!(backoff.next_attempt(Some(Duration::from_secs(61))), None);
        assert!(Backoff::new(Duration::ZERO).next_attempt(None).is_none());
    }

    #[test]
    fn only_the_specifications_http_codes_are_retried() {
        for code in [429, 502, 503, 504] {
            assert!(http_retryable(code), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 500, 501] {
            assert!(!http_retryable(code), "{code}");
        }
    }
}
