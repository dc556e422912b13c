//! `not_failure = [..]` on a function: the statuses it lists are not failures of that fn for
//! its span, and the generated rules count them with the successes, as its page writes them.

use std::sync::{Arc, Mutex};

use obs_runtime::{ErrorStatus, Status, counted, timed, traced};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

#[derive(Debug)]
enum Lookup {
    Missing,
    Broken,
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ErrorStatus for Lookup {
    fn status(&self) -> Status {
        match self {
            Lookup::Missing => Status::custom("not_found"),
            Lookup::Broken => Status::ERROR,
        }
    }
}

#[traced]
#[counted(not_failure = ["not_found", "cancelled"])]
#[timed(status(cancelled = "gave_up"))]
async fn find(key: u32) -> Result<u32, Lookup> {
    match key {
        0 => Err(Lookup::Missing),
        1 => Err(Lookup::Broken),
        _ => Ok(key),
    }
}

/// A future that never completes: dropped, its call is `cancelled`.
#[traced(not_failure = "cancelled")]
async fn wait_forever() {
    std::future::pending::<()>().await;
}

/// A span's id, name and `otel.status_code`, if recorded.
type Seen = (u64, String, Option<String>);

/// The spans' names and, for the failed ones, their `otel.status_code`.
#[derive(Clone, Default)]
struct Statuses(Arc<Mutex<Vec<Seen>>>);

struct StatusCode<'a>(&'a mut Option<String>);

impl Visit for StatusCode<'_> {
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "otel.status_code" {
            *self.0 = Some(value.to_owned());
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statuses {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let name = attrs.metadata().name().to_owned();
        self.0.lock().unwrap().push((id.into_u64(), name, None));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, _, status)) = spans.iter_mut().rev().find(|(i, ..)| *i == id.into_u64()) {
            values.record(&mut StatusCode(status));
        }
    }
}

#[test]
fn declared_statuses_leave_the_span_unmarked_and_the_rules_count_them_as_successes() {
    let statuses = Statuses::default();
    let subscriber = Registry::default().with(statuses.clone());
    tracing::subscriber::with_default(subscriber, || {
        for key in [0, 1, 2] {
            let _ = futures_executor::block_on(find(key));
        }
        let mut pending = Box::pin(wait_forever());
        let waker = std::task::Waker::noop();
        let polled = pending
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
        assert!(polled.is_pending());
        drop(pending);
    });
    let spans = statuses.0.lock().unwrap().clone();
    let failed: Vec<&str> = spans
        .iter()
        .filter(|(_, _, status)| status.as_deref() == Some("ERROR"))
        .map(|(_, name, _)| name.as_str())
        .collect();
    // `find(1)` only: not `find(0)` (not_found) nor the dropped `wait_forever` (cancelled).
    assert_eq!(failed, ["find"], "{spans:?}");
    assert_eq!(spans.len(), 4, "{spans:?}");

    let page = obs_runtime::render();
    assert!(
        page.contains(
            r#"function_calls_total{function="find",module="not_failure",status="not_found"} 1"#
        ),
        "{page}"
    );
    let rules = obs_runtime::rules::rules_yaml();
    // The counter: `ok`, `cancelled` and `not_found` are successes.
    assert!(
        rules.contains(r#"rate(function_calls_total{status!~"ok|cancelled|not_found"}[5m])"#),
        "{rules}"
    );
    // The histogram renames `cancelled`: the catalog lists it under its own value.
    let functions = obs_runtime::catalog::functions();
    let find = functions.iter().find(|f| f.function == "find").unwrap();
    let duration = find
        .metrics
        .iter()
        .find(|m| m.name == "function_duration_seconds")
        .unwrap();
    assert_eq!(duration.not_failures, ["not_found", "gave_up"]);
}
