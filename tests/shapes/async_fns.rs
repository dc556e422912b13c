//! 11. Async: `async fn`, `-> impl Future`, `-> Pin<Box<dyn Future>>`, traits; `Send` kept.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_executor::block_on;
use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{YieldOnce, assert_calls, assert_send, count, in_flight_now, render, setup};

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
    assert_eq!(in_flight_now(&render(), "boxed_alias"), 1);
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
    let page = render();
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
    assert_eq!(count(&render(), "Client::get", "ok"), 0);
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
