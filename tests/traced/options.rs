//! The options `#[traced]` shares with `#[tracing::instrument]`: `err`, `ret`, `target`,
//! numbered levels, `parent`, `follows_from`, empty fields, `name = CONST` and `"name"`.

use obs_runtime::traced;
use tracing::Level;
use tracing_subscriber::filter::Targets;

use super::{Captured, Refused, Yield, capture_all, capture_all_at, capture_filtered, field};

#[traced(err)]
fn charge(amount: u32) -> Result<u32, Refused> {
    if amount == 0 {
        Err(Refused)
    } else {
        Ok(amount)
    }
}

/// The events whose fields include `key`.
fn events_with<'a>(c: &'a Captured, key: &str) -> Vec<&'a super::Event> {
    c.events
        .iter()
        .filter(|e| e.fields.contains_key(key))
        .collect()
}

#[test]
fn err_logs_the_error_by_display_at_error_inside_the_span() {
    let c = capture_all(|| {
        charge(0).unwrap_err();
        charge(3).unwrap();
    });
    let errors = events_with(&c, "error");
    assert_eq!(errors.len(), 1, "an Ok logs nothing: {c:#?}");
    let event = errors[0];
    assert_eq!(event.level, "ERROR");
    assert_eq!(event.span.as_deref(), Some("charge"));
    assert_eq!(event.target, "traced::options");
    assert_eq!(
        event.fields.get("error").map(String::as_str),
        Some("card refused by issuer")
    );
    // Inside the span, before it is left: the order `tracing::instrument` gives.
    assert_eq!(
        c.log[..4],
        ["enter charge", "event error", "exit charge", "close charge"]
    );
    // `err` and the span's status are independent: the status is there either way.
    let span = &c.spans[0];
    assert_eq!(field(span, "otel.status_code"), Some("ERROR"));
}

#[traced(err(Debug, level = "warn"))]
fn charge_debug(amount: u32) -> Result<u32, Refused> {
    if amount == 0 {
        Err(Refused)
    } else {
        Ok(amount)
    }
}

#[traced(err(level = 4))]
fn charge_numbered(amount: u32) -> Result<u32, Refused> {
    if amount == 0 {
        Err(Refused)
    } else {
        Ok(amount)
    }
}

#[traced(err(Display))]
fn charge_display() -> Result<(), Refused> {
    Err(Refused)
}

#[test]
fn err_takes_debug_display_and_a_level() {
    let c = capture_all(|| {
        charge_debug(0).unwrap_err();
        charge_numbered(0).unwrap_err();
        charge_display().unwrap_err();
    });
    let errors = events_with(&c, "error");
    let seen: Vec<(&str, &str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e.span.as_deref().unwrap(),
                e.level.as_str(),
                e.fields["error"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("charge_debug", "WARN", "Refused"),
            ("charge_numbered", "WARN", "card refused by issuer"),
            ("charge_display", "ERROR", "card refused by issuer"),
        ]
    );
}

#[traced(level = "trace", err)]
fn quiet_charge() -> Result<(), Refused> {
    Err(Refused)
}

#[test]
fn err_logs_when_the_span_level_is_off_as_tracing_does() {
    // The event has its own level: with the span's off, it is logged outside any span.
    let c = capture_all_at(Level::INFO, || {
        quiet_charge().unwrap_err();
    });
    assert!(c.spans.is_empty(), "{c:#?}");
    let errors = events_with(&c, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].span, None);
    // Both off: nothing at all.
    let c = capture_all_at(Level::WARN, || {
        charge_numbered(0).unwrap_err(); // WARN: still on
        quiet_charge().unwrap_err(); // ERROR: on
    });
    assert_eq!(events_with(&c, "error").len(), 2);
}

#[traced(ret)]
fn double(x: u32) -> u32 {
    x * 2
}

#[traced(level = "debug", ret, err)]
fn parse_port(text: &str) -> Result<u16, String> {
    text.parse().map_err(|_| format!("not a port: {text}"))
}

#[traced(ret(Display, level = 5))]
fn greet(name: &str) -> String {
    format!("hello {name}")
}

#[test]
fn ret_logs_the_value_at_the_span_level_and_only_ok_values() {
    let c = capture_all(|| {
        double(2);
        parse_port("80").unwrap();
        parse_port("http").unwrap_err();
        greet("ann");
    });
    let returns: Vec<(&str, &str, &str)> = events_with(&c, "return")
        .iter()
        .map(|e| {
            (
                e.span.as_deref().unwrap(),
                e.level.as_str(),
                e.fields["return"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        returns,
        [
            ("double", "INFO", "4"),
            // The `Ok` value, not `Ok(80)`; the `Err` has no `return` event.
            ("parse_port", "DEBUG", "80"),
            ("greet", "ERROR", "hello ann"),
        ]
    );
    let errors = events_with(&c, "error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].fields["error"], "not a port: http");
    assert_eq!(errors[0].level, "ERROR");
}

#[traced(ret, err)]
async fn lookup_slowly(key: u32) -> Result<u32, Refused> {
    Yield::default().await;
    if key == 0 { Err(Refused) } else { Ok(key + 1) }
}

#[test]
fn async_err_and_ret_are_logged_inside_the_span_in_the_last_poll() {
    let c = capture_all(|| {
        futures_executor::block_on(lookup_slowly(1)).unwrap();
        futures_executor::block_on(lookup_slowly(0)).unwrap_err();
    });
    let returns = events_with(&c, "return");
    assert_eq!(returns.len(), 1);
    assert_eq!(returns[0].fields["return"], "2");
    assert_eq!(returns[0].span.as_deref(), Some("lookup_slowly"));
    assert_eq!(
        events_with(&c, "error")[0].span.as_deref(),
        Some("lookup_slowly")
    );
    // Two polls each; the event in the second, inside the span; then the spent future is
    // dropped in the span, as tracing's `Instrumented` does.
    let s = "lookup_slowly";
    let expected = [
        format!("enter {s}"),
        format!("exit {s}"),
        format!("enter {s}"),
        "event return".to_owned(),
        format!("exit {s}"),
        format!("enter {s}"),
        format!("exit {s}"),
        format!("close {s}"),
    ];
    assert_eq!(c.log[..8], expected);
}

struct Ledger;

trait Book {
    fn post(&self, amount: i64) -> Result<i64, Refused>;
}

impl Book for Ledger {
    #[traced(err, ret)]
    fn post(&self, amount: i64) -> Result<i64, Refused> {
        if amount < 0 { Err(Refused) } else { Ok(amount) }
    }
}

impl Ledger {
    #[traced(ret, target = "ledger")]
    async fn balance(&self) -> i64 {
        42
    }
}

#[test]
fn err_and_ret_on_trait_impls_and_async_methods() {
    let c = capture_all(|| {
        Ledger.post(5).unwrap();
        Ledger.post(-1).unwrap_err();
        futures_executor::block_on(Ledger.balance());
    });
    let returns: Vec<(&str, &str, &str)> = events_with(&c, "return")
        .iter()
        .map(|e| {
            (
                e.span.as_deref().unwrap(),
                e.target.as_str(),
                e.fields["return"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        returns,
        [
            ("post", "traced::options", "5"),
            ("balance", "ledger", "42")
        ]
    );
    assert_eq!(events_with(&c, "error")[0].span.as_deref(), Some("post"));
}

#[traced(target = "billing", err)]
fn invoice() -> Result<(), Refused> {
    Err(Refused)
}

#[traced]
fn untargeted() {}

#[test]
fn target_sets_the_span_and_event_target_so_targets_filters_select_it() {
    let filter: Targets = "billing=info".parse().unwrap();
    let c = capture_filtered(filter, || {
        invoice().unwrap_err();
        untargeted();
    });
    let names: Vec<&str> = c.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["invoice"], "only the `billing` target is selected");
    assert_eq!(c.spans[0].target, "billing");
    assert_eq!(c.events.len(), 1);
    assert_eq!(c.events[0].target, "billing");
    // Without a target, the module path, as tracing's.
    let c = capture_all(untargeted);
    assert_eq!(c.spans[0].target, "traced::options");
}

#[traced(level = 1)]
fn at_one() {}

#[traced(level = 2)]
fn at_two() {}

#[traced(level = 3)]
fn at_three() {}

#[traced(level = 4)]
fn at_four() {}

#[traced(level = 5)]
fn at_five() {}

#[test]
fn levels_one_to_five_are_trace_to_error() {
    let c = capture_all(|| {
        at_one();
        at_two();
        at_three();
        at_four();
        at_five();
    });
    let levels: Vec<&str> = c.spans.iter().map(|s| s.level.as_str()).collect();
    assert_eq!(levels, ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]);
}

#[traced(parent = None)]
fn detached() {}

#[traced(parent = parent)]
fn adopted(parent: &tracing::Span) {
    let _ = parent;
}

#[traced(parent = parent.id())]
fn adopted_by_id(parent: &tracing::Span) {
    let _ = parent;
}

#[traced(parent = None, fields(extra = 1))]
fn detached_with_fields() {}

#[traced(follows_from = [cause])]
fn follower(cause: &tracing::Span) {
    let _ = cause;
}

#[traced(follows_from = causes.iter().map(tracing::Span::id))]
async fn follower_of_many(causes: &[tracing::Span]) {
    let _ = causes;
}

#[test]
fn parent_picks_the_parent_or_none_and_follows_from_links_causes() {
    let c = capture_all(|| {
        let adopter = tracing::info_span!("adopter");
        let cause = tracing::info_span!("cause");
        let outer = tracing::info_span!("outer");
        let _in_outer = outer.enter();
        detached();
        detached_with_fields();
        adopted(&adopter);
        adopted_by_id(&adopter);
        follower(&cause);
        futures_executor::block_on(follower_of_many(&[cause.clone(), adopter.clone()]));
    });
    assert_eq!(c.span("detached").parent, None, "a root span");
    assert_eq!(c.span("detached_with_fields").parent, None);
    assert_eq!(field(c.span("detached_with_fields"), "extra"), Some("1"));
    assert_eq!(c.span("adopted").parent.as_deref(), Some("adopter"));
    assert_eq!(c.span("adopted_by_id").parent.as_deref(), Some("adopter"));
    assert_eq!(c.span("follower").parent.as_deref(), Some("outer"));
    assert_eq!(c.span("follower").follows, ["cause"]);
    assert_eq!(c.span("follower_of_many").follows, ["cause", "adopter"]);
}

#[traced(fields(user_id, region = "eu"))]
fn sign_in() {
    tracing::Span::current().record("user_id", 7);
}

#[test]
fn a_field_without_a_value_is_declared_empty_to_record_later() {
    let c = capture_all(sign_in);
    let span = &c.spans[0];
    assert_eq!(field(span, "user_id"), Some("7"));
    assert_eq!(span.types["user_id"], "i64");
    assert_eq!(field(span, "region"), Some("eu"));
}

const SPAN_NAME: &str = "named.by.const";

#[traced(name = SPAN_NAME)]
fn by_const() {}

#[traced("positional")]
fn by_position() {}

#[traced("positional.with.options", level = "debug", err)]
fn by_position_with_options() -> Result<(), Refused> {
    Ok(())
}

#[test]
fn name_takes_a_const_or_a_string_first() {
    let c = capture_all(|| {
        by_const();
        by_position();
        by_position_with_options().unwrap();
    });
    let names: Vec<(&str, &str)> = c
        .spans
        .iter()
        .map(|s| (s.name.as_str(), s.level.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("named.by.const", "INFO"),
            ("positional", "INFO"),
            ("positional.with.options", "DEBUG"),
        ]
    );
    // Named by the option, so no `otel.name` overrides it; the fn keeps its name in the code
    // fields.
    assert_eq!(field(&c.spans[0], "otel.name"), None);
}

#[traced(ret(field))]
fn total(items: &[u32]) -> Result<u32, Refused> {
    Ok(items.iter().sum())
}

#[traced(ret(field, Display), err)]
async fn label(n: u8) -> Result<String, Refused> {
    if n == 0 {
        Err(Refused)
    } else {
        Ok(format!("#{n}"))
    }
}

#[test]
fn ret_field_records_the_ok_value_into_the_span() {
    let c = capture_all(|| {
        total(&[1, 2, 3]).unwrap();
        futures_executor::block_on(label(4)).unwrap();
        futures_executor::block_on(label(0)).unwrap_err();
    });
    assert_eq!(field(&c.spans[0], "return"), Some("6"));
    assert_eq!(c.spans[0].types["return"], "u64", "typed, as arguments are");
    assert_eq!(field(&c.spans[1], "return"), Some("#4"));
    assert_eq!(
        field(&c.spans[2], "return"),
        None,
        "an Err is not a return value"
    );
    assert!(
        events_with(&c, "return").is_empty(),
        "a field, not an event"
    );
    assert_eq!(events_with(&c, "error").len(), 1);
}
