//! Names from constants, as `tracing::instrument` takes them: `fields({NAME} = ..)` with any
//! const expression in braces, `target = CONST`, `name = CONST`.

use obs_runtime::{record, traced};

use super::{capture_all, field};

const CUSTOMER: &str = "customer.id";
const BILLING: &str = "billing::ledger";
const SPAN: &str = "ledger.post";

struct Keys;

impl Keys {
    const AMOUNT: &'static str = "amount.cents";
}

const fn currency_key() -> &'static str {
    "currency"
}

mod targets {
    pub(super) const AUDIT: &str = "audit";
}

#[traced(fields({CUSTOMER} = 42, {Keys::AMOUNT} = %cents, {currency_key()} = ?"EUR", {"literal.key"} = true))]
fn post(cents: u64) -> u64 {
    cents
}

#[test]
fn braced_const_expressions_name_fields() {
    let c = capture_all(|| {
        post(1250);
    });
    let span = c.span("post");
    assert_eq!(field(span, "customer.id"), Some("42"));
    assert_eq!(span.types["customer.id"], "i64");
    assert_eq!(field(span, "amount.cents"), Some("1250"));
    assert_eq!(field(span, "currency"), Some("\"EUR\""));
    assert_eq!(field(span, "literal.key"), Some("true"));
    assert_eq!(span.types["literal.key"], "bool");
    // The argument is still recorded under its own name.
    assert_eq!(field(span, "cents"), Some("1250"));
}

#[traced(fields({CUSTOMER}, {Keys::AMOUNT}))]
fn settle(customer: u32) {
    record!({ CUSTOMER } = customer);
    record!({Keys::AMOUNT} = %"12.50");
}

#[test]
fn record_writes_a_field_named_by_a_const() {
    let c = capture_all(|| settle(9));
    let span = c.span("settle");
    assert_eq!(field(span, "customer.id"), Some("9"));
    assert_eq!(span.types["customer.id"], "u64");
    assert_eq!(field(span, "amount.cents"), Some("12.50"));
}

#[traced(target = BILLING, name = SPAN, err)]
fn ledger(ok: bool) -> Result<(), String> {
    if ok { Ok(()) } else { Err("closed".into()) }
}

#[traced(target = targets::AUDIT)]
fn audited() {}

#[test]
fn target_and_name_take_const_expressions() {
    let c = capture_all(|| {
        ledger(false).unwrap_err();
        audited();
    });
    let span = c.span("ledger.post");
    assert_eq!(span.target, "billing::ledger");
    let error = c
        .events
        .iter()
        .find(|e| e.fields.contains_key("error"))
        .expect("the err event");
    assert_eq!(
        error.target, "billing::ledger",
        "events take the target too"
    );
    assert_eq!(c.span("audited").target, "audit");
}
