//! Traces, request/error/duration metrics at `/metrics`, from one attribute per function.
//!
//! ```rust,standalone_crate
//! use obs_runtime::{counted, in_flight, timed, traced};
//!
//! #[derive(Debug)]
//! struct NotFound;
//!
//! #[traced]
//! #[counted]
//! #[timed(buckets = [0.001, 0.01, 0.1, 1.0])]
//! #[in_flight]
//! fn lookup(id: u32) -> Result<&'static str, NotFound> {
//!     if id == 1 { Ok("one") } else { Err(NotFound) }
//! }
//!
//! # fn main() -> Result<(), obs_runtime::Error> {
//! let obs = obs_runtime::Builder::new().port(0).install()?; // serves /metrics
//! lookup(1).unwrap();
//! lookup(2).unwrap_err();
//!
//! let page = obs_runtime::render(); // what GET /metrics answers
//! assert!(page.contains(r#"function_calls_total{function="lookup",module="rust_out",status="ok"} 1"#));
//! assert!(page.contains(r#"function_calls_total{function="lookup",module="rust_out",status="error"} 1"#));
//! assert!(page.contains(r#"function_duration_seconds_bucket{function="lookup",module="rust_out",status="ok",le="+Inf"} 1"#));
//! assert!(page.contains(r#"function_calls_in_flight{function="lookup",module="rust_out"} 0"#));
//! # drop(obs);
//! # Ok(())
//! # }
//! ```
//!
//! # The attributes
//!
//! | attribute | records | series |
//! |---|---|---|
//! | [`#[counted]`](counted) | one count per call | counter `function_calls_total{function, module, status}` |
//! | [`#[timed]`](timed) | the call's duration | histogram `function_duration_seconds{function, module, status}` |
//! | [`#[in_flight]`](in_flight) | calls running now | gauge `function_calls_in_flight{function, module}` |
//! | [`#[traced]`](traced) | a `tracing` span per call | OTel `code.*` fields, status on failure |
//!
//! They stack in any order on one function, and expand together into one wrapper. On an
//! `impl` block they instrument every method with a body; `#[obs_runtime::exclude]` leaves one
//! out.
//!
//! - `function` is the fn name, or `Type::method` for methods (trait impls and generic impls
//!   included, without generic arguments); `module` is the `module_path!()` of the fn.
//! - `status` is `ok`, `error` (the fn returned `Err`), `panic` (it unwound; the panic goes on
//!   unchanged) or `cancelled` (an async fn's future was dropped before it completed). A return
//!   type can choose its own status with [`ReturnStatus`], an error type with [`ErrorStatus`]:
//!   see [`Status`] for the built-in values such as `timeout` and `blocked`. A metric can write
//!   them in its own words, `#[counted(status(ok = "success", error = "failed"))]`, and name the
//!   label otherwise, `status(label = "status_code", ok = "200")`; rules and dashboards follow.
//!
//! Every function shape compiles and keeps its exact signature: generics, lifetimes, `impl
//! Trait`, every receiver, `unsafe` and `extern "C"` fns, async fns, fns returning `impl
//! Future`, `Pin<Box<dyn Future>>` or the `futures` crate's `BoxFuture<'_, T>` (the future is
//! what gets measured), trait default methods.
//! `const fn` is refused: it cannot read a clock or touch a static.
//!
//! # Options
//!
//! | option | on | meaning |
//! |---|---|---|
//! | `name = "…"` | metrics | family name, checked at compile time against Prometheus naming |
//! | `help = "…"` | metrics | the family's `# HELP` text |
//! | `labels(key = "value", …)` | metrics | static labels on the function's series |
//! | `buckets = [..]` | `timed` | bucket bounds in seconds for this function |
//! | `status(ok = "success", …)` | `counted`, `timed` | this metric's status values and label name (`label = "status_code"`): see [`StatusLabel`](catalog::StatusLabel) |
//! | `not_failure = ["not_found", "cancelled"]` | `counted`, `timed`, `traced` | statuses that are not failures of this fn: its span is not marked `ERROR` for them and the rules and dashboard count them with the successes; on one attribute of a stack, it holds for all |
//! | `level = "debug"` | `traced` | span level (default `info`; also `1`..=`5`) |
//! | `name = "…"` | `traced` | span name (default: the fn name; also `"…"` first, `name = CONST`) |
//! | `target = "…"` | `traced` | the span's target (default: the module path) |
//! | `skip(a, b)`, `skip_all` | `traced` | arguments not to record |
//! | `fields(k = expr, k, …)` | `traced` | extra span fields, as in `tracing::span!`; `k` alone is empty, to fill from the body with [`record!`] |
//! | `err`, `ret` | `traced` | events with the error, the returned value: see [`traced`] |
//! | `parent = expr`, `follows_from = expr` | `traced` | the span's parent, its causes |
//! | `crate = path` | all | where the runtime is, for crates that re-export it |
//!
//! # Details
//!
//! - **Recording needs no set-up.** Each instrumented function owns a `static` block of
//!   atomics, registered by the linker, so [`render`] shows every instrumented function (even
//!   the ones never called) with or without [`init`]. Calls made before `init` are counted.
//! - **The hot path** is a thread-local read and a relaxed load and store per metric into
//!   the thread's own cells, plus two clock reads for `#[timed]`:
//!   no hashing, no lookup, no lock, no allocation. Memory per function is fixed.
//! - **The page** is Prometheus text format 0.0.4 with deterministic order, one `# HELP` and
//!   `# TYPE` per family, escaped label values, cumulative buckets. Calls through the `metrics`
//!   facade (`metrics::counter!`, …) appear on it once `init` installed [`ObsRecorder`],
//!   histograms as buckets.
//! - **Exemplars**: a scraper that asks for OpenMetrics (Prometheus does) gets
//!   [`render_openmetrics`]'s page, where each bucket and counter carries the trace and span id
//!   of the latest sampled span that recorded into it, so a dashboard links a latency spike to
//!   a trace. The 0.0.4 page is unchanged. Outside a sampled span the cost is one more
//!   thread-local read.
//! - **The server** is plain threads: no async runtime is needed. See [`Builder`] for the
//!   environment variables it reads.
//! - **The process's own metrics**, once `init` ran: `process_cpu_seconds_total`,
//!   `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
//!   `process_max_fds` and `process_start_time_seconds`, as every Prometheus client library
//!   names them, read from `/proc` at each scrape (Linux; elsewhere they are left out).
//!
//! # Traces and logs
//!
//! [`init`] installs the global `tracing` subscriber: logs on standard error (text or JSON
//! lines that carry the trace and span ids, [`LogFormat`]) and a trace layer that hands
//! finished spans to an exporter thread through a bounded queue. With the `otlp` feature the
//! exporter is OTLP (gRPC or HTTP/protobuf, optionally gzipped, retried as the OTLP
//! specification asks) by default, with the `tls` feature also to `https://` endpoints, and
//! the `propagation` module carries W3C trace context between services; without it, or with `OTEL_TRACES_EXPORTER=console`,
//! spans are printed one line each. See [`Builder`] for the variables and the rules when
//! several installs or another subscriber meet, and [`trace_layer`] and [`log_layer`] for a
//! subscriber of your own.
//!
//! ```
//! use obs_runtime::{LogFormat, TracesExporter, traced};
//!
//! #[traced]
//! fn reserve(sku: u32) -> Result<(), String> {
//!     tracing::info!(sku, "reserving"); // a JSON line with this span's trace_id and span_id
//!     if sku == 0 { Err("no such sku".into()) } else { Ok(()) }
//! }
//!
//! # fn main() -> Result<(), obs_runtime::Error> {
//! let obs = obs_runtime::Builder::new()
//!     .without_server()
//!     .traces_exporter(TracesExporter::Console) // `Otlp`, the default with the feature
//!     .log_format(LogFormat::Json)
//!     .install()?;
//! reserve(7).unwrap();
//! reserve(0).unwrap_err(); // status ERROR, description "no such sku"
//! drop(obs); // flushes: one `span name=reserve …` line per call on stdout
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(unreachable_pub)]

// The folders, in dependency order (each uses only those above it; docs/design.md has the map):
// leaves, otlp, export, exposition, metrics, traces, logs, http, generate, page, live, serve,
// setup.
mod autoref;
mod clock;
mod current;
mod env;
mod error;
mod fmt_safe;
mod json;
mod status;
mod sync;

mod export;
mod exposition;
mod generate;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod live;
mod logs;
mod metrics;
mod otlp;
mod page;
mod serve;
mod setup;
mod traces;

pub use error::Error;
pub use exposition::{CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, Temporality};
pub use generate::{dashboard, rules};
pub use logs::{LogFormat, LogsExporter, log_layer, otlp_log_layer};
pub use metrics::catalog;
pub use metrics::{
    DEFAULT_BUCKETS, DEFAULT_SCHEMA, MAX_SCHEMA, MIN_SCHEMA, OVERFLOW, ObsRecorder, series_limit,
    set_series_limit,
};
pub use otlp::{OtlpCompression, OtlpProtocol};
pub use page::{MetricsExporter, render, render_openmetrics, render_protobuf};
pub use serve::health;
pub use setup::{Builder, DEFAULT_HOST, DEFAULT_PORT, ObsGuard, init};
pub use status::{ErrorStatus, ReturnStatus, Status};
pub use traces::propagation;
pub use traces::{DEFAULT_FLUSH_TIMEOUT, Sampler, TailSampling, TracesExporter, trace_layer};

/// Counts calls: counter `function_calls_total{function, module, status}`.
///
/// ```rust,standalone_crate
/// use obs_runtime::counted;
///
/// #[counted]
/// fn parse(input: &str) -> Result<u32, std::num::ParseIntError> {
///     input.parse()
/// }
///
/// // Options: own family name (must end in `_total`), help text, static labels.
/// #[counted(name = "skill_executions_total", help = "Skill runs.", labels(skill = "weather"))]
/// fn weather() {}
///
/// parse("1").unwrap();
/// parse("x").unwrap_err();
/// weather();
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function_calls_total{function="parse",module="rust_out",status="error"} 1"#));
/// assert!(page.contains("# HELP skill_executions_total Skill runs.\n"));
/// assert!(page.contains(r#"skill_executions_total{function="weather",module="rust_out",skill="weather",status="ok"} 1"#));
/// ```
///
/// A crate that re-exports obs for its users tells the attributes where the runtime is with
/// `crate = path` (the path must resolve where the function is):
///
/// ```
/// mod telemetry {
///     pub use obs_runtime as rt;
/// }
///
/// #[telemetry::rt::counted(crate = telemetry::rt)]
/// #[telemetry::rt::timed(crate = telemetry::rt)]
/// fn via_reexport() {}
///
/// via_reexport();
/// assert!(obs_runtime::render().contains(r#"function="via_reexport""#));
/// ```
#[doc(inline)]
pub use obs_macros::counted;

/// Times calls: histogram `function_duration_seconds{function, module, status}`, in seconds.
///
/// Default buckets run from 10 µs to 10 s ([`DEFAULT_BUCKETS`]: OTel's duration buckets with
/// eight more below 5 ms); `buckets = [..]` sets them for this function only. Bounds must be
/// finite, positive and strictly increasing: the compiler says which one is not.
///
/// ```rust,standalone_crate
/// use obs_runtime::timed;
///
/// #[timed(buckets = [0.001, 0.01, 0.1])]
/// fn fast() {}
///
/// #[timed(name = "db_query_duration_seconds", labels(operation = "select"))]
/// fn select() {}
///
/// fast();
/// select();
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function_duration_seconds_bucket{function="fast",module="rust_out",status="ok",le="0.001"} 1"#));
/// assert!(page.contains(r#"db_query_duration_seconds_count{function="select",module="rust_out",operation="select",status="ok"} 1"#));
/// ```
#[doc(inline)]
pub use obs_macros::timed;

/// Tracks calls running now: gauge `function_calls_in_flight{function, module}`.
///
/// The gauge goes back down on every exit: return, `?`, panic, or a dropped future.
///
/// ```rust,standalone_crate
/// use obs_runtime::in_flight;
///
/// #[in_flight(name = "active_requests")]
/// fn handle() -> i64 {
///     // Inside the call, the gauge shows it.
///     let page = obs_runtime::render();
///     i64::from(page.contains(r#"active_requests{function="handle",module="rust_out"} 1"#))
/// }
///
/// assert_eq!(handle(), 1);
/// assert!(obs_runtime::render().contains(r#"active_requests{function="handle",module="rust_out"} 0"#));
/// ```
#[doc(inline)]
pub use obs_macros::in_flight;

/// Opens a `tracing` span per call, named after the function.
///
/// The span carries OTel's `code.function.name` (fully qualified), `code.file.path` and
/// `code.line.number`, and every argument whose type is `Debug` (others are left out, so
/// arguments need not be `Debug`): integers, floats, `bool`, `&str` and `String` (and
/// references to them) as their own types, so OTLP carries an int attribute rather than the
/// text `"2"`; destructured arguments as each name they bind; `self` when it is `Debug`. On an
/// `Err`, a panic or a cancellation it records `otel.status_code = "ERROR"`,
/// `otel.status_description` (the error's `Display`, `"panic"`, `"cancelled"`) and
/// `error.type`. Async fns enter the span on every poll.
///
/// When the level is disabled the span is never built; the cost is that of a disabled
/// `tracing::instrument`.
///
/// ```
/// use obs_runtime::traced;
///
/// struct Secret(String); // not Debug: never recorded
///
/// #[traced(level = "debug", skip(password), fields(attempt = 1))]
/// fn login(user: &str, password: &Secret) -> Result<(), String> {
///     if password.0.is_empty() { Err(format!("no password for {user}")) } else { Ok(()) }
/// }
///
/// login("ann", &Secret("hunter2".into())).unwrap();
/// ```
///
/// # From `#[tracing::instrument]`
///
/// `#[traced]` takes what `#[instrument]` takes, and records the same span: same name, level,
/// target, parent, fields and enter/exit order, the events of `err` and `ret` inside it.
///
/// | `#[instrument(…)]` | `#[traced(…)]` | notes |
/// |---|---|---|
/// | `level = "debug"`, `level = Level::DEBUG`, `level = 2` | the same | 1 is trace … 5 is error; also `level = debug` |
/// | `name = "…"`, `"…"` first, `name = CONST` | the same | the exported name, no `otel.name` over it |
/// | `target = "…"` | the same | the span's and the events' target, as `Targets` filters see it |
/// | `skip(a, b)`, `skip_all` | the same | `skip(self)` too |
/// | `fields(k = v, k = %v, k = ?v, a.b = v)` | the same | a field named as an argument replaces it |
/// | `fields(k)` | the same | an empty field, to `Span::current().record("k", …)` later |
/// | `err`, `err(Display)`, `err(Debug)`, `err(level = "warn")` | the same | an `ERROR` event `error = %e` on `Err` |
/// | `ret`, `ret(Display)`, `ret(Debug)`, `ret(level = …)` | the same | `return = ?value`; a `Result`'s `Ok` value only |
/// | `parent = expr` | the same | a span, an id, or `None` for a root span |
/// | `follows_from = expr` | the same | an iterator of spans or ids |
/// | — | `ret(field)` | the `Ok` value into the span's `return` field, typed, no event |
/// | — | `crate = path` | where the runtime is |
///
/// What obs adds on every span, with or without options: the OTel status on failure (an
/// `Err`, a panic, a cancelled future), `code.*` fields, typed argument values, and
/// arguments that need not be `Debug`. The status and `err` are independent: a failed call
/// marks its span failed without `err`, and `err` adds the error as an event (a log line)
/// on top. `err` and `ret` events have levels of their own, as in tracing: logged with the
/// span's level off, outside any span; with their level off they cost a match and a load.
///
/// Known differences: `name = CONST` must name a const reachable from inside the fn (not
/// `Self::NAME`), as for `tracing::instrument`; tracing's `log` feature (spans as `log`
/// records when no subscriber is set) does not apply to obs's spans.
///
/// `err`, `ret` and `target`:
///
/// ```
/// use obs_runtime::traced;
///
/// #[traced(target = "billing", err, ret)]
/// fn charge(cents: u64) -> Result<u64, String> {
///     if cents == 0 { Err("nothing to charge".into()) } else { Ok(cents) }
/// }
///
/// #[traced(err(Debug, level = "warn"), ret(Display, level = 2))]
/// async fn refund(cents: u64) -> Result<String, std::num::TryFromIntError> {
///     Ok(format!("{} cents", u32::try_from(cents)?))
/// }
///
/// charge(0).unwrap_err(); // an ERROR event `error = "nothing to charge"` in the span
/// charge(5).unwrap(); // an INFO event `return = 5`
/// # let _ = refund(1);
/// ```
///
/// `level` as a number, `name` as a const or first, `fields` declared empty:
///
/// ```
/// use obs_runtime::traced;
///
/// const SPAN: &str = "checkout.pay";
///
/// #[traced(name = SPAN, level = 2)]
/// fn pay() {}
///
/// #[traced("checkout.ship", fields(tracking))]
/// fn ship() {
///     tracing::Span::current().record("tracking", 42);
/// }
/// # pay(); ship();
/// ```
///
/// `parent` and `follows_from`:
///
/// ```
/// use obs_runtime::traced;
///
/// #[traced(parent = None)] // a root span, whatever span is current
/// fn background() {}
///
/// #[traced(parent = batch, follows_from = [trigger])]
/// fn item(batch: &tracing::Span, trigger: &tracing::Span) {
///     let _ = (batch, trigger);
/// }
/// # background(); item(&tracing::Span::none(), &tracing::Span::none());
/// ```
///
/// `ret(field)`, obs's own: the value in the span, where a trace view shows it.
///
/// ```
/// use obs_runtime::traced;
///
/// #[traced(ret(field))]
/// fn total(items: &[u32]) -> u32 {
///     items.iter().sum() // the span gets `return = 6`, an int
/// }
/// # assert_eq!(total(&[1, 2, 3]), 6);
/// ```
#[doc(inline)]
pub use obs_macros::traced;

/// Leaves a method out when its `impl` block carries an obs attribute.
///
/// ```
/// use obs_runtime::{counted, exclude};
///
/// struct Cache;
///
/// #[counted]
/// impl Cache {
///     fn get(&self) -> u8 { 1 }
///
///     #[exclude]
///     fn len(&self) -> usize { 0 }
/// }
///
/// Cache.get();
/// Cache.len();
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function="Cache::get""#));
/// assert!(!page.contains(r#"function="Cache::len""#));
/// ```
#[doc(inline)]
pub use obs_macros::exclude;

/// Records a value into a field of the enclosing `#[traced]` call's span, checked at compile
/// time: a field the span does not declare is an error, where `Span::record` drops it silently.
///
/// The fields are the span's recorded arguments and those of `fields(..)`; declare one with no
/// value (`fields(ticket)`) to fill it from the body. The value is written as the arguments are:
/// numbers, bools and strings typed, anything else `Debug`; `%value` and `?value` force
/// `Display` or `Debug`. It goes into the call's own span even inside a span the body opened,
/// and nothing is evaluated when the span's level is off.
///
/// ```
/// use obs_runtime::{record, traced};
///
/// #[traced(fields(ticket, seat.row))]
/// fn book(seat: u32) -> u64 {
///     let ticket = 1000 + u64::from(seat);
///     record!(ticket = ticket);
///     record!(seat.row = %(seat / 10));
///     ticket
/// }
///
/// assert_eq!(book(17), 1017);
/// ```
///
/// A field the span does not declare does not compile:
///
/// ```compile_fail
/// #[obs_runtime::traced(fields(ticket))]
/// fn book(seat: u32) -> u64 {
///     obs_runtime::record!(tikcet = 1); // `tikcet` is not a field of this span
///     u64::from(seat)
/// }
/// ```
///
/// Outside a `#[traced]` fn there is no span to record into, and rustc reports that
/// `__obs_record` is not found.
#[macro_export]
macro_rules! record {
    ($($field:tt)*) => {
        // Defined by `#[traced]` in the body of each fn that uses `record!`, from the span's
        // declared fields.
        __obs_record!($($field)*)
    };
}

/// What obs's own crates use: the expansion of the attributes, obs-macros' tests and the
/// fuzz targets. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private;
