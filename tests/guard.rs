//! The guard of `init()`: dropping it stops obs, and says so, loudly when it was dropped at
//! once (`let _ = obs_runtime::init()?`, a mistake that silently lost `/metrics` and every
//! span).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::{Layer, Registry};

/// `(level, message)` of every event.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<(Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message.0));
    }
}

fn stop_after(wait: Duration) -> Vec<(Level, String)> {
    let lines = Lines::default();
    let subscriber = Registry::default().with(lines.clone());
    tracing::subscriber::with_default(subscriber, || {
        let obs = obs_runtime::Builder::new()
            .port(0)
            .without_subscriber()
            .without_recorder()
            .traces_exporter(obs_runtime::TracesExporter::Console)
            .install()
            .expect("install");
        std::thread::sleep(wait);
        drop(obs);
    });
    let got = lines.0.lock().unwrap().clone();
    got.into_iter()
        .filter(|(_, m)| m.starts_with("obs stopped"))
        .collect()
}

#[test]
fn a_guard_dropped_at_once_warns_with_the_fix() {
    let lines = stop_after(Duration::ZERO);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, message) = &lines[0];
    assert_eq!(*level, Level::WARN, "{message}");
    assert!(
        message.contains("the /metrics server on 127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("the trace exporter ("), "{message}");
    assert!(
        message.contains("let _obs = obs_runtime::init()?;"),
        "{message}"
    );
}

#[test]
fn a_guard_kept_says_what_it_stopped_at_info() {
    let lines = stop_after(Duration::from_millis(1100));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, message) = &lines[0];
    assert_eq!(*level, Level::INFO, "{message}");
    assert!(message.contains("spans exported"), "{message}");
    assert!(!message.contains("let _obs"), "{message}");
}
