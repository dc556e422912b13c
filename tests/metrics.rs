//! The metrics contract as scraped: names, labels, options, statuses, buckets, and exact
//! counts under concurrency while another thread scrapes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use common::Page;
use obs_runtime::{ErrorStatus, Status, counted, in_flight, render, timed};

fn calls(page: &Page, function: &str, status: &str) -> Option<f64> {
    let labels = [
        ("function", function),
        ("module", "metrics"),
        ("status", status),
    ];
    page.value("function_calls_total", &labels)
}

/// The page as `render()` gives it, parsed.
fn scrape() -> Page {
    Page::parse(&render())
}

#[counted(
    name = "skill_executions_total",
    help = "Skill runs, by skill.",
    labels(skill = "weather", tier = "free")
)]
fn weather_skill() {}

#[test]
fn name_help_and_static_labels() {
    weather_skill();
    let page = scrape();
    assert!(page.text().contains("# HELP skill_executions_total Skill runs, by skill.\n# TYPE skill_executions_total counter\n"));
    let labels = [
        ("function", "weather_skill"),
        ("module", "metrics"),
        ("skill", "weather"),
        ("tier", "free"),
        ("status", "ok"),
    ];
    assert_eq!(
        page.value("skill_executions_total", &labels),
        Some(1.0),
        "{page}"
    );
}

const THROTTLED: Status = Status::custom("throttled");

#[derive(Debug)]
enum JobError {
    Slow,
    Denied,
    Throttled,
    Broken,
}

impl ErrorStatus for JobError {
    fn status(&self) -> Status {
        match self {
            JobError::Slow => Status::TIMEOUT,
            JobError::Denied => Status::BLOCKED,
            JobError::Throttled => THROTTLED,
            JobError::Broken => Status::ERROR,
        }
    }
}

#[counted]
#[timed]
fn job(outcome: Option<JobError>) -> Result<(), JobError> {
    outcome.map_or(Ok(()), Err)
}

#[test]
fn error_types_choose_builtin_and_custom_statuses() {
    job(None).unwrap();
    for e in [
        JobError::Slow,
        JobError::Slow,
        JobError::Denied,
        JobError::Throttled,
        JobError::Broken,
    ] {
        job(Some(e)).unwrap_err();
    }
    let page = scrape();
    assert_eq!(calls(&page, "job", "ok"), Some(1.0));
    assert_eq!(calls(&page, "job", "timeout"), Some(2.0));
    assert_eq!(calls(&page, "job", "blocked"), Some(1.0));
    assert_eq!(calls(&page, "job", "throttled"), Some(1.0));
    assert_eq!(calls(&page, "job", "error"), Some(1.0));
    assert_eq!(
        calls(&page, "job", "panic"),
        None,
        "a status never seen is not rendered"
    );
    let count = [
        ("function", "job"),
        ("module", "metrics"),
        ("status", "throttled"),
    ];
    assert_eq!(
        page.value("function_duration_seconds_count", &count),
        Some(1.0)
    );
}

#[counted]
fn never_called() -> Result<u64, String> {
    Ok(1)
}

#[test]
fn functions_never_called_are_listed_at_zero() {
    let _ = never_called;
    let page = scrape();
    assert_eq!(calls(&page, "never_called", "ok"), Some(0.0));
    assert_eq!(calls(&page, "never_called", "error"), Some(0.0));
}

/// `price_order` cannot return an error: a `u64` has no `ReturnStatus`, and no crate can give
/// it one. Its page has no `error` series, counter or histogram, until one is counted.
#[counted]
#[timed]
fn price_order(cents: u64) -> u64 {
    cents * 2
}

#[counted]
#[timed]
async fn price_order_async(cents: u64) -> u64 {
    cents * 2
}

#[test]
fn infallible_return_types_have_no_error_series_at_zero() {
    assert_eq!(price_order(2), 4);
    assert_eq!(futures_executor::block_on(price_order_async(2)), 4);
    let page = scrape();
    for function in ["price_order", "price_order_async"] {
        assert_eq!(calls(&page, function, "ok"), Some(1.0), "{function}");
        assert_eq!(calls(&page, function, "error"), None, "{function}");
        let ok = [
            ("function", function),
            ("module", "metrics"),
            ("status", "ok"),
        ];
        assert_eq!(
            page.value("function_duration_seconds_count", &ok),
            Some(1.0)
        );
        let error = [
            ("function", function),
            ("module", "metrics"),
            ("status", "error"),
        ];
        assert_eq!(page.value("function_duration_seconds_count", &error), None);
        assert!(
            !page
                .text()
                .lines()
                .any(|l| l.contains(function) && l.contains("status=\"error\"")),
            "no error line for {function}"
        );
    }
    let listed = obs_runtime::catalog::functions();
    let can = |name: &str| {
        listed
            .iter()
            .find(|f| f.function == name)
            .map(|f| f.can_return_error)
    };
    assert_eq!(can("price_order"), Some(false));
    assert_eq!(can("never_called"), Some(true));
}

#[timed(buckets = [0.25, 0.5])]
fn coarse() {}

#[timed]
fn fine() {}

#[test]
fn each_function_renders_its_own_buckets_in_one_family() {
    coarse();
    fine();
    let page = scrape();
    let les = |function: &str| -> Vec<&str> {
        let series = [
            ("function", function),
            ("module", "metrics"),
            ("status", "ok"),
        ];
        page.samples()
            .iter()
            .filter(|s| s.name == "function_duration_seconds_bucket")
            .filter(|s| s.labels.len() == 4 && s.pairs().take(3).eq(series))
            .filter_map(|s| s.label("le"))
            .collect()
    };
    assert_eq!(les("coarse"), ["0.25", "0.5", "+Inf"]);
    assert_eq!(
        les("fine"),
        [
            "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ]
    );
    assert_eq!(
        page.text()
            .matches("# TYPE function_duration_seconds histogram")
            .count(),
        1
    );
}

#[in_flight]
fn hold(gate: &Barrier, release: &Barrier) {
    gate.wait();
    release.wait();
}

#[test]
fn in_flight_counts_running_calls_and_returns_to_zero() {
    let gate = Arc::new(Barrier::new(4));
    let release = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (g, r) = (Arc::clone(&gate), Arc::clone(&release));
            std::thread::spawn(move || hold(&g, &r))
        })
        .collect();
    gate.wait();
    let labels = [("function", "hold"), ("module", "metrics")];
    assert_eq!(
        scrape().value("function_calls_in_flight", &labels),
        Some(3.0)
    );
    release.wait();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        scrape().value("function_calls_in_flight", &labels),
        Some(0.0)
    );
}

struct Wrapper<T>(T);

#[counted]
impl<T: Copy> Wrapper<T> {
    fn get(&self) -> T {
        self.0
    }
}

#[test]
fn a_method_of_a_generic_impl_is_one_series() {
    Wrapper(1u8).get();
    Wrapper("a").get();
    Wrapper(2.5f64).get();
    assert_eq!(calls(&scrape(), "Wrapper::get", "ok"), Some(3.0));
}

#[counted]
#[timed(buckets = [0.000_001, 0.001])]
#[in_flight]
fn hot(i: u64) -> Result<u64, u64> {
    if i.is_multiple_of(3) { Err(i) } else { Ok(i) }
}

type Label = (String, String);

/// Every histogram series on `page`: cumulative buckets, `+Inf` last and equal to `_count`.
fn check_histograms(page: &Page) {
    // The previous bucket: its series (labels but `le`), its `le` and its count.
    let mut last: Option<(&[Label], &str, u64)> = None;
    for sample in page.samples() {
        if sample.name == "function_duration_seconds_bucket" {
            let ((key, le), series) = sample.labels.split_last().expect("an le label");
            assert_eq!(key, "le", "le last: line {}", sample.line);
            let value = sample.count();
            if let Some((prev, _, count)) = last
                && prev == series
            {
                assert!(
                    value >= count,
                    "buckets not cumulative: line {}",
                    sample.line
                );
            }
            last = Some((series, le, value));
        } else if sample.name == "function_duration_seconds_count" {
            let series = sample.labels.as_slice();
            let (prev, le, inf) = last.take().expect("buckets before _count");
            assert_eq!(prev, series);
            assert_eq!(le, "+Inf", "the last bucket of {series:?}");
            assert_eq!(
                sample.count(),
                inf,
                "+Inf bucket differs from _count for {series:?}"
            );
        }
    }
}

#[test]
fn exact_counts_under_concurrency_while_scraping() {
    const THREADS: u64 = 4;
    const CALLS: u64 = 30_000;
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut scrapes = 0u32;
            let mut last_total = 0.0;
            while !stop.load(Ordering::Relaxed) {
                let page = scrape();
                check_histograms(&page);
                let total =
                    calls(&page, "hot", "ok").unwrap() + calls(&page, "hot", "error").unwrap();
                assert!(
                    total >= last_total,
                    "a count went down: {last_total} then {total}"
                );
                last_total = total;
                scrapes += 1;
            }
            scrapes
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..CALLS {
                    let _ = hot(t * CALLS + i);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let scrape_count = scraper.join().unwrap();
    assert!(scrape_count > 0);

    let page = scrape();
    check_histograms(&page);
    let total = THREADS * CALLS;
    let error_calls = (0..total).filter(|i| i.is_multiple_of(3)).count();
    #[allow(clippy::cast_precision_loss)]
    let (errors, oks) = (error_calls as f64, (total - error_calls as u64) as f64);
    assert_eq!(calls(&page, "hot", "error"), Some(errors));
    assert_eq!(calls(&page, "hot", "ok"), Some(oks));
    let count = [("function", "hot"), ("module", "metrics"), ("status", "ok")];
    assert_eq!(
        page.value("function_duration_seconds_count", &count),
        Some(oks)
    );
    assert_eq!(
        page.value(
            "function_calls_in_flight",
            &[("function", "hot"), ("module", "metrics")]
        ),
        Some(0.0)
    );
}

#[counted]
#[in_flight]
fn panics(yes: bool) -> u8 {
    assert!(!yes, "asked to");
    1
}

#[test]
fn a_panic_is_counted_and_goes_on_unchanged() {
    let payload = std::panic::catch_unwind(|| panics(true)).unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"asked to"));
    assert_eq!(panics(false), 1);
    let page = scrape();
    assert_eq!(calls(&page, "panics", "panic"), Some(1.0));
    assert_eq!(calls(&page, "panics", "ok"), Some(1.0));
    assert_eq!(
        page.value(
            "function_calls_in_flight",
            &[("function", "panics"), ("module", "metrics")]
        ),
        Some(0.0)
    );
}

#[test]
fn the_whole_page_passes_promtool() {
    weather_skill();
    let _ = job(Some(JobError::Throttled));
    let page = render();
    if let Some((clean, report)) = common::promtool_check_metrics(&page) {
        assert!(
            clean,
            "promtool check metrics found problems:\n{report}\n{page}"
        );
    }
}
