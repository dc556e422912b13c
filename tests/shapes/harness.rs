//! Reading the page, and the small tools the sections share: a subscriber that enables every
//! span, futures polled by hand, panics caught.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::common::{Page, Sample};

/// Installs a subscriber that enables every span, so the span code of `#[traced]` runs too.
pub(crate) fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    });
}

/// The page `/metrics` would serve now, parsed.
pub(crate) fn render() -> Page {
    Page::parse(&obs_runtime::render())
}

/// Every sample `name{…}` of `page` whose labels include `want`.
///
/// Checks on the way that each one's `module` is this test crate's.
pub(crate) fn samples<'a>(page: &'a Page, name: &str, want: &[(&str, &str)]) -> Vec<&'a Sample> {
    let found: Vec<&Sample> = page.series(name, want).collect();
    for sample in &found {
        let module = sample
            .label("module")
            .unwrap_or_else(|| panic!("no module label: {sample:?}"));
        assert!(
            module == "shapes" || module.starts_with("shapes::"),
            "not this crate's module: {sample:?}"
        );
    }
    found
}

/// The one sample `name{…}` whose labels include `want`, if there is one.
pub(crate) fn sample<'a>(page: &'a Page, name: &str, want: &[(&str, &str)]) -> Option<&'a Sample> {
    let mut all = samples(page, name, want);
    assert!(
        all.len() <= 1,
        "several {name} series match {want:?}: {all:?}"
    );
    all.pop()
}

/// `ok` series are always rendered, `error` ones when the function's return type can give
/// it (the catalog says which, from the signature); the others only once non-zero.
fn always_rendered(function: &str, status: &str) -> bool {
    status == "ok" || (status == "error" && can_return_error(function))
}

/// Whether the catalog says a call of this crate's `function` can end `error`.
pub(crate) fn can_return_error(function: &str) -> bool {
    let entries: Vec<bool> = obs_runtime::catalog::functions()
        .into_iter()
        .filter(|f| f.function == function && f.module.starts_with("shapes"))
        .map(|f| f.can_return_error)
        .collect();
    assert!(!entries.is_empty(), "{function} is not in the catalog");
    entries.contains(&true)
}

/// Calls of `function` that ended with `status`: `function_calls_total`.
pub(crate) fn count(page: &Page, function: &str, status: &str) -> u64 {
    let found = sample(
        page,
        "function_calls_total",
        &[("function", function), ("status", status)],
    );
    assert!(
        found.is_some() || !always_rendered(function, status),
        "no {status} series for {function}:\n{page}"
    );
    found.map_or(0, Sample::count)
}

/// Calls of `function` that ended with `status`, as `function_duration_seconds_count` says.
fn timed_count(page: &Page, function: &str, status: &str) -> u64 {
    let found = sample(
        page,
        "function_duration_seconds_count",
        &[("function", function), ("status", status)],
    );
    assert!(
        found.is_some() || !always_rendered(function, status),
        "no {status} histogram for {function}:\n{page}"
    );
    found.map_or(0, Sample::count)
}

/// Calls of `function` running now: `function_calls_in_flight`.
pub(crate) fn in_flight_now(page: &Page, function: &str) -> i64 {
    sample(page, "function_calls_in_flight", &[("function", function)])
        .unwrap_or_else(|| panic!("no in-flight gauge for {function}:\n{page}"))
        .integer()
}

/// The `status` → count of every `function_calls_total` series of `function`.
fn tally(page: &Page, function: &str) -> BTreeMap<String, u64> {
    samples(page, "function_calls_total", &[("function", function)])
        .into_iter()
        .map(|s| {
            let status = s.label("status").expect("a status label");
            (status.to_owned(), s.count())
        })
        .collect()
}

/// Asserts everything recorded for `function`, which carries `#[counted]`, `#[timed]` and
/// `#[in_flight]`: the counter series are exactly `want` (plus `ok` at 0, and `error` at 0 when
/// the return type can give it, when not given), the histogram counts the same calls, and no
/// call is in flight.
#[track_caller]
pub(crate) fn assert_calls(function: &str, want: &[(&str, u64)]) {
    let page = render();
    let mut expected: BTreeMap<String, u64> = [("ok".to_owned(), 0)].into();
    if can_return_error(function) {
        expected.insert("error".to_owned(), 0);
    }
    for (status, n) in want {
        expected.insert((*status).to_owned(), *n);
    }
    assert_eq!(tally(&page, function), expected, "counter of {function}");
    for (status, n) in &expected {
        assert_eq!(
            timed_count(&page, function, status),
            *n,
            "histogram of {function}, status {status}"
        );
    }
    assert_eq!(in_flight_now(&page, function), 0, "in flight of {function}");
}

/// The `module` label of `function`'s counter.
pub(crate) fn module_of(page: &Page, function: &str) -> String {
    let all = samples(
        page,
        "function_calls_total",
        &[("function", function), ("status", "ok")],
    );
    assert_eq!(all.len(), 1, "one ok series for {function}");
    all[0].label("module").expect("a module label").to_owned()
}

/// Polls `fut` once, with a waker that does nothing.
pub(crate) fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A future that is pending on its first poll and ready on the second.
pub(crate) struct YieldOnce(pub(crate) bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

pub(crate) fn assert_send<T: Send>(_: &T) {}

/// Runs `f`, which must panic, and returns the panic's payload.
pub(crate) fn panic_payload<R>(f: impl FnOnce() -> R) -> Box<dyn std::any::Any + Send> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => payload,
    }
}

#[test]
fn the_page_parser_reads_what_it_should() {
    let page = Page::parse(
        "function_calls_total{function=\"a\\\"b\",module=\"shapes\",status=\"ok\"} 3\n\
         function_calls_total{function=\"x\",module=\"shapes::m\",status=\"error\"} 0\n",
    );
    assert_eq!(count(&page, "a\"b", "ok"), 3);
    assert_eq!(count(&page, "x", "error"), 0);
    assert_eq!(count(&page, "x", "panic"), 0);
    assert!(
        panic::catch_unwind(|| count(&page, "x", "ok")).is_err(),
        "ok must be rendered"
    );
}
