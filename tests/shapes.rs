//! Every function shape of the field notes (§5) under all four attributes: each compiles,
//! keeps its signature and behaviour, and reports the right status.
//!
//! The counts are read from `obs_runtime::render()`, the page `/metrics` serves. All tests of
//! this binary share the process-wide sites, so each test calls functions of its own and the
//! counts it asserts are exact.
#![allow(unsafe_code)] // `unsafe fn`, `extern "C" fn` and `async unsafe fn` are shapes under test.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use futures_executor::block_on;
use obs_runtime::{ErrorStatus, ReturnStatus, Status, counted, exclude, in_flight, timed, traced};

// ---------------------------------------------------------------------------------------------
// Reading the page.
// ---------------------------------------------------------------------------------------------

/// Installs a subscriber that enables every span, so the span code of `#[traced]` runs too.
fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    });
}

/// `key="value",…` as rendered, unescaped.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("key=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("an escaped char") {
                    (_, 'n') => value.push('\n'),
                    (_, c) => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        out.push((key.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// Every sample `name{…} value` of `page` whose labels include `want`, as (labels, value).
///
/// Checks on the way that each one's `module` is this test crate's.
fn samples(
    page: &str,
    name: &str,
    want: &[(&str, &str)],
) -> Vec<(BTreeMap<String, String>, String)> {
    let mut found = Vec::new();
    for line in page.lines() {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let (text, value) = rest.rsplit_once("} ").expect("a sample line");
        let labels: BTreeMap<String, String> = parse_labels(text).into_iter().collect();
        if want
            .iter()
            .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        {
            let module = &labels["module"];
            assert!(
                module == "shapes" || module.starts_with("shapes::"),
                "not this crate's module: {line}"
            );
            found.push((labels, value.to_owned()));
        }
    }
    found
}

/// The one sample `name{…}` whose labels include `want`, if there is one.
fn sample(page: &str, name: &str, want: &[(&str, &str)]) -> Option<String> {
    let mut all = samples(page, name, want);
    assert!(
        all.len() <= 1,
        "several {name} series match {want:?}: {all:?}"
    );
    all.pop().map(|(_, v)| v)
}

/// `ok` and `error` series are always rendered; the others only once non-zero.
fn always_rendered(status: &str) -> bool {
    status == "ok" || status == "error"
}

/// Calls of `function` that ended with `status`: `function_calls_total`.
fn count(page: &str, function: &str, status: &str) -> u64 {
    let found = sample(
        page,
        "function_calls_total",
        &[("function", function), ("status", status)],
    );
    assert!(
        found.is_some() || !always_rendered(status),
        "no {status} series for {function}:\n{page}"
    );
    found.map_or(0, |v| v.parse().expect("an integer count"))
}

/// Calls of `function` that ended with `status`, as `function_duration_seconds_count` says.
fn timed_count(page: &str, function: &str, status: &str) -> u64 {
    let found = sample(
        page,
        "function_duration_seconds_count",
        &[("function", function), ("status", status)],
    );
    assert!(
        found.is_some() || !always_rendered(status),
        "no {status} histogram for {function}:\n{page}"
    );
    found.map_or(0, |v| v.parse().expect("an integer count"))
}

/// Calls of `function` running now: `function_calls_in_flight`.
fn in_flight_now(page: &str, function: &str) -> i64 {
    sample(page, "function_calls_in_flight", &[("function", function)])
        .unwrap_or_else(|| panic!("no in-flight gauge for {function}:\n{page}"))
        .parse()
        .expect("an integer gauge")
}

/// The `status` → count of every `function_calls_total` series of `function`.
fn tally(page: &str, function: &str) -> BTreeMap<String, u64> {
    samples(page, "function_calls_total", &[("function", function)])
        .into_iter()
        .map(|(labels, v)| {
            (
                labels["status"].clone(),
                v.parse().expect("an integer count"),
            )
        })
        .collect()
}

/// Asserts everything recorded for `function`, which carries `#[counted]`, `#[timed]` and
/// `#[in_flight]`: the counter series are exactly `want` (plus `ok` and `error` at 0 when not
/// given), the histogram counts the same calls, and no call is in flight.
#[track_caller]
fn assert_calls(function: &str, want: &[(&str, u64)]) {
    let page = obs_runtime::render();
    let mut expected: BTreeMap<String, u64> =
        [("ok".to_owned(), 0), ("error".to_owned(), 0)].into();
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
fn module_of(page: &str, function: &str) -> String {
    let all = samples(
        page,
        "function_calls_total",
        &[("function", function), ("status", "ok")],
    );
    assert_eq!(all.len(), 1, "one ok series for {function}");
    all[0].0["module"].clone()
}

/// Polls `fut` once, with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A future that is pending on its first poll and ready on the second.
struct YieldOnce(bool);

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

fn assert_send<T: Send>(_: &T) {}

/// Runs `f`, which must panic, and returns the panic's payload.
fn panic_payload<R>(f: impl FnOnce() -> R) -> Box<dyn std::any::Any + Send> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => payload,
    }
}

#[test]
fn the_page_parser_reads_what_it_should() {
    let page = "function_calls_total{function=\"a\\\"b\",module=\"shapes\",status=\"ok\"} 3\n\
                function_calls_total{function=\"x\",module=\"shapes::m\",status=\"error\"} 0\n";
    assert_eq!(count(page, "a\"b", "ok"), 3);
    assert_eq!(count(page, "x", "error"), 0);
    assert_eq!(count(page, "x", "panic"), 0);
    assert!(
        panic::catch_unwind(|| count(page, "x", "ok")).is_err(),
        "ok must be rendered"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. No args, many args, args that are not `Debug`.
// ---------------------------------------------------------------------------------------------

/// Not `Debug`: `#[traced]` must leave it out, not fail to compile.
struct Opaque(u32);

#[traced]
#[counted]
#[timed]
#[in_flight]
fn no_args() -> u8 {
    7
}

#[in_flight]
#[timed]
#[counted]
#[traced]
#[expect(
    clippy::too_many_arguments,
    reason = "many arguments is the shape under test"
)]
fn many_args(
    a: u8,
    b: u16,
    c: u32,
    d: &str,
    e: String,
    f: Vec<u8>,
    g: Option<char>,
    h: (u8, u8),
) -> u64 {
    let owned = e + d;
    u64::from(a)
        + u64::from(b)
        + u64::from(c)
        + owned.len() as u64
        + f.into_iter().map(u64::from).sum::<u64>()
        + u64::from(g.is_some())
        + u64::from(h.0)
        + u64::from(h.1)
}

#[timed]
#[traced]
#[in_flight]
#[counted]
fn not_debug(by_value: Opaque, by_ref: &Opaque, mut by_mut: Opaque) -> u32 {
    by_mut.0 += 1;
    by_value.0 + by_ref.0 + by_mut.0
}

#[test]
fn arguments_none_many_and_not_debug() {
    setup();
    assert_eq!(no_args(), 7);
    assert_eq!(no_args(), 7);
    assert_eq!(
        many_args(1, 2, 3, "de", "e".to_owned(), vec![4, 5], Some('g'), (6, 7)),
        32
    );
    assert_eq!(not_debug(Opaque(1), &Opaque(2), Opaque(3)), 7);
    assert_calls("no_args", &[("ok", 2)]);
    assert_calls("many_args", &[("ok", 1)]);
    assert_calls("not_debug", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 2. Generics, bounds, `where`, const generics, lifetimes.
// ---------------------------------------------------------------------------------------------

#[counted]
#[traced]
#[timed]
#[in_flight]
fn largest<T: PartialOrd + Copy, I>(items: I) -> Option<T>
where
    I: IntoIterator<Item = T>,
{
    let mut best = None;
    for item in items {
        if best.is_none_or(|b| item > b) {
            best = Some(item);
        }
    }
    best
}

#[traced]
#[in_flight]
#[counted]
#[timed]
fn sum_array<T, const N: usize>(values: [T; N]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    values.iter().fold(T::default(), |acc, v| acc + *v)
}

#[counted]
#[timed]
#[in_flight]
#[traced]
fn first_n<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes
        .get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("fewer than {N} bytes"))
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn longest<'a, 'b: 'a>(x: &'a str, y: &'b str) -> &'a str {
    if x.len() >= y.len() { x } else { y }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or(s)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn chars_of(s: &str) -> std::str::Chars<'_> {
    s.chars()
}

#[test]
fn generics_const_generics_and_lifetimes() {
    setup();
    assert_eq!(largest([3, 9, 2]), Some(9));
    assert_eq!(largest(vec!["b", "a"]), Some("b"));
    assert_eq!(largest(Vec::<f64>::new()), None);
    assert_eq!(sum_array([1, 2, 3]), 6);
    assert!((sum_array([0.5f64, 0.25]) - 0.75).abs() < f64::EPSILON);
    assert_eq!(first_n::<2>(b"abc"), Ok(*b"ab"));
    assert_eq!(first_n::<4>(b"abc"), Err("fewer than 4 bytes".to_owned()));
    let long = String::from("longer");
    assert_eq!(longest(&long, "short"), "longer");
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(chars_of("ab").count(), 2);
    // One site per fn, whatever the type arguments.
    assert_calls("largest", &[("ok", 3)]);
    assert_calls("sum_array", &[("ok", 2)]);
    assert_calls("first_n", &[("ok", 1), ("error", 1)]);
    assert_calls("longest", &[("ok", 1)]);
    assert_calls("first_word", &[("ok", 1)]);
    assert_calls("chars_of", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 3. `impl Trait` arguments; returning `impl Iterator + 'a`, a closure, `Result<impl Trait, E>`.
// ---------------------------------------------------------------------------------------------

#[traced]
#[counted]
#[timed]
#[in_flight]
fn apply_all(items: impl IntoIterator<Item = u32>, f: impl Fn(u32) -> u32) -> u32 {
    items.into_iter().map(f).sum()
}

#[in_flight]
#[counted]
#[traced]
#[timed]
fn evens<'a>(values: &'a [u32]) -> impl Iterator<Item = &'a u32> + 'a {
    values.iter().filter(|v| *v % 2 == 0)
}

#[timed]
#[counted]
#[in_flight]
#[traced]
fn adder(n: u32) -> impl Fn(u32) -> u32 {
    move |x| x + n
}

#[counted]
#[in_flight]
#[timed]
#[traced]
fn parse_display(s: &str) -> Result<impl Display + use<>, String> {
    s.parse::<u32>().map_err(|e| e.to_string())
}

#[test]
fn impl_trait_arguments_and_returns() {
    setup();
    assert_eq!(apply_all([1, 2], |x| x * 10), 30);
    assert_eq!(evens(&[1, 2, 3, 4]).copied().collect::<Vec<_>>(), [2, 4]);
    let add2 = adder(2);
    assert_eq!(add2(3), 5);
    assert_eq!(
        parse_display("12").map(|d| d.to_string()),
        Ok("12".to_owned())
    );
    assert!(parse_display("x").is_err());
    assert_calls("apply_all", &[("ok", 1)]);
    assert_calls("evens", &[("ok", 1)]);
    assert_calls("adder", &[("ok", 1)]);
    assert_calls("parse_display", &[("ok", 1), ("error", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 4. Receivers; `Self` in the signature and the body.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq)]
struct Account {
    balance: u64,
}

impl Account {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn open(balance: u64) -> Self {
        Self { balance }
    }

    #[counted]
    #[traced]
    #[timed]
    #[in_flight]
    fn balance(&self) -> u64 {
        self.balance
    }

    #[in_flight]
    #[counted]
    #[timed]
    #[traced]
    fn deposit(&mut self, amount: u64) -> &mut Self {
        self.balance += amount;
        self
    }

    #[timed]
    #[counted]
    #[in_flight]
    #[traced]
    fn close(self) -> u64 {
        self.balance
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn drain(mut self) -> (u64, Self) {
        let all = self.balance;
        self.balance = 0;
        (all, self)
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn boxed(self: Box<Self>) -> u64 {
        self.balance
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn shared(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn pinned(self: Pin<&mut Self>) -> u64 {
        let this = self.get_mut();
        this.balance += 1;
        this.balance
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn merge(self, other: Self) -> Self {
        let merged = Self::open(self.balance + other.balance);
        Self { ..merged }
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn withdraw(&self, amount: u64) -> Result<Self, String> {
        match self.balance.checked_sub(amount) {
            Some(balance) => Ok(Self { balance }),
            None => Err(format!("{amount} is more than {}", self.balance)),
        }
    }
}

#[test]
fn every_receiver_and_self() {
    setup();
    let mut account = Account::open(10);
    assert_eq!(account.balance(), 10);
    assert_eq!(account.deposit(5).deposit(1).balance, 16);
    assert_eq!(account.clone().close(), 16);
    let (all, empty) = account.clone().drain();
    assert_eq!((all, empty.balance), (16, 0));
    assert_eq!(Box::new(account.clone()).boxed(), 16);
    let arc = Arc::new(account.clone());
    let other = Arc::clone(&arc);
    assert_eq!(arc.shared(), 2);
    drop(other);
    let mut pinned = account.clone();
    assert_eq!(Pin::new(&mut pinned).pinned(), 17);
    assert_eq!(
        account.clone().merge(Account::open(4)),
        Account { balance: 20 }
    );
    assert_eq!(account.withdraw(6), Ok(Account { balance: 10 }));
    assert!(account.withdraw(100).is_err());

    assert_calls("Account::open", &[("ok", 3)]); // one direct, one in `merge`, one in the arg
    assert_calls("Account::balance", &[("ok", 1)]);
    assert_calls("Account::deposit", &[("ok", 2)]);
    assert_calls("Account::close", &[("ok", 1)]);
    assert_calls("Account::drain", &[("ok", 1)]);
    assert_calls("Account::boxed", &[("ok", 1)]);
    assert_calls("Account::shared", &[("ok", 1)]);
    assert_calls("Account::pinned", &[("ok", 1)]);
    assert_calls("Account::merge", &[("ok", 1)]);
    assert_calls("Account::withdraw", &[("ok", 1), ("error", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 5. `unsafe fn`, `extern "C" fn`, `async unsafe fn`, `-> !`.
// ---------------------------------------------------------------------------------------------

/// # Safety
/// `p` must be valid for reads.
#[traced]
#[counted]
#[timed]
#[in_flight]
unsafe fn read_raw(p: *const u8) -> u8 {
    // SAFETY: the caller promises `p` is valid.
    unsafe { *p }
}

#[counted]
#[traced]
#[in_flight]
#[timed]
extern "C" fn c_add(a: i32, b: i32) -> i32 {
    a + b
}

/// # Safety
/// `p` must be valid for reads.
#[counted]
#[timed]
#[traced]
#[in_flight]
unsafe extern "C" fn c_read(p: *const i32) -> i32 {
    // SAFETY: the caller promises `p` is valid.
    unsafe { *p }
}

/// # Safety
/// `p` must be valid for reads until the future completes.
#[traced]
#[counted]
#[timed]
#[in_flight]
async unsafe fn read_raw_later(p: *const u8) -> u8 {
    YieldOnce(false).await;
    // SAFETY: the caller promises `p` is valid.
    unsafe { *p }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn diverge(message: &'static str) -> ! {
    panic!("{message}")
}

#[test]
fn unsafe_extern_and_never() {
    setup();
    let byte = 42u8;
    // SAFETY: `byte` is alive.
    assert_eq!(unsafe { read_raw(&raw const byte) }, 42);
    let add: extern "C" fn(i32, i32) -> i32 = c_add;
    assert_eq!(add(2, 3), 5);
    let n = 9;
    // SAFETY: `n` is alive.
    assert_eq!(unsafe { c_read(&raw const n) }, 9);
    // SAFETY: `byte` outlives the future.
    assert_eq!(block_on(unsafe { read_raw_later(&raw const byte) }), 42);
    let payload = panic_payload(|| diverge("never returns"));
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("never returns")
    );
    assert_calls("read_raw", &[("ok", 1)]);
    assert_calls("c_add", &[("ok", 1)]);
    assert_calls("c_read", &[("ok", 1)]);
    assert_calls("read_raw_later", &[("ok", 1)]);
    assert_calls("diverge", &[("panic", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 6. `#[cfg]` on a parameter; raw identifiers; `_` and `_x` parameters.
// ---------------------------------------------------------------------------------------------

#[traced]
#[counted]
#[timed]
#[in_flight]
fn cfg_param(#[cfg(not(test))] gone: u8, #[cfg(test)] kept: u8, plain: u8) -> u8 {
    kept + plain
}

#[in_flight]
#[traced]
#[timed]
#[counted]
fn r#match(r#type: &str, r#fn: usize) -> usize {
    r#type.len() + r#fn
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn underscores(_: u8, _unused: &str, used: u8) -> u8 {
    used
}

#[test]
fn cfg_raw_identifiers_and_underscores() {
    setup();
    assert_eq!(cfg_param(1, 2), 3);
    assert_eq!(r#match("abc", 1), 4);
    assert_eq!(underscores(1, "x", 3), 3);
    assert_calls("cfg_param", &[("ok", 1)]);
    assert_calls("match", &[("ok", 1)]);
    assert_calls("underscores", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 7. Destructured parameters.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Point {
    x: i32,
    y: i32,
    z: i32,
}

struct Meters(f64);

#[traced]
#[counted]
#[timed]
#[in_flight]
fn tuple_param((a, b): (i32, i32)) -> i32 {
    a * b
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn struct_param(Point { x: px, y, .. }: Point) -> i32 {
    px + y
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn tuple_struct_param(Meters(m): Meters) -> f64 {
    m * 2.0
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn ref_pattern_param(&x: &i32) -> i32 {
    x + 1
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn mut_param(mut x: i32) -> i32 {
    x *= 3;
    x
}

#[traced]
#[counted]
#[timed]
#[in_flight]
#[expect(
    clippy::toplevel_ref_arg,
    reason = "`ref` on a parameter is the shape under test"
)]
fn ref_binding_param(ref s: String) -> usize {
    s.len()
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn nested_pattern_param((Point { z, .. }, [first, .., last]): (Point, [u8; 3])) -> i32 {
    z + i32::from(first) + i32::from(last)
}

#[test]
fn destructured_parameters() {
    setup();
    let p = Point { x: 1, y: 2, z: 3 };
    assert_eq!(tuple_param((2, 5)), 10);
    assert_eq!(struct_param(p), 3);
    assert!((tuple_struct_param(Meters(1.5)) - 3.0).abs() < f64::EPSILON);
    assert_eq!(ref_pattern_param(&4), 5);
    assert_eq!(mut_param(2), 6);
    assert_eq!(ref_binding_param("four".to_owned()), 4);
    assert_eq!(nested_pattern_param((p, [1, 2, 3])), 7);
    for f in [
        "tuple_param",
        "struct_param",
        "tuple_struct_param",
        "ref_pattern_param",
        "mut_param",
        "ref_binding_param",
        "nested_pattern_param",
    ] {
        assert_calls(f, &[("ok", 1)]);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Early `return`, `?`, `let … else`, recursion, nested fns and `macro_rules!`, inner attributes.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum ParseError {
    Negative,
    Odd(i64),
    Bad(std::num::ParseIntError),
}

impl From<std::num::ParseIntError> for ParseError {
    fn from(e: std::num::ParseIntError) -> Self {
        ParseError::Bad(e)
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn half_of(s: &str) -> Result<i64, ParseError> {
    let n: i64 = s.trim().parse()?; // `?` converts with `From`
    if n < 0 {
        return Err(ParseError::Negative);
    }
    let Some(half) = (n % 2 == 0).then_some(n / 2) else {
        return Err(ParseError::Odd(n));
    };
    Ok(half)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn first_char_code(s: &str) -> Option<u32> {
    let c = s.chars().next()?;
    Some(u32::from(c))
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn boxed_error(s: &str) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Ok(s.parse()?)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn collected(n: u8) -> Vec<u8> {
    (0..n).collect()
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn into_string(s: &str) -> String {
    s.into()
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    fib(n - 1) + fib(n - 2)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn with_items(n: u32) -> u32 {
    #![allow(clippy::items_after_statements)]
    let start = n;
    fn double(x: u32) -> u32 {
        x * 2
    }
    macro_rules! triple {
        ($e:expr) => {
            $e * 3
        };
    }
    const OFFSET: u32 = 1;
    struct Local(u32);
    impl Local {
        fn get(&self) -> u32 {
            self.0
        }
    }
    triple!(double(start)) + OFFSET + Local(0).get()
}

#[test]
fn bodies_return_try_let_else_recursion_items() {
    setup();
    assert_eq!(half_of("8"), Ok(4));
    assert_eq!(half_of("-2"), Err(ParseError::Negative));
    assert_eq!(half_of("3"), Err(ParseError::Odd(3)));
    assert!(matches!(half_of("x"), Err(ParseError::Bad(_))));
    assert_eq!(first_char_code("A"), Some(65));
    assert_eq!(first_char_code(""), None); // `None` is a value, not an error
    assert_eq!(boxed_error("7").ok(), Some(7));
    assert!(boxed_error("700").is_err());
    assert_eq!(collected(3), [0, 1, 2]);
    assert_eq!(into_string("s"), "s");
    assert_eq!(fib(5), 5); // 15 calls
    assert_eq!(with_items(2), 13);
    assert_calls("half_of", &[("ok", 1), ("error", 3)]);
    assert_calls("first_char_code", &[("ok", 2)]);
    assert_calls("boxed_error", &[("ok", 1), ("error", 1)]);
    assert_calls("collected", &[("ok", 1)]);
    assert_calls("into_string", &[("ok", 1)]);
    assert_calls("fib", &[("ok", 15)]);
    assert_calls("with_items", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 9. Returning a borrow of a `&mut` argument.
// ---------------------------------------------------------------------------------------------

#[traced]
#[counted]
#[timed]
#[in_flight]
fn bump(x: &mut u8) -> &mut u8 {
    *x += 1;
    x
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn field_of(p: &mut Point) -> &mut i32 {
    &mut p.x
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn slot(values: &mut [u8], i: usize) -> Result<&mut u8, String> {
    values.get_mut(i).ok_or_else(|| format!("no slot {i}"))
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn longest_mut<'a>(a: &'a mut String, b: &'a mut String) -> &'a mut String {
    if a.len() >= b.len() { a } else { b }
}

#[test]
fn borrows_of_mut_arguments() {
    setup();
    let mut x = 1;
    *bump(&mut x) += 10;
    assert_eq!(x, 12);
    let mut p = Point { x: 1, y: 2, z: 3 };
    *field_of(&mut p) = 9;
    assert_eq!(p.x, 9);
    let mut values = [0, 0];
    *slot(&mut values, 1).unwrap() = 5;
    assert_eq!(values, [0, 5]);
    assert!(slot(&mut values, 2).is_err());
    let (mut a, mut b) = ("ab".to_owned(), "c".to_owned());
    longest_mut(&mut a, &mut b).push('!');
    assert_eq!(a, "ab!");
    assert_calls("bump", &[("ok", 1)]);
    assert_calls("field_of", &[("ok", 1)]);
    assert_calls("slot", &[("ok", 1), ("error", 1)]);
    assert_calls("longest_mut", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 10. Trait default methods; methods of generic impls and trait impls.
// ---------------------------------------------------------------------------------------------

trait Greeter {
    fn name(&self) -> String;

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn greet(&self) -> String {
        format!("hello {}", self.name())
    }

    #[counted]
    #[timed]
    #[in_flight]
    #[traced]
    fn greet_checked(&self) -> Result<String, String> {
        let name = self.name();
        if name.is_empty() {
            Err("no name".to_owned())
        } else {
            Ok(self.greet())
        }
    }
}

struct English;
struct Nobody;

#[traced]
#[counted]
#[timed]
#[in_flight]
impl Greeter for English {
    fn name(&self) -> String {
        "world".to_owned()
    }
}

impl Greeter for Nobody {
    fn name(&self) -> String {
        String::new()
    }
}

struct Wrapper<T>(T);

impl<T: Display + Clone> Wrapper<T> {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn show(&self) -> String {
        self.0.to_string()
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0))
    }
}

trait Describe {
    fn describe(&self) -> String;
}

impl<T: Display> Describe for Wrapper<T> {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn describe(&self) -> String {
        format!("<{}>", self.0)
    }
}

#[test]
fn trait_default_methods_and_generic_impls() {
    setup();
    assert_eq!(English.greet(), "hello world");
    assert_eq!(English.greet_checked(), Ok("hello world".to_owned()));
    assert!(Nobody.greet_checked().is_err());
    assert_eq!(Wrapper(1).show(), "1");
    assert_eq!(Wrapper("a").show(), "a");
    assert_eq!(Wrapper(2).map(|n| n * 2).show(), "4");
    assert_eq!(Wrapper(3.5).describe(), "<3.5>");
    // Default methods are `Trait::method`, whatever the implementing type.
    assert_calls("Greeter::greet", &[("ok", 2)]);
    assert_calls("Greeter::greet_checked", &[("ok", 1), ("error", 1)]);
    // The impl-block attribute instruments the one method the impl has.
    assert_calls("English::name", &[("ok", 3)]);
    // Generic impls: no generic arguments in the label.
    assert_calls("Wrapper::show", &[("ok", 3)]);
    assert_calls("Wrapper::map", &[("ok", 1)]);
    assert_calls("Wrapper::describe", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 11. Async: `async fn`, `-> impl Future`, `-> Pin<Box<dyn Future>>`, traits; `Send` kept.
// ---------------------------------------------------------------------------------------------

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn fetch(id: u32) -> Result<u32, String> {
    YieldOnce(false).await;
    if id == 0 {
        return Err("no id 0".to_owned());
    }
    let doubled: u32 = id.to_string().parse::<u32>().map_err(|e| e.to_string())? * 2;
    Ok(doubled)
}

#[in_flight]
#[timed]
#[traced]
#[counted]
async fn fetch_into(buf: &mut Vec<u8>, byte: u8) -> &mut Vec<u8> {
    YieldOnce(false).await;
    buf.push(byte);
    buf
}

static IMPL_FUTURE_BUILT: AtomicUsize = AtomicUsize::new(0);

#[counted]
#[traced]
#[in_flight]
#[timed]
fn later(n: u32) -> impl Future<Output = Result<u32, String>> + Send {
    IMPL_FUTURE_BUILT.fetch_add(1, Ordering::SeqCst);
    async move {
        YieldOnce(false).await;
        if n > 100 {
            Err(format!("{n} is too big"))
        } else {
            Ok(n + 1)
        }
    }
}

static BOXED_PREPARED: AtomicUsize = AtomicUsize::new(0);

struct Client {
    base: u32,
}

impl Client {
    #[timed]
    #[in_flight]
    #[counted]
    #[traced]
    fn get(&self, n: u32) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send + '_>> {
        BOXED_PREPARED.fetch_add(1, Ordering::SeqCst);
        let offset = n * 2;
        if n == 99 {
            return Box::pin(async { Err("99 is refused at once".to_owned()) });
        }
        Box::pin(async move {
            YieldOnce(false).await;
            Ok(self.base + offset)
        })
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn countdown(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            0
        } else {
            countdown(n - 1).await + 1
        }
    })
}

/// The `futures` crate's aliases, declared here as that crate does: the attribute knows them by
/// name and measures the future, not its construction.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

#[traced]
#[counted]
#[timed]
#[in_flight]
fn boxed_alias(n: u32) -> BoxFuture<'static, Result<u32, String>> {
    Box::pin(async move {
        YieldOnce(false).await;
        if n == 0 {
            Err("zero".to_owned())
        } else {
            Ok(n)
        }
    })
}

#[counted]
#[timed]
#[in_flight]
fn local_boxed_alias(cell: &std::cell::Cell<u32>) -> LocalBoxFuture<'_, Result<u32, String>> {
    Box::pin(async move {
        YieldOnce(false).await;
        cell.set(cell.get() + 1);
        Err(format!("{} is odd", cell.get()))
    })
}

#[test]
fn box_future_aliases_are_measured_as_futures() {
    setup();
    let fut = boxed_alias(4);
    assert_send(&fut);
    assert_eq!(in_flight_now(&obs_runtime::render(), "boxed_alias"), 1);
    assert_eq!(block_on(fut), Ok(4));
    assert_eq!(block_on(boxed_alias(0)), Err("zero".to_owned()));
    // Dropped before it completes: cancelled, as any future.
    drop(boxed_alias(5));
    assert_calls("boxed_alias", &[("ok", 1), ("error", 1), ("cancelled", 1)]);

    let cell = std::cell::Cell::new(0);
    assert_eq!(
        block_on(local_boxed_alias(&cell)),
        Err("1 is odd".to_owned())
    );
    assert_calls("local_boxed_alias", &[("error", 1)]);
}

/// An `async-trait`-style trait: methods return boxed futures.
trait Store {
    fn load<'a>(&'a self, key: &'a str) -> Pin<Box<dyn Future<Output = Option<u32>> + Send + 'a>>;
}

struct MemStore;

impl Store for MemStore {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn load<'a>(&'a self, key: &'a str) -> Pin<Box<dyn Future<Output = Option<u32>> + Send + 'a>> {
        Box::pin(async move {
            YieldOnce(false).await;
            key.parse().ok()
        })
    }
}

/// Native `async fn` in a trait, and a `-> impl Future + Send` method implemented by one.
trait Service {
    async fn call(&self, request: u32) -> Result<u32, String>;

    fn ready(&self) -> impl Future<Output = bool> + Send;

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    async fn call_twice(&self, request: u32) -> Result<u32, String> {
        let once = self.call(request).await?;
        self.call(once).await
    }
}

struct Echo;

impl Service for Echo {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    async fn call(&self, request: u32) -> Result<u32, String> {
        YieldOnce(false).await;
        if request > 10 {
            Err(format!("{request} is over 10"))
        } else {
            Ok(request * 2)
        }
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    async fn ready(&self) -> bool {
        YieldOnce(false).await;
        true
    }
}

#[test]
fn async_fns_and_futures() {
    setup();
    // `assert_send`: a compile-time check that the instrumented future is still `Send`.
    let fut = fetch(3);
    assert_send(&fut);
    assert_eq!(block_on(fut), Ok(6));
    assert_eq!(block_on(fetch(0)), Err("no id 0".to_owned()));
    let mut buf = vec![1];
    let fut = fetch_into(&mut buf, 2);
    assert_send(&fut);
    block_on(fut).push(3);
    assert_eq!(buf, [1, 2, 3]);
    assert_calls("fetch", &[("ok", 1), ("error", 1)]);
    assert_calls("fetch_into", &[("ok", 1)]);

    // The body of a future-returning fn runs at call time; the future is what is measured.
    let fut = later(1);
    assert_send(&fut);
    assert_eq!(
        IMPL_FUTURE_BUILT.load(Ordering::SeqCst),
        1,
        "the body ran at call time"
    );
    let page = obs_runtime::render();
    assert_eq!(
        count(&page, "later", "ok"),
        0,
        "not finished before it is awaited"
    );
    assert_eq!(in_flight_now(&page, "later"), 1);
    assert_eq!(block_on(fut), Ok(2));
    assert_eq!(block_on(later(101)), Err("101 is too big".to_owned()));
    assert_calls("later", &[("ok", 1), ("error", 1)]);

    let client = Client { base: 100 };
    let fut = client.get(1);
    assert_send(&fut);
    assert_eq!(
        BOXED_PREPARED.load(Ordering::SeqCst),
        1,
        "statements before Box::pin ran at call time"
    );
    assert_eq!(count(&obs_runtime::render(), "Client::get", "ok"), 0);
    assert_eq!(block_on(fut), Ok(102));
    assert_eq!(
        block_on(client.get(99)),
        Err("99 is refused at once".to_owned())
    );
    assert_eq!(BOXED_PREPARED.load(Ordering::SeqCst), 2);
    assert_calls("Client::get", &[("ok", 1), ("error", 1)]);

    assert_eq!(block_on(countdown(3)), 3);
    assert_calls("countdown", &[("ok", 4)]);

    let fut = MemStore.load("7");
    assert_send(&fut);
    assert_eq!(block_on(fut), Some(7));
    assert_eq!(block_on(MemStore.load("x")), None);
    assert_calls("MemStore::load", &[("ok", 2)]);

    let fut = Echo.call(2);
    assert_send(&fut);
    assert_eq!(block_on(fut), Ok(4));
    let fut = Echo.call_twice(3);
    assert_send(&fut);
    assert_eq!(block_on(fut), Ok(12));
    assert_eq!(
        block_on(Echo.call_twice(6)),
        Err("12 is over 10".to_owned())
    );
    let fut = Echo.ready();
    assert_send(&fut);
    assert!(block_on(fut));
    assert_calls("Echo::call", &[("ok", 4), ("error", 1)]);
    assert_calls("Service::call_twice", &[("ok", 1), ("error", 1)]);
    assert_calls("Echo::ready", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 12. Other attributes, in any order.
// ---------------------------------------------------------------------------------------------

/// Doc before.
#[must_use]
#[counted]
#[inline]
/// Doc in between.
#[timed]
#[in_flight]
#[traced]
/// Doc after.
fn decorated(x: u8) -> u8 {
    x + 1
}

#[inline(always)]
#[traced]
#[cold]
#[counted]
#[expect(unused_variables, reason = "the body declares one on purpose")]
#[timed]
#[in_flight]
fn expects_a_lint(x: u8) -> u8 {
    let unused = x;
    x
}

#[test]
fn other_attributes_in_any_order() {
    setup();
    assert_eq!(decorated(1), 2);
    assert_eq!(expects_a_lint(3), 3);
    assert_calls("decorated", &[("ok", 1)]);
    assert_calls("expects_a_lint", &[("ok", 1)]);
}

// `#[track_caller]`: the body stays inline, its `return`s turned into breaks, so the caller's
// location is what `Location::caller()` and an `unwrap()` in the body see.

use std::panic::Location;

#[traced]
#[counted]
#[timed]
#[in_flight]
#[track_caller]
fn caller_line() -> u32 {
    Location::caller().line()
}

#[track_caller]
#[counted]
#[traced]
#[timed]
#[in_flight]
fn caller_or_error(fail: bool) -> Result<u32, String> {
    if fail {
        return Err(format!("failed at line {}", Location::caller().line()));
    }
    let mut n = 0;
    // A user label named like the expansion's, and a `return` inside a loop.
    'obs_body: loop {
        n += 1;
        if n == 2 {
            break 'obs_body;
        }
    }
    for i in 0.. {
        if i == n {
            return Ok(Location::caller().line());
        }
    }
    unreachable!()
}

#[in_flight]
#[timed]
#[track_caller]
#[counted]
#[traced]
fn unwrap_at_caller(value: Option<u32>) -> u32 {
    // The `return` of a closure and of a nested fn are their own.
    let double = |v: u32| -> u32 {
        if v > 100 {
            return 0;
        }
        v * 2
    };
    fn triple(v: u32) -> u32 {
        if v > 100 {
            return 0;
        }
        v * 3
    }
    assert!(
        value != Some(0),
        "zero at line {}",
        Location::caller().line()
    );
    triple(double(value.unwrap()))
}

struct Ledger {
    entries: Vec<u32>,
}

impl Ledger {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    #[track_caller]
    fn last_mut(&mut self) -> &mut u32 {
        if self.entries.is_empty() {
            self.entries.push(0);
        }
        self.entries.last_mut().unwrap()
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    #[track_caller]
    fn where_built(&self) -> impl Future<Output = u32> + use<> {
        let line = Location::caller().line();
        async move { line }
    }
}

/// A `?` could leave the fn without the wrapper seeing it, so this body runs in the closure
/// like any other fn's: statuses are right, but `Location::caller()` sees the closure.
#[traced]
#[counted]
#[timed]
#[in_flight]
#[track_caller]
fn caller_with_try(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n)
}

/// `#[track_caller]` does nothing on an async fn (rustc says so): its body keeps its own
/// `return`s in the async block.
#[allow(ungated_async_fn_track_caller)]
#[track_caller]
#[counted]
#[timed]
#[in_flight]
#[traced]
async fn async_tracked(fail: bool) -> Result<u8, String> {
    YieldOnce(false).await;
    if fail {
        return Err("failed".to_owned());
    }
    Ok(1)
}

/// The last location a panic of this thread reported.
fn last_panic_line() -> Option<u32> {
    LAST_PANIC_LINE.with(std::cell::Cell::get)
}

thread_local! {
    static LAST_PANIC_LINE: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

/// Records the line of each panic, then reports it as before.
fn record_panic_lines() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            LAST_PANIC_LINE.with(|l| l.set(info.location().map(Location::line)));
            previous(info);
        }));
    });
}

#[test]
fn track_caller_sees_the_caller() {
    setup();
    record_panic_lines();
    let line = line!() + 1;
    assert_eq!(caller_line(), line);
    assert_calls("caller_line", &[("ok", 1)]);

    let line = line!() + 1;
    assert_eq!(caller_or_error(false), Ok(line));
    let line = line!() + 1;
    assert_eq!(caller_or_error(true), Err(format!("failed at line {line}")));
    assert_calls("caller_or_error", &[("ok", 1), ("error", 1)]);

    assert_eq!(unwrap_at_caller(Some(1)), 6);
    let line = line!() + 1;
    let payload = panic_payload(|| unwrap_at_caller(None));
    assert_eq!(
        last_panic_line(),
        Some(line),
        "the unwrap panics at the caller's line"
    );
    assert!(
        payload
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("None")),
        "the unwrap's message"
    );
    let line = line!() + 1;
    let payload = panic_payload(|| unwrap_at_caller(Some(0)));
    assert_eq!(last_panic_line(), Some(line));
    assert_eq!(
        payload.downcast_ref::<String>(),
        Some(&format!("zero at line {line}"))
    );
    assert_calls("unwrap_at_caller", &[("ok", 1), ("panic", 2)]);

    let mut ledger = Ledger { entries: vec![] };
    *ledger.last_mut() += 5;
    assert_eq!(ledger.entries, [5]);
    assert_calls("Ledger::last_mut", &[("ok", 1)]);
    let line = line!() + 1;
    let fut = ledger.where_built();
    assert_eq!(block_on(fut), line);
    assert_calls("Ledger::where_built", &[("ok", 1)]);

    assert_eq!(caller_with_try("4"), Ok(4));
    assert!(caller_with_try("x").is_err());
    assert_calls("caller_with_try", &[("ok", 1), ("error", 1)]);

    assert_eq!(block_on(async_tracked(false)), Ok(1));
    assert!(block_on(async_tracked(true)).is_err());
    assert_calls("async_tracked", &[("ok", 1), ("error", 1)]);
}

// ---------------------------------------------------------------------------------------------
// 13. User items named like the paths the expansion uses.
// ---------------------------------------------------------------------------------------------

mod shadowing {
    #![allow(dead_code, non_camel_case_types, clippy::all)]

    use ::obs_runtime::{counted, in_flight, timed, traced};

    mod core {}
    mod std {}
    mod metrics {}
    mod tracing {}
    mod obs_runtime {}
    mod linkme {}
    mod __private {}
    struct Option;
    struct Result;
    struct Box;
    struct String;
    struct Vec;
    struct Span;
    struct Instant;
    struct Status;

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    pub(super) fn shadowed(n: u8) -> ::core::result::Result<u8, ()> {
        // Locals named like the expansion's: hygiene keeps them apart.
        let obs_out = n;
        let obs_status = 1;
        let obs_counted = 2;
        if obs_out == 0 {
            Err(())
        } else {
            Ok(obs_out + obs_status + obs_counted)
        }
    }

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    pub(super) async fn shadowed_async(n: u8) -> u8 {
        n
    }

    pub(super) struct Shadowed;

    impl Shadowed {
        #[traced]
        #[counted]
        #[timed]
        #[in_flight]
        pub(super) fn boxed(
            &self,
        ) -> ::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = u8> + Send + '_>>
        {
            ::std::boxed::Box::pin(async { 1 })
        }
    }
}

#[test]
fn user_items_named_like_the_expansions_paths() {
    setup();
    assert_eq!(shadowing::shadowed(1), Ok(4));
    assert_eq!(shadowing::shadowed(0), Err(()));
    assert_eq!(block_on(shadowing::shadowed_async(5)), 5);
    assert_eq!(block_on(shadowing::Shadowed.boxed()), 1);
    assert_calls("shadowed", &[("ok", 1), ("error", 1)]);
    assert_calls("shadowed_async", &[("ok", 1)]);
    assert_calls("Shadowed::boxed", &[("ok", 1)]);
    let page = obs_runtime::render();
    assert_eq!(module_of(&page, "shadowed"), "shapes::shadowing");
    assert_eq!(module_of(&page, "Shadowed::boxed"), "shapes::shadowing");
}

// ---------------------------------------------------------------------------------------------
// 16. Panics and cancellation.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Payload(u32);

#[traced]
#[counted]
#[timed]
#[in_flight]
fn panics_with_payload(n: u32) -> u32 {
    if n > 0 {
        std::panic::panic_any(Payload(n));
    }
    n
}

#[in_flight]
#[counted]
#[traced]
#[timed]
fn panics_with_message(n: u32) -> Result<u32, String> {
    assert!(n < 10, "{n} is too big");
    Ok(n)
}

struct Machine {
    state: u32,
}

impl Machine {
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn step(&mut self) -> u32 {
        self.state += 1;
        assert!(self.state < 3, "state {} out of range", self.state);
        self.state
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn panics_later(n: u32) -> u32 {
    YieldOnce(false).await;
    if n > 0 {
        std::panic::panic_any(Payload(n));
    }
    n
}

#[test]
fn panics_are_recorded_and_continue_unchanged() {
    setup();
    assert_eq!(panics_with_payload(0), 0);
    let payload = panic_payload(|| panics_with_payload(7));
    assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(7)));
    assert_calls("panics_with_payload", &[("ok", 1), ("panic", 1)]);

    assert_eq!(panics_with_message(1), Ok(1));
    let payload = panic_payload(|| panics_with_message(11));
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("11 is too big")
    );
    assert_calls("panics_with_message", &[("ok", 1), ("panic", 1)]);

    let mut machine = Machine { state: 0 };
    assert_eq!(machine.step(), 1);
    assert_eq!(machine.step(), 2);
    let payload = panic_payload(|| machine.step());
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("state 3 out of range")
    );
    assert_calls("Machine::step", &[("ok", 2), ("panic", 1)]);

    let payload = panic_payload(|| block_on(panics_later(5)));
    assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(5)));
    assert_eq!(block_on(panics_later(0)), 0);
    assert_calls("panics_later", &[("ok", 1), ("panic", 1)]);
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn waits_forever(n: u32) -> u32 {
    std::future::pending::<()>().await;
    n
}

#[timed]
#[counted]
#[in_flight]
#[traced]
fn waits_forever_impl() -> impl Future<Output = Result<(), String>> {
    async {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[counted]
#[traced]
#[in_flight]
#[timed]
fn waits_forever_boxed() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(std::future::pending())
}

#[test]
fn dropped_futures_are_cancelled() {
    setup();
    let mut fut = Box::pin(waits_forever(1));
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(in_flight_now(&obs_runtime::render(), "waits_forever"), 1);
    drop(fut);
    assert_calls("waits_forever", &[("cancelled", 1)]);

    // Never polled: an async fn has not started, so nothing is recorded.
    drop(waits_forever(2));
    assert_calls("waits_forever", &[("cancelled", 1)]);

    let mut fut = Box::pin(waits_forever_impl());
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(
        in_flight_now(&obs_runtime::render(), "waits_forever_impl"),
        1
    );
    drop(fut);
    assert_calls("waits_forever_impl", &[("cancelled", 1)]);

    let mut fut = waits_forever_boxed();
    assert!(poll_once(fut.as_mut()).is_pending());
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(
        in_flight_now(&obs_runtime::render(), "waits_forever_boxed"),
        1
    );
    drop(fut);
    assert_calls("waits_forever_boxed", &[("cancelled", 1)]);

    // A future-returning fn started at call time: dropping its future unpolled cancels it.
    drop(waits_forever_boxed());
    assert_calls("waits_forever_boxed", &[("cancelled", 2)]);
}

// ---------------------------------------------------------------------------------------------
// Statuses chosen by the types: `ReturnStatus`, `ErrorStatus`.
// ---------------------------------------------------------------------------------------------

struct Response {
    code: u16,
}

impl ReturnStatus for Response {
    fn status(&self) -> Status {
        match self.code {
            500.. => Status::ERROR,
            429 => Status::BLOCKED,
            _ => Status::OK,
        }
    }
}

#[derive(Debug)]
enum CallError {
    TimedOut,
    Forbidden,
    Throttled,
    Broken,
}

impl ErrorStatus for CallError {
    fn status(&self) -> Status {
        match self {
            CallError::TimedOut => Status::TIMEOUT,
            CallError::Forbidden => Status::BLOCKED,
            CallError::Throttled => Status::custom("throttled"),
            CallError::Broken => Status::ERROR,
        }
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn respond(code: u16) -> Response {
    Response { code }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn call_out(fail: Option<CallError>) -> Result<u8, CallError> {
    match fail {
        Some(e) => Err(e),
        None => Ok(1),
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn call_out_async(fail: Option<CallError>) -> Result<u8, CallError> {
    YieldOnce(false).await;
    fail.map_or(Ok(2), Err)
}

#[test]
fn statuses_chosen_by_return_and_error_types() {
    setup();
    for code in [200, 404, 429, 500, 503] {
        let _ = respond(code);
    }
    assert_calls("respond", &[("ok", 2), ("error", 2), ("blocked", 1)]);

    let _ = call_out(None);
    let _ = call_out(Some(CallError::TimedOut));
    let _ = call_out(Some(CallError::TimedOut));
    let _ = call_out(Some(CallError::Forbidden));
    let _ = call_out(Some(CallError::Throttled));
    let _ = call_out(Some(CallError::Broken));
    assert_calls(
        "call_out",
        &[
            ("ok", 1),
            ("error", 1),
            ("timeout", 2),
            ("blocked", 1),
            ("throttled", 1),
        ],
    );

    let _ = block_on(call_out_async(Some(CallError::Forbidden)));
    let _ = block_on(call_out_async(None));
    assert_calls("call_out_async", &[("ok", 1), ("blocked", 1)]);
}

// ---------------------------------------------------------------------------------------------
// The impl-block form, with `#[exclude]` and per-method overrides.
// ---------------------------------------------------------------------------------------------

struct Repo {
    rows: Vec<u32>,
}

#[counted]
#[timed]
#[in_flight]
#[traced]
impl Repo {
    fn row(&self, i: usize) -> Result<u32, String> {
        self.rows
            .get(i)
            .copied()
            .ok_or_else(|| format!("no row {i}"))
    }

    #[exclude]
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn push(&mut self, row: u32) -> &mut Self {
        self.rows.push(row);
        self
    }

    #[counted(labels(kind = "special"))]
    fn special() -> u8 {
        1
    }

    const fn capacity() -> usize {
        3
    }

    async fn row_later(&self, i: usize) -> Result<u32, String> {
        YieldOnce(false).await;
        self.row(i)
    }
}

#[test]
fn impl_block_form_with_exclude() {
    setup();
    let mut repo = Repo { rows: vec![] };
    repo.push(1).push(2);
    assert_eq!(repo.row(1), Ok(2));
    assert!(repo.row(5).is_err());
    assert_eq!(repo.len(), 2);
    assert_eq!(Repo::special(), 1);
    assert_eq!(Repo::capacity(), 3);
    assert_eq!(block_on(repo.row_later(0)), Ok(1));
    // `row` is called by `row_later` too.
    assert_calls("Repo::row", &[("ok", 2), ("error", 1)]);
    assert_calls("Repo::push", &[("ok", 2)]);
    assert_calls("Repo::row_later", &[("ok", 1)]);
    assert_calls("Repo::special", &[("ok", 1)]);
    let page = obs_runtime::render();
    assert!(
        !page.contains("function=\"Repo::len\""),
        "excluded:\n{page}"
    );
    assert!(
        !page.contains("function=\"Repo::capacity\""),
        "const fn left alone:\n{page}"
    );
    // The method's own `#[counted(..)]` replaced the block's for that method only.
    assert_eq!(
        sample(
            &page,
            "function_calls_total",
            &[("function", "Repo::special"), ("status", "ok")]
        ),
        Some("1".to_owned())
    );
    let special = samples(
        &page,
        "function_calls_total",
        &[("function", "Repo::special"), ("kind", "special")],
    );
    assert_eq!(
        special.len(),
        2,
        "ok and error, with the method's label: {special:?}"
    );
    let row = samples(&page, "function_calls_total", &[("function", "Repo::row")]);
    assert!(
        row.iter().all(|(labels, _)| !labels.contains_key("kind")),
        "{row:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// `#[timed(buckets = [..])]`: that fn's buckets; the same family keeps the defaults elsewhere.
// ---------------------------------------------------------------------------------------------

#[traced]
#[timed(buckets = [0.001, 0.25, 2.0])]
#[counted]
#[in_flight]
fn custom_buckets() {}

#[timed]
#[counted]
#[in_flight]
#[traced]
fn default_buckets() {}

/// The `le` bounds and cumulative counts of `function`'s histogram for `status`.
fn buckets(page: &str, function: &str, status: &str) -> Vec<(String, u64)> {
    samples(
        page,
        "function_duration_seconds_bucket",
        &[("function", function), ("status", status)],
    )
    .into_iter()
    .map(|(labels, v)| (labels["le"].clone(), v.parse().expect("an integer count")))
    .collect()
}

#[test]
fn timed_buckets_per_function() {
    setup();
    custom_buckets();
    custom_buckets();
    default_buckets();
    let page = obs_runtime::render();
    let custom = buckets(&page, "custom_buckets", "ok");
    let les: Vec<&str> = custom.iter().map(|(le, _)| le.as_str()).collect();
    assert_eq!(les, ["0.001", "0.25", "2", "+Inf"]);
    // An empty fn takes far less than 250ms: both calls are in every bucket from 0.25 up.
    assert_eq!(
        custom[1..],
        [
            ("0.25".to_owned(), 2),
            ("2".to_owned(), 2),
            ("+Inf".to_owned(), 2)
        ]
    );
    let error: Vec<String> = buckets(&page, "custom_buckets", "error")
        .into_iter()
        .map(|(le, _)| le)
        .collect();
    assert_eq!(error, ["0.001", "0.25", "2", "+Inf"]);

    let default: Vec<String> = buckets(&page, "default_buckets", "ok")
        .into_iter()
        .map(|(le, _)| le)
        .collect();
    assert_eq!(
        default,
        [
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ]
    );
    assert_calls("custom_buckets", &[("ok", 2)]);
    assert_calls("default_buckets", &[("ok", 1)]);
}

// ---------------------------------------------------------------------------------------------
// Names and modules.
// ---------------------------------------------------------------------------------------------

mod nested {
    use obs_runtime::{counted, in_flight, timed, traced};

    pub(super) struct Vault<T>(pub(super) T);

    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    pub(super) fn in_a_module() -> u8 {
        1
    }
}

// A type from another module: `type_name` writes its methods `shapes::<impl shapes::nested::
// Vault<_>>::open`. Types that are not paths keep their shape, less module paths.
#[counted]
#[timed]
#[in_flight]
impl<T: Copy> nested::Vault<T> {
    fn open(&self) -> T {
        self.0
    }
}

trait Peek {
    fn peek(&self) -> u8;
}

#[counted]
#[timed]
#[in_flight]
impl Peek for (u8, nested::Vault<u8>) {
    fn peek(&self) -> u8 {
        self.0 + self.1.0
    }
}

#[counted]
#[timed]
#[in_flight]
impl Peek for fn(u8) -> u8 {
    fn peek(&self) -> u8 {
        self(1)
    }
}

#[counted]
#[timed]
#[in_flight]
impl<T> Peek for [T] {
    fn peek(&self) -> u8 {
        u8::try_from(self.len()).unwrap_or(u8::MAX)
    }
}

#[test]
fn methods_of_types_that_are_not_local_paths() {
    fn twice(x: u8) -> u8 {
        x * 2
    }
    setup();
    assert_eq!(nested::Vault(7u32).open(), 7);
    assert_eq!((1u8, nested::Vault(2u8)).peek(), 3);
    assert_eq!((twice as fn(u8) -> u8).peek(), 2);
    assert_eq!([1u16, 2, 3][..].peek(), 3);
    assert_calls("Vault::open", &[("ok", 1)]);
    assert_calls("(u8, Vault)::peek", &[("ok", 1)]);
    assert_calls("fn(u8) -> u8::peek", &[("ok", 1)]);
    assert_calls("[_]::peek", &[("ok", 1)]);
}

#[test]
fn modules_and_fns_nested_in_fns() {
    setup();
    #[traced]
    #[counted]
    #[timed]
    #[in_flight]
    fn nested_in_a_test() -> u8 {
        2
    }

    assert_eq!(nested::in_a_module(), 1);
    assert_eq!(nested_in_a_test(), 2);
    assert_calls("in_a_module", &[("ok", 1)]);
    assert_calls("nested_in_a_test", &[("ok", 1)]);
    let page = obs_runtime::render();
    assert_eq!(module_of(&page, "in_a_module"), "shapes::nested");
    assert_eq!(module_of(&page, "nested_in_a_test"), "shapes");
    assert_eq!(module_of(&page, "Account::open"), "shapes");
}
