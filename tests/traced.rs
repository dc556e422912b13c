//! `#[traced]` as a `tracing` subscriber sees it: names, OTel fields, arguments, statuses,
//! parents, levels.
// The functions here are shaped to test what the attribute records (references to small
// values, one-letter arguments), not to model good signatures.
#![allow(
    clippy::trivially_copy_pass_by_ref,
    clippy::many_single_char_names,
    clippy::similar_names
)]

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use obs_runtime::traced;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

#[path = "traced/consts.rs"]
mod consts;
#[path = "traced/fixes.rs"]
mod fixes;
#[path = "traced/futures.rs"]
mod futures;
#[path = "traced/options.rs"]
mod options;
#[path = "traced/record.rs"]
mod record;

/// One span as recorded.
#[derive(Clone, Debug, Default)]
struct Recorded {
    name: String,
    level: String,
    /// The callsite's target, from its metadata.
    target: String,
    /// The callsite's location, from its metadata.
    file: String,
    line: u32,
    parent: Option<String>,
    fields: BTreeMap<String, String>,
    /// How each field was recorded: `i64`, `u64`, `f64`, `bool`, `str` or `debug`.
    types: BTreeMap<String, &'static str>,
    /// The names of the spans this one follows from.
    follows: Vec<String>,
    closed: bool,
}

/// One event as recorded.
#[derive(Clone, Debug, Default)]
struct Event {
    level: String,
    target: String,
    /// The span the event is in (its explicit parent, or the current span).
    span: Option<String>,
    fields: BTreeMap<String, String>,
    types: BTreeMap<String, &'static str>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<(u64, Recorded)>>>,
    events: Arc<Mutex<Vec<Event>>>,
    /// What happened, in order: `enter place`, `event error`, `exit place`, `close place`.
    log: Arc<Mutex<Vec<String>>>,
    /// Each record into a span after it was opened: `place otel.status_code`.
    records: Arc<Mutex<Vec<String>>>,
}

struct Fields<'a> {
    values: &'a mut BTreeMap<String, String>,
    types: &'a mut BTreeMap<String, &'static str>,
}

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: String, ty: &'static str) {
        self.values.insert(field.name().to_owned(), value);
        self.types.insert(field.name().to_owned(), ty);
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"), "debug");
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned(), "str");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.to_string(), "i64");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.to_string(), "u64");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.to_string(), "f64");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.to_string(), "bool");
    }
}

impl Capture {
    fn span_name(&self, id: &Id) -> String {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .rev()
            .find(|(i, _)| *i == id.into_u64())
            .map(|(_, s)| s.name.clone())
            .unwrap_or_default()
    }

    fn note(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut span = Recorded {
            name: attrs.metadata().name().to_owned(),
            level: attrs.metadata().level().to_string(),
            target: attrs.metadata().target().to_owned(),
            file: attrs.metadata().file().unwrap_or_default().to_owned(),
            line: attrs.metadata().line().unwrap_or_default(),
            parent: ctx
                .span(id)
                .and_then(|s| s.parent())
                .map(|p| p.name().to_owned()),
            ..Recorded::default()
        };
        attrs.record(&mut Fields {
            values: &mut span.fields,
            types: &mut span.types,
        });
        self.spans.lock().unwrap().push((id.into_u64(), span));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, span)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            let mut fields = BTreeMap::new();
            values.record(&mut Fields {
                values: &mut fields,
                types: &mut span.types,
            });
            let mut records = self.records.lock().unwrap();
            records.extend(fields.keys().map(|k| format!("{} {k}", span.name)));
            span.fields.extend(fields);
        }
    }

    fn on_follows_from(&self, id: &Id, cause: &Id, _ctx: LayerContext<'_, S>) {
        let cause = self.span_name(cause);
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, span)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            span.follows.push(cause);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: LayerContext<'_, S>) {
        let mut recorded = Event {
            level: event.metadata().level().to_string(),
            target: event.metadata().target().to_owned(),
            span: ctx.event_span(event).map(|s| s.name().to_owned()),
            ..Event::default()
        };
        event.record(&mut Fields {
            values: &mut recorded.fields,
            types: &mut recorded.types,
        });
        let keys: Vec<&str> = recorded.fields.keys().map(String::as_str).collect();
        self.note(format!("event {}", keys.join(",")));
        self.events.lock().unwrap().push(recorded);
    }

    fn on_enter(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        self.note(format!("enter {}", self.span_name(id)));
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        self.note(format!("exit {}", self.span_name(id)));
    }

    fn on_close(&self, id: Id, _ctx: LayerContext<'_, S>) {
        let name = self.span_name(&id);
        self.note(format!("close {name}"));
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, span)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            span.closed = true;
        }
    }
}

/// Everything a subscriber saw.
#[derive(Debug)]
struct Captured {
    spans: Vec<Recorded>,
    events: Vec<Event>,
    log: Vec<String>,
    records: Vec<String>,
}

impl Captured {
    fn span(&self, name: &str) -> &Recorded {
        self.spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("a span {name} in {self:#?}"))
    }
}

/// Runs `f` under a subscriber whose capture layer is behind `filter`; returns what it saw.
fn capture_filtered<F>(filter: F, f: impl FnOnce()) -> Captured
where
    F: tracing_subscriber::layer::Filter<Registry> + Send + Sync + 'static,
{
    let capture = Capture::default();
    let subscriber = Registry::default().with(capture.clone().with_filter(filter));
    tracing::subscriber::with_default(subscriber, f);
    let spans = capture.spans.lock().unwrap();
    Captured {
        spans: spans.iter().map(|(_, s)| s.clone()).collect(),
        events: capture.events.lock().unwrap().clone(),
        log: capture.log.lock().unwrap().clone(),
        records: capture.records.lock().unwrap().clone(),
    }
}

/// Runs `f` under a subscriber recording every span and event at `max` and below.
fn capture_all_at(max: Level, f: impl FnOnce()) -> Captured {
    capture_filtered(tracing_subscriber::filter::LevelFilter::from_level(max), f)
}

fn capture_all(f: impl FnOnce()) -> Captured {
    capture_all_at(Level::TRACE, f)
}

/// Runs `f` under a subscriber recording every span at `max` and below; returns the spans.
fn capture_at(max: Level, f: impl FnOnce()) -> Vec<Recorded> {
    capture_all_at(max, f).spans
}

fn capture(f: impl FnOnce()) -> Vec<Recorded> {
    capture_at(Level::TRACE, f)
}

fn field<'a>(span: &'a Recorded, name: &str) -> Option<&'a str> {
    span.fields.get(name).map(String::as_str)
}

#[derive(Debug)]
struct Order {
    id: u32,
}

/// Not `Debug`: must compile, and is left out of the span.
struct Opaque;

#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card refused by issuer")
    }
}

const PLACE_LINE: u32 = line!() + 2;
#[traced]
fn place(order: &Order, _token: Opaque, quantity: u8) -> Result<u32, Refused> {
    if quantity == 0 {
        Err(Refused)
    } else {
        Ok(order.id)
    }
}

#[test]
fn a_span_per_call_with_otel_code_fields_and_arguments() {
    let spans = capture(|| {
        place(&Order { id: 7 }, Opaque, 2).unwrap();
    });
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.name, "place");
    assert_eq!(span.level, "INFO");
    assert!(span.closed);
    // The location is the callsite's, in its metadata: obs's trace layer writes `code.*` at
    // export, so no span records them as fields (and no log line repeats them).
    assert!(span.file.ends_with("traced.rs"), "{span:?}");
    assert_eq!(span.line, PLACE_LINE);
    for key in ["code.function.name", "code.file.path", "code.line.number"] {
        assert_eq!(field(span, key), None, "{key} is not recorded: {span:?}");
    }
    assert_eq!(field(span, "order"), Some("Order { id: 7 }"));
    assert_eq!(field(span, "quantity"), Some("2"));
    assert_eq!(
        field(span, "_token"),
        None,
        "a non-Debug argument is left out"
    );
    assert_eq!(
        field(span, "otel.status_code"),
        None,
        "ok leaves the status unset"
    );
    assert_eq!(field(span, "error.type"), None);
}

#[test]
fn an_err_marks_the_span_with_its_display_and_type() {
    let spans = capture(|| {
        place(&Order { id: 1 }, Opaque, 0).unwrap_err();
    });
    let span = &spans[0];
    assert_eq!(field(span, "otel.status_code"), Some("ERROR"));
    assert_eq!(
        field(span, "otel.status_description"),
        Some("card refused by issuer")
    );
    assert_eq!(field(span, "error.type"), Some("traced::Refused"));
}

#[traced]
fn explode(fuse: u8) -> u8 {
    assert!(fuse > 0, "fuse burnt");
    fuse
}

#[test]
fn a_panic_marks_the_span_and_goes_on() {
    let spans = capture(|| {
        let payload = std::panic::catch_unwind(|| explode(0)).unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"fuse burnt"),
            "the panic goes on unchanged"
        );
    });
    let span = &spans[0];
    assert_eq!(field(span, "otel.status_code"), Some("ERROR"));
    assert_eq!(field(span, "otel.status_description"), Some("panic"));
    assert_eq!(field(span, "error.type"), Some("panic"));
    assert!(span.closed);
}

#[traced(level = "debug", name = "checkout", skip(card), fields(region = "eu", items = cart.len()))]
fn pay(cart: &[u32], card: &str) -> usize {
    let _ = card;
    cart.len()
}

#[test]
fn options_set_level_name_skip_and_fields() {
    let spans = capture(|| {
        pay(&[1, 2, 3], "4111-1111");
    });
    let span = &spans[0];
    assert_eq!(span.name, "checkout");
    assert_eq!(span.level, "DEBUG");
    assert_eq!(field(span, "card"), None);
    assert_eq!(field(span, "cart"), Some("[1, 2, 3]"));
    assert_eq!(field(span, "region"), Some("eu"));
    assert_eq!(field(span, "items"), Some("3"));
    // The span is named by the option, in exports too (no `otel.name` overrides it); the
    // function keeps its name in the code fields.
    assert_eq!(field(span, "code.function.name"), Some("traced::pay"));
    assert_eq!(field(span, "otel.name"), None);
}

#[traced(skip_all)]
fn secret(password: &str) -> usize {
    password.len()
}

#[test]
fn skip_all_records_no_argument() {
    let spans = capture(|| {
        secret("hunter2");
    });
    assert_eq!(field(&spans[0], "password"), None);
    assert_eq!(spans[0].name, "secret");
}

#[test]
fn a_disabled_level_builds_no_span() {
    let spans = capture_at(Level::INFO, || {
        // The disabled path returns the body's value on its own (a tail call): still the value.
        assert_eq!(pay(&[1, 2], "x"), 2);
        place(&Order { id: 1 }, Opaque, 1).unwrap();
    });
    let names: Vec<_> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["place"]);
}

struct Inventory;

impl Inventory {
    #[traced]
    fn count(&self, sku: u32) -> u32 {
        sku * 2
    }
}

#[test]
fn methods_open_a_span_named_after_the_method_and_record_no_otel_name() {
    // obs's trace layer exports the span as `Inventory::count` with `code.function.name`
    // `traced::Inventory::count` (traces-demo's OTLP tests check it); other subscribers see
    // the callsite's name and no extra record.
    let spans = capture(|| {
        Inventory.count(4);
    });
    let span = &spans[0];
    assert_eq!(span.name, "count");
    assert_eq!(field(span, "otel.name"), None);
    assert_eq!(field(span, "code.function.name"), None);
    assert_eq!(field(span, "sku"), Some("4"));
}

#[traced]
async fn fetch(key: u32) -> Result<u32, Refused> {
    lookup(key).await
}

#[traced]
async fn lookup(key: u32) -> Result<u32, Refused> {
    Yield::default().await;
    if key == 0 { Err(Refused) } else { Ok(key) }
}

/// Pending once, then ready: a real suspension point.
#[derive(Default)]
struct Yield(bool);

impl Future for Yield {
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

#[test]
fn async_calls_nest_across_await_and_report_errors() {
    let spans = capture(|| {
        futures_executor::block_on(fetch(0)).unwrap_err();
    });
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("{n} in {spans:?}"))
    };
    assert_eq!(by_name("fetch").parent, None);
    assert_eq!(by_name("lookup").parent.as_deref(), Some("fetch"));
    assert_eq!(field(by_name("lookup"), "otel.status_code"), Some("ERROR"));
    assert_eq!(
        field(by_name("fetch"), "otel.status_description"),
        Some("card refused by issuer")
    );
    assert!(spans.iter().all(|s| s.closed));
}

#[traced]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

/// Polls `fut` once, which must leave it pending, then drops it: a cancelled call.
fn poll_once_and_drop(fut: impl Future) {
    let mut fut = Box::pin(fut);
    let waker = std::task::Waker::noop();
    assert!(
        fut.as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_pending()
    );
    drop(fut);
}

#[test]
fn a_dropped_future_marks_the_span_cancelled() {
    let spans = capture(|| poll_once_and_drop(never_finishes()));
    let span = &spans[0];
    assert_eq!(field(span, "otel.status_code"), Some("ERROR"));
    assert_eq!(field(span, "otel.status_description"), Some("cancelled"));
    assert!(span.closed);
}

struct Boom;

impl fmt::Debug for Boom {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug of Boom")
    }
}

#[traced]
fn takes_boom(boom: &Boom) -> u8 {
    let _ = boom;
    1
}

#[test]
fn a_panicking_debug_does_not_fail_the_call() {
    let spans = capture(|| {
        assert_eq!(takes_boom(&Boom), 1);
    });
    assert_eq!(field(&spans[0], "boom"), Some("<formatting panicked>"));
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct Volatile;

impl fmt::Display for Volatile {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of Volatile")
    }
}

#[traced]
fn fails_volatile() -> Result<(), Volatile> {
    Err(Volatile)
}

#[test]
fn a_panicking_display_on_the_error_leaves_the_call_and_the_span_intact() {
    let spans = capture(|| {
        assert!(matches!(fails_volatile(), Err(Volatile)));
    });
    let span = &spans[0];
    assert_eq!(field(span, "otel.status_code"), Some("ERROR"));
    assert_eq!(
        field(span, "otel.status_description"),
        Some("<formatting panicked>")
    );
    assert!(span.closed);
}
