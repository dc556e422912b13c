// The instrumented shapes the lint checks compile: included (`include!`, so they sit at the
// crate root and their `module` label is the crate's) by `tests/lints.rs`, which clippy lints
// and `cargo test` runs, and by `tests/ui/pass/lints.rs`, which trybuild compiles with rustc.
// The crate that includes them holds the `#![deny(…)]` they are checked under.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use obs_runtime::{
    ErrorStatus, ReturnStatus, Status, counted, exclude, in_flight, record, timed, traced,
};

#[derive(Debug)]
enum LookupError {
    Missing(u32),
    Slow,
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Missing(id) => write!(f, "no row {id}"),
            LookupError::Slow => f.write_str("too slow"),
        }
    }
}

impl std::error::Error for LookupError {}

impl ErrorStatus for LookupError {
    fn status(&self) -> Status {
        match self {
            LookupError::Missing(_) => Status::ERROR,
            LookupError::Slow => Status::TIMEOUT,
        }
    }
}

struct Reply {
    code: u16,
}

impl ReturnStatus for Reply {
    fn status(&self) -> Status {
        if self.code >= 500 {
            Status::ERROR
        } else {
            Status::OK
        }
    }
}

/// Not `Debug`: left out of the span.
struct Secret(String);

#[traced(skip(secret), fields(kind = "lookup", len = secret.0.len()))]
#[counted]
#[timed(buckets = [0.001, 0.01, 0.1])]
#[in_flight]
fn lint_lookup(id: u32, secret: &Secret) -> Result<u32, LookupError> {
    match id {
        0 => Err(LookupError::Missing(id)),
        1 => Err(LookupError::Slow),
        _ => Ok(id * 2),
    }
}

#[traced(fields(rows, first))]
#[counted]
async fn lint_record(ids: &[u32]) -> usize {
    let rows = ids.len();
    record!(rows = rows);
    record!(first = ?ids.first());
    record!(ids = %rows);
    rows
}

#[in_flight(name = "lint_pings_in_flight")]
#[traced(level = "debug", skip_all)]
#[counted(name = "lint_pings_total", help = "Pings.", labels(kind = "ping"))]
fn lint_ping() {}

#[counted]
#[traced(name = "reply")]
fn lint_reply(code: u16) -> Reply {
    Reply { code }
}

#[traced]
#[counted]
#[timed]
fn lint_sum(values: &[u32], _unused: &str, opaque: Secret) -> u32 {
    values.iter().sum::<u32>() + u32::try_from(opaque.0.len()).unwrap_or(u32::MAX)
}

#[traced]
#[counted]
fn lint_largest<T, I>(items: I) -> Option<T>
where
    T: PartialOrd + Copy,
    I: IntoIterator<Item = T>,
{
    items.into_iter().fold(None, |best, item| match best {
        Some(b) if b >= item => Some(b),
        _ => Some(item),
    })
}

#[traced]
#[counted]
fn lint_parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = text.trim().parse()?;
    if n == 0 {
        return Ok(1);
    }
    Ok(n)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
async fn lint_fetch(id: u32) -> Result<u32, LookupError> {
    Ready(id).await;
    lint_lookup(id, &Secret(String::new()))
}

#[counted]
#[timed]
fn lint_later(id: u32) -> impl Future<Output = u32> + Send {
    async move {
        Ready(id).await;
        id + 1
    }
}

#[counted]
#[traced]
fn lint_boxed(id: u32) -> Pin<Box<dyn Future<Output = Result<u32, LookupError>> + Send>> {
    let next = id + 1;
    Box::pin(async move {
        if next > 10 {
            Err(LookupError::Slow)
        } else {
            Ok(next)
        }
    })
}

#[traced]
#[counted]
fn lint_bump(x: &mut u8) -> &mut u8 {
    *x += 1;
    x
}

#[traced]
#[counted]
fn lint_pair((a, b): (u8, u8), mut c: u8) -> u16 {
    c += 1;
    u16::from(a) + u16::from(b) + u16::from(c)
}

#[traced]
#[counted]
fn lint_never(message: &str) -> ! {
    panic!("{message}")
}

#[traced]
#[counted]
#[track_caller]
fn lint_caller(fail: bool) -> Result<u32, LookupError> {
    if fail {
        return Err(LookupError::Missing(std::panic::Location::caller().line()));
    }
    Ok(1)
}

#[counted]
#[timed]
#[track_caller]
fn lint_caller_unit(flag: bool) {
    if flag {
        return;
    }
    assert!(!flag, "unreachable");
}

/// A future that is ready at once.
struct Ready(u32);

impl Future for Ready {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<u32> {
        std::task::Poll::Ready(self.0)
    }
}

#[derive(Default)]
struct Cache {
    rows: Vec<u32>,
}

#[counted]
#[timed]
#[in_flight]
#[traced]
impl Cache {
    fn get(&self, i: usize) -> Option<u32> {
        self.rows.get(i).copied()
    }

    fn insert(&mut self, row: u32) -> &mut Self {
        self.rows.push(row);
        self
    }

    fn try_get(&self, i: usize) -> Result<u32, LookupError> {
        let id = u32::try_from(i).map_err(|_| LookupError::Slow)?;
        self.get(i).ok_or(LookupError::Missing(id))
    }

    async fn get_later(&self, i: usize) -> Option<u32> {
        Ready(0).await;
        self.get(i)
    }

    #[exclude]
    fn len(&self) -> usize {
        self.rows.len()
    }

    #[traced(skip(self))]
    fn take(self) -> Vec<u32> {
        self.rows
    }
}

trait Greeter {
    fn name(&self) -> String;

    #[traced]
    #[counted]
    fn greet(&self) -> String {
        format!("hello {}", self.name())
    }
}

struct World;

#[counted]
impl Greeter for World {
    fn name(&self) -> String {
        "world".to_owned()
    }
}

struct Wrapper<T>(T);

impl<T: fmt::Display> Wrapper<T> {
    #[traced]
    #[counted]
    fn show(&self) -> String {
        self.0.to_string()
    }
}

/// `function_calls_total{function="<function>",module="<this crate>",…,status="<status>"}`,
/// or 0 when there is no such series.
fn count(page: &obs_testkit::Page, function: &str, status: &str) -> u64 {
    page.samples()
        .iter()
        .filter(|s| s.name == "function_calls_total" || s.name == "lint_pings_total")
        .find(|s| {
            let mut pairs = s.pairs();
            pairs.next() == Some(("function", function))
                && pairs.next() == Some(("module", module_path!()))
                && pairs.last() == Some(("status", status))
        })
        .map_or(0, obs_testkit::Sample::count)
}

/// Calls every shape and reads each one's count on the page.
fn every_shape_records() {
    let secret = Secret("hunter2".to_owned());
    assert_eq!(lint_lookup(2, &secret).ok(), Some(4));
    assert!(lint_lookup(0, &secret).is_err());
    assert!(lint_lookup(1, &secret).is_err());
    lint_ping();
    assert_eq!(lint_reply(503).code, 503);
    assert_eq!(lint_sum(&[1, 2], "x", Secret("ab".to_owned())), 5);
    assert_eq!(lint_largest([1, 3, 2]), Some(3));
    assert_eq!(lint_parse("0"), Ok(1));
    assert!(lint_parse("x").is_err());
    assert_eq!(futures_executor::block_on(lint_fetch(3)).ok(), Some(6));
    assert_eq!(futures_executor::block_on(lint_later(3)), 4);
    assert_eq!(futures_executor::block_on(lint_record(&[4, 5])), 2);
    assert!(futures_executor::block_on(lint_boxed(10)).is_err());
    let mut x = 1;
    *lint_bump(&mut x) += 1;
    assert_eq!(x, 3);
    assert_eq!(lint_pair((1, 2), 3), 7);
    std::panic::set_hook(Box::new(|_| {})); // the one panic below is expected
    assert!(std::panic::catch_unwind(|| lint_never("stop")).is_err());
    drop(std::panic::take_hook());

    assert_eq!(lint_caller(false).ok(), Some(1));
    assert!(lint_caller(true).is_err());
    lint_caller_unit(true);
    lint_caller_unit(false);

    let mut cache = Cache::default();
    cache.insert(5).insert(6);
    assert_eq!(cache.get(1), Some(6));
    assert!(cache.try_get(9).is_err());
    assert_eq!(futures_executor::block_on(cache.get_later(0)), Some(5));
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.take(), [5, 6]);
    assert_eq!(World.greet(), "hello world");
    assert_eq!(Wrapper(1.5).show(), "1.5");

    let page = obs_testkit::Page::parse(&obs_runtime::render());
    assert_eq!(count(&page, "lint_lookup", "ok"), 2); // one from `lint_fetch`
    assert_eq!(count(&page, "lint_lookup", "error"), 1);
    assert_eq!(count(&page, "lint_lookup", "timeout"), 1);
    assert_eq!(count(&page, "lint_ping", "ok"), 1);
    assert_eq!(count(&page, "lint_reply", "error"), 1);
    assert_eq!(count(&page, "lint_sum", "ok"), 1);
    assert_eq!(count(&page, "lint_largest", "ok"), 1);
    assert_eq!(count(&page, "lint_parse", "ok"), 1);
    assert_eq!(count(&page, "lint_parse", "error"), 1);
    assert_eq!(count(&page, "lint_fetch", "ok"), 1);
    assert_eq!(count(&page, "lint_later", "ok"), 1);
    assert_eq!(count(&page, "lint_boxed", "timeout"), 1);
    assert_eq!(count(&page, "lint_bump", "ok"), 1);
    assert_eq!(count(&page, "lint_pair", "ok"), 1);
    assert_eq!(count(&page, "lint_never", "panic"), 1);
    assert_eq!(count(&page, "lint_caller", "ok"), 1);
    assert_eq!(count(&page, "lint_caller", "error"), 1);
    assert_eq!(count(&page, "lint_caller_unit", "ok"), 2);
    assert_eq!(count(&page, "Cache::get", "ok"), 3); // one from `try_get`, one from `get_later`
    assert_eq!(count(&page, "Cache::insert", "ok"), 2);
    assert_eq!(count(&page, "Cache::try_get", "error"), 1);
    assert_eq!(count(&page, "Cache::get_later", "ok"), 1);
    assert_eq!(count(&page, "Cache::take", "ok"), 1);
    assert_eq!(count(&page, "Cache::len", "ok"), 0);
    assert!(!page.text().contains("Cache::len"));
    assert_eq!(count(&page, "Greeter::greet", "ok"), 1);
    assert_eq!(count(&page, "World::name", "ok"), 1);
    assert_eq!(count(&page, "Wrapper::show", "ok"), 1);
}
