//! A bounded map from a set of label values to its series, for the series whose labels come
//! from each call: labelled sites (`labels(tenant = req.tenant())`) and the HTTP layer's
//! families both keep one.
//!
//! Each map keeps at most [`series_limit`] sets, made on first use and never freed (the page
//! reads them without a lock of the hot path's); past the cap, calls land in one overflow
//! series whose dynamic labels read [`OVERFLOW`], and one warning is logged per map. Nothing
//! is lost and memory stays bounded.
//!
//! Cost per call: the values joined by `\0` into a reused thread-local buffer, and a lookup in
//! a read-locked hash map. The hash is rapidhash with the process's one random seed: `SipHash`
//! was 40 % of an HTTP layer's lookup, and a crafted set of values can at worst fill the
//! capped map.

use core::hash::BuildHasher;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use super::labelled::{OVERFLOW, series_limit};
use crate::sync::{read, write};

thread_local! {
    /// The key being looked up: label values joined by `\0`. Reused, so a hit allocates nothing.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// rapidhash seeded once per process, made in a `const` (labelled sites are statics).
#[derive(Clone, Copy, Default)]
pub(crate) struct Seeded;

impl BuildHasher for Seeded {
    type Hasher = rapidhash::fast::RapidHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        rapidhash::fast::GlobalState::new().build_hasher()
    }
}

/// The series of each label-value set seen, up to [`series_limit`], and the overflow's.
pub(crate) struct SeriesMap<V: 'static> {
    series: RwLock<HashMap<Box<str>, &'static V, Seeded>>,
    overflow: OnceLock<&'static V>,
    warned: AtomicBool,
}

impl<V: Sync + 'static> SeriesMap<V> {
    pub(crate) const fn new() -> Self {
        SeriesMap {
            series: RwLock::new(HashMap::with_hasher(Seeded)),
            overflow: OnceLock::new(),
            warned: AtomicBool::new(false),
        }
    }

    /// The series whose key `write_key` writes (the values joined by `\0`), made by `make`
    /// from the key on its first use; past the cap, the overflow series, made by `overflow`,
    /// with `warn` called the first time.
    #[inline]
    pub(crate) fn get(
        &'static self,
        write_key: impl FnOnce(&mut String),
        make: impl FnOnce(&str) -> V,
        overflow: impl FnOnce() -> V,
        warn: impl FnOnce(),
    ) -> &'static V {
        KEY.with(|key| {
            let mut key = key.borrow_mut();
            key.clear();
            write_key(&mut key);
            if let Some(series) = read(&self.series).get(key.as_str()) {
                return *series;
            }
            self.insert(&key, make, overflow, warn)
        })
    }

    #[cold]
    fn insert(
        &'static self,
        key: &str,
        make: impl FnOnce(&str) -> V,
        overflow: impl FnOnce() -> V,
        warn: impl FnOnce(),
    ) -> &'static V {
        let mut series = write(&self.series);
        if let Some(found) = series.get(key) {
            return found;
        }
        if series.len() >= series_limit() {
            drop(series);
            if !self.warned.swap(true, Relaxed) {
                warn();
            }
            return self
                .overflow
                .get_or_init(|| Box::leak(Box::new(overflow())));
        }
        let new: &'static V = Box::leak(Box::new(make(key)));
        series.insert(key.into(), new);
        new
    }

    /// Every series made so far, the overflow's last.
    pub(crate) fn all(&self) -> Vec<&'static V> {
        let mut all: Vec<&'static V> = read(&self.series).values().copied().collect();
        all.extend(self.overflow.get().copied());
        all
    }
}

/// The value of every label of an overflow series, `labels` of them.
pub(crate) fn overflow_values(labels: usize) -> Vec<&'static str> {
    vec![OVERFLOW; labels]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(values: &[&str]) -> impl FnOnce(&mut String) {
        move |key: &mut String| key.push_str(&values.join("\0"))
    }

    #[test]
    fn a_set_is_made_once_and_the_cap_sends_the_rest_to_one_overflow() {
        static MAP: SeriesMap<String> = SeriesMap::new();
        let limit = series_limit();
        let mut warnings = 0;
        let mut get = |values: &[&str]| {
            MAP.get(
                joined(values),
                |key| key.replace('\0', "|"),
                || overflow_values(values.len()).join("|"),
                || warnings += 1,
            )
        };
        let a = get(&["a", "1"]);
        assert_eq!(a, "a|1");
        assert!(
            core::ptr::eq(a, get(&["a", "1"])),
            "found again, not made twice"
        );
        for i in 1..limit {
            get(&["b", &i.to_string()]);
        }
        let over = get(&["c", "9"]);
        assert_eq!(over, "__overflow__|__overflow__");
        assert!(core::ptr::eq(over, get(&["d", "9"])), "one overflow series");
        assert_eq!(warnings, 1, "one warning");
        assert_eq!(MAP.all().len(), limit + 1);
        assert!(core::ptr::eq(*MAP.all().last().unwrap(), over));
    }
}
