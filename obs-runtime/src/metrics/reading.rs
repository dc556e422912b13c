//! What the live page (`/obs/`) reads of a site: its calls by status value and its histogram
//! buckets, summed over the shards. Read by obs's own threads only (the page's sampler and a
//! request for the page), never by an instrumented call.

/// The totals of one function's sites, as [`Site::read`](super::site::Site::read) adds them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// Calls `#[counted]` counted, by value of the status label.
    pub(crate) counted: Vec<(&'static str, u64)>,
    /// Calls `#[timed]` timed, by value of the status label.
    pub(crate) timed: Vec<(&'static str, u64)>,
    /// The bounds of the first histogram read, in seconds.
    pub(crate) bounds: Vec<f64>,
    /// Its counts per bucket (not cumulative) over every status, `+Inf` last.
    pub(crate) buckets: Vec<u64>,
    /// Calls running now, if a gauge was read.
    pub(crate) in_flight: Option<i64>,
}

impl Reading {
    /// Adds `n` calls that ended with status value `value` to `list`.
    pub(crate) fn add_calls(list: &mut Vec<(&'static str, u64)>, value: &'static str, n: u64) {
        match list.iter_mut().find(|(v, _)| *v == value) {
            Some((_, count)) => *count = count.wrapping_add(n),
            None => list.push((value, n)),
        }
    }

    /// Adds one status's bucket counts of a histogram with `bounds`; a second histogram with
    /// other bounds is left out (its quantiles could not be merged).
    pub(crate) fn add_buckets(&mut self, bounds: &[f64], counts: &[u64], inf: u64) {
        if self.bounds.is_empty() {
            self.bounds = bounds.to_vec();
            self.buckets = vec![0; bounds.len() + 1];
        } else if self.bounds != bounds {
            return;
        }
        for (total, n) in self.buckets.iter_mut().zip(counts.iter().chain([&inf])) {
            *total = total.wrapping_add(*n);
        }
    }

    /// Adds a gauge's value.
    pub(crate) fn add_in_flight(&mut self, value: i64) {
        self.in_flight = Some(self.in_flight.unwrap_or(0).wrapping_add(value));
    }

    /// Calls by status value: `#[counted]`'s, else `#[timed]`'s.
    pub(crate) fn calls(&self) -> &[(&'static str, u64)] {
        if self.counted.is_empty() {
            &self.timed
        } else {
            &self.counted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Reading;

    #[test]
    fn sums_calls_by_value_and_buckets_of_equal_bounds() {
        let mut r = Reading::default();
        Reading::add_calls(&mut r.timed, "ok", 2);
        Reading::add_calls(&mut r.timed, "error", 1);
        Reading::add_calls(&mut r.timed, "ok", 3);
        assert_eq!(r.calls(), &[("ok", 5), ("error", 1)]);
        r.add_buckets(&[0.1, 1.0], &[1, 2], 3);
        r.add_buckets(&[0.1, 1.0], &[1, 0], 0);
        r.add_buckets(&[0.5], &[9], 9);
        assert_eq!(r.buckets, vec![2, 2, 3]);
        Reading::add_calls(&mut r.counted, "ok", 1);
        assert_eq!(r.calls(), &[("ok", 1)]);
    }
}
