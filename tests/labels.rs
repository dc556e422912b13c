//! Labels whose values come from the call, and the cardinality guard that keeps them bounded.

mod common;

use std::fmt;
use std::sync::{Arc, Mutex};

use common::{Page, Sample};
use obs_runtime::{counted, in_flight, render, timed};

#[derive(Debug)]
struct SkillError;

#[counted(name = "skill_executions_total", labels(skill_name = skill, tier = "free"))]
#[timed(name = "skill_duration_seconds", buckets = [0.01, 0.1], labels(skill_name = skill))]
#[in_flight(name = "skills_running", labels(skill_name = skill))]
fn run_skill(skill: &str, fail: bool) -> Result<(), SkillError> {
    if fail { Err(SkillError) } else { Ok(()) }
}

#[test]
fn each_value_gets_its_series_with_the_static_labels_too() {
    run_skill("weather", false).unwrap();
    run_skill("weather", false).unwrap();
    run_skill("timer", true).unwrap_err();
    let page = Page::parse(&render());
    let count = |skill: &str, status: &str| {
        let labels = [
            ("function", "run_skill"),
            ("module", "labels"),
            ("tier", "free"),
            ("skill_name", skill),
            ("status", status),
        ];
        page.value("skill_executions_total", &labels)
    };
    assert_eq!(count("weather", "ok"), Some(2.0), "{page}");
    assert_eq!(count("timer", "error"), Some(1.0));
    assert_eq!(count("timer", "ok"), Some(0.0));
    let timer = [
        ("function", "run_skill"),
        ("module", "labels"),
        ("skill_name", "timer"),
        ("status", "error"),
        ("le", "+Inf"),
    ];
    assert_eq!(
        page.value("skill_duration_seconds_bucket", &timer),
        Some(1.0)
    );
    let running = [
        ("function", "run_skill"),
        ("module", "labels"),
        ("skill_name", "weather"),
    ];
    assert_eq!(page.value("skills_running", &running), Some(0.0));
}

/// A value whose `Display` needs escaping in the exposition format.
struct Path(&'static str);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[counted(labels(path = path))]
fn fetch(path: &Path) {}

#[test]
fn any_display_value_is_escaped() {
    fetch(&Path("a\"quoted\"\\path\nwith a newline"));
    fetch(&Path("caf\u{e9}"));
    let page = render();
    assert!(
        page.contains(r#"path="a\"quoted\"\\path\nwith a newline",status="ok"} 1"#),
        "{page}"
    );
    assert!(page.contains("path=\"caf\u{e9}\",status=\"ok\"} 1"));
    // And read back, the value is the `Display` text again.
    let parsed = Page::parse(&page);
    let quoted = [
        ("function", "fetch"),
        ("module", "labels"),
        ("path", "a\"quoted\"\\path\nwith a newline"),
        ("status", "ok"),
    ];
    assert_eq!(parsed.value("function_calls_total", &quoted), Some(1.0));
    if let Some((clean, report)) = common::promtool_check_metrics(&page) {
        assert!(clean, "{report}");
    }
}

#[counted(labels(owner = name))]
fn consume(name: String) -> usize {
    // The label was read before the body took the argument.
    name.len()
}

#[counted(labels(tenant = tenant))]
async fn serve_tenant(tenant: u32) -> u32 {
    tenant
}

#[test]
fn labels_read_arguments_the_body_moves_and_async_fns() {
    assert_eq!(consume("ann".to_owned()), 3);
    assert_eq!(futures_executor::block_on(serve_tenant(7)), 7);
    let page = render();
    assert!(page.contains(r#"function="consume",module="labels",owner="ann",status="ok"} 1"#));
    assert!(page.contains(r#"function="serve_tenant",module="labels",tenant="7",status="ok"} 1"#));
}

#[counted(labels(user = id))]
fn per_user(id: u64) {}

/// Counts warnings logged while it is the default subscriber.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(event.metadata().target().to_owned());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn past_the_series_limit_calls_go_to_one_overflow_series_and_none_is_lost() {
    let limit = obs_runtime::series_limit();
    assert_eq!(limit, 1000, "the default");
    let warnings = Warnings::default();
    tracing::subscriber::with_default(warnings.clone(), || {
        for id in 0..1500 {
            per_user(id);
        }
        per_user(1499);
        per_user(3);
    });
    assert_eq!(
        warnings.0.lock().unwrap().len(),
        1,
        "one warning per metric"
    );
    let page = Page::parse(&render());
    let series: Vec<&Sample> = page
        .samples()
        .iter()
        .filter(|s| s.name == "function_calls_total")
        .filter(|s| s.pairs().next() == Some(("function", "per_user")))
        .collect();
    // 1000 users with their own `ok` series, and the overflow's: `per_user` returns `()`, so
    // no `error` series is shown at zero.
    assert_eq!(series.len(), 1000 + 1, "bounded");
    let total: u64 = series.iter().map(|s| s.count()).sum();
    assert_eq!(total, 1502, "no call lost");
    let user = |user: &str| {
        let labels = [
            ("function", "per_user"),
            ("module", "labels"),
            ("user", user),
            ("status", "ok"),
        ];
        page.value("function_calls_total", &labels)
    };
    assert_eq!(user("__overflow__"), Some(501.0));
    assert_eq!(user("3"), Some(2.0));
}

/// A `Display` that panics.
struct Grenade;

impl fmt::Display for Grenade {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of Grenade")
    }
}

#[counted(labels(thing = thing))]
fn handle(thing: &Grenade) -> u8 {
    let _ = thing;
    7
}

#[test]
fn a_panicking_display_in_a_label_does_not_fail_the_call() {
    assert_eq!(handle(&Grenade), 7);
    let labels = [
        ("function", "handle"),
        ("module", "labels"),
        ("thing", "<formatting panicked>"),
        ("status", "ok"),
    ];
    assert_eq!(
        Page::parse(&render()).value("function_calls_total", &labels),
        Some(1.0)
    );
}
