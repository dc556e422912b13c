//! Trace export: settings, the background exporter every finished span goes through, and the
//! counts of spans exported and dropped that `/metrics` shows.
//!
//! One exporter (a *pipeline*) is active at a time: the one the latest
//! [`Builder::install`](crate::Builder::install) started. The calling thread only ever does a
//! `try_send` into the pipeline's bounded queue; a worker thread batches, exports and counts. A
//! full queue drops the span and counts it, so a slow or dead collector never blocks the
//! application. Dropping the guard stops the pipeline and waits, at most the flush timeout,
//! for the queue to drain.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tracing_subscriber::filter::Targets;

use crate::config::Error;
use crate::render::{Collector, Kind, Labels};

/// Where finished spans go: `OTEL_TRACES_EXPORTER`, or
/// [`Builder::traces_exporter`](crate::Builder::traces_exporter).
///
/// ```
/// let obs = obs_runtime::Builder::new()
///     .without_server()
///     .traces_exporter(obs_runtime::TracesExporter::None) // metrics and logs only
///     .install()?;
/// # Ok::<(), obs_runtime::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TracesExporter {
    /// OTLP to a collector, Jaeger, Tempo…: `otlp`, the default when obs-runtime is built
    /// with its `otlp` feature. Without the feature, asking for it is an error.
    Otlp,
    /// One line per finished span on standard output: `console`. Needs no feature and no
    /// backend.
    Console,
    /// No export: `none`, the default without the `otlp` feature.
    None,
}

/// The OTLP transport: `OTEL_EXPORTER_OTLP_PROTOCOL`, or
/// [`Builder::otlp_protocol`](crate::Builder::otlp_protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// gRPC (`grpc`), usually port 4317.
    Grpc,
    /// Protobuf over HTTP (`http/protobuf`), usually port 4318: the default, as the
    /// specification asks.
    HttpProtobuf,
}

/// Which traces are kept: `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG` for the ratio),
/// or [`Builder::sampler`](crate::Builder::sampler).
///
/// The decision is made once per trace, at its root, from the trace id, so every service of
/// a trace that uses a parent-based sampler keeps or drops the same traces.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Sampler {
    /// Every span: `always_on`.
    AlwaysOn,
    /// No span: `always_off`.
    AlwaysOff,
    /// This fraction of traces, from 0.0 to 1.0, chosen by trace id: `traceidratio`.
    TraceIdRatio(f64),
    /// The caller's decision when there is a parent, else every span: `parentbased_always_on`,
    /// the default.
    ParentBasedAlwaysOn,
    /// The caller's decision when there is a parent, else none: `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// The caller's decision when there is a parent, else this fraction:
    /// `parentbased_traceidratio`.
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    /// Whether a span is sampled, given its parent's decision (`None` for a root) and its
    /// trace id. The ratio test is OpenTelemetry's: the last 8 bytes of the trace id, as a
    /// big-endian number shifted right by one, below `ratio * 2^63`.
    #[cfg_attr(feature = "otlp", allow(dead_code))]
    pub(crate) fn decide(self, parent: Option<bool>, trace_id: [u8; 16]) -> bool {
        let ratio = |r: f64| {
            if r >= 1.0 {
                return true;
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let bound = (r.max(0.0) * (1u64 << 63) as f64) as u64;
            let mut low = [0u8; 8];
            low.copy_from_slice(&trace_id[8..]);
            (u64::from_be_bytes(low) >> 1) < bound
        };
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(r) => ratio(r),
            Sampler::ParentBasedAlwaysOn => parent.unwrap_or(true),
            Sampler::ParentBasedAlwaysOff => parent.unwrap_or(false),
            Sampler::ParentBasedTraceIdRatio(r) => parent.unwrap_or_else(|| ratio(r)),
        }
    }

    fn check(self) -> Result<Self, String> {
        match self {
            Sampler::TraceIdRatio(r) | Sampler::ParentBasedTraceIdRatio(r)
                if !(0.0..=1.0).contains(&r) =>
            {
                Err(format!("the ratio must be from 0.0 to 1.0, not {r}"))
            }
            other => Ok(other),
        }
    }
}

/// Trace settings made in code; each unset one is read from the environment at install.
#[derive(Clone, Default)]
pub(crate) struct TraceSettings {
    pub(crate) exporter: Option<TracesExporter>,
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<OtlpProtocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) flush_timeout: Option<Duration>,
    pub(crate) filter: Option<String>,
}

/// Header values are credentials: only their names are shown.
impl std::fmt::Debug for TraceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TraceSettings")
            .field("exporter", &self.exporter)
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("header_names", &header_names)
            .field("resource", &self.resource)
            .field("sampler", &self.sampler)
            .field("flush_timeout", &self.flush_timeout)
            .field("filter", &self.filter)
            .finish()
    }
}

/// The default time [`ObsGuard`](crate::ObsGuard)'s drop waits for pending spans.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Batching of the worker: the `OTEL_BSP_*` variables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Batching {
    pub(crate) max_queue: usize,
    pub(crate) max_batch: usize,
    pub(crate) delay: Duration,
    pub(crate) export_timeout: Duration,
}

/// Everything a pipeline needs, validated.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct TraceConfig {
    pub(crate) exporter: TracesExporter,
    /// The full URL spans are sent to.
    pub(crate) endpoint: String,
    pub(crate) protocol: OtlpProtocol,
    pub(crate) headers: Vec<(String, String)>,
    /// The transport's own timeout, `OTEL_EXPORTER_OTLP_TIMEOUT`.
    pub(crate) otlp_timeout: Duration,
    pub(crate) service_name: String,
    /// Resource attributes other than `service.name`.
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) sampler: Sampler,
    pub(crate) batch: Batching,
    pub(crate) flush_timeout: Duration,
    pub(crate) filter: Targets,
}

type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidEnv {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn setting(setting: &'static str, value: impl std::fmt::Debug, reason: impl Into<String>) -> Error {
    Error::InvalidSetting {
        setting,
        value: format!("{value:?}"),
        reason: reason.into(),
    }
}

/// The first of `vars` that is set, with its name.
fn first(var: Var<'_>, vars: &[&'static str]) -> Option<(&'static str, String)> {
    vars.iter()
        .find_map(|name| var(name).map(|value| (*name, value)))
}

/// A number of milliseconds.
fn millis(var: Var<'_>, name: &'static str, default: Duration) -> Result<Duration, Error> {
    match var(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| invalid(name, &value, "expected a whole number of milliseconds")),
    }
}

fn count(var: Var<'_>, name: &'static str, default: usize) -> Result<usize, Error> {
    match var(name) {
        None => Ok(default),
        Some(value) => match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid(name, &value, "expected a whole number above 0")),
        },
    }
}

/// `%XX` escapes decoded, as `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`
/// values are written.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `key=value,key=value`, values percent-decoded. `Err` says what is wrong.
pub(crate) fn parse_pairs(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, raw) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not key=value"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{item:?} has an empty key"));
        }
        let decoded = percent_decode(raw.trim())
            .ok_or_else(|| format!("the value of {key:?} has a bad %-escape"))?;
        pairs.push((key.to_owned(), decoded));
    }
    Ok(pairs)
}

fn parse_exporter(name: &'static str, value: &str) -> Result<TracesExporter, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "otlp" => Ok(TracesExporter::Otlp),
        "console" | "logging" => Ok(TracesExporter::Console),
        "none" => Ok(TracesExporter::None),
        v if v.contains(',') => Err(invalid(
            name,
            value,
            "obs exports to one place at a time: otlp, console or none",
        )),
        _ => Err(invalid(name, value, "expected otlp, console or none")),
    }
}

fn parse_protocol(name: &'static str, value: &str) -> Result<OtlpProtocol, Error> {
    match value.trim() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "http/json" => Err(invalid(
            name,
            value,
            "http/json is not supported: use grpc or http/protobuf",
        )),
        _ => Err(invalid(name, value, "expected grpc or http/protobuf")),
    }
}

fn parse_sampler(var: Var<'_>) -> Result<Sampler, Error> {
    const NAME: &str = "OTEL_TRACES_SAMPLER";
    const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
    let Some(value) = var(NAME) else {
        return Ok(Sampler::ParentBasedAlwaysOn);
    };
    let ratio = || -> Result<f64, Error> {
        match var(ARG) {
            None => Ok(1.0),
            Some(arg) => match arg.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(invalid(ARG, &arg, "expected a ratio from 0.0 to 1.0")),
            },
        }
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "always_on" => Ok(Sampler::AlwaysOn),
        "always_off" => Ok(Sampler::AlwaysOff),
        "traceidratio" => Ok(Sampler::TraceIdRatio(ratio()?)),
        "parentbased_always_on" => Ok(Sampler::ParentBasedAlwaysOn),
        "parentbased_always_off" => Ok(Sampler::ParentBasedAlwaysOff),
        "parentbased_traceidratio" => Ok(Sampler::ParentBasedTraceIdRatio(ratio()?)),
        _ => Err(invalid(
            NAME,
            &value,
            "expected always_on, always_off, traceidratio, parentbased_always_on, \
             parentbased_always_off or parentbased_traceidratio",
        )),
    }
}

/// A `target=level,…` filter (`tracing_subscriber`'s `Targets` syntax).
pub(crate) fn parse_filter(value: &str) -> Result<Targets, String> {
    if value.contains(['[', '{']) {
        return Err(
            "span filters ([span{field=value}]) are not supported: use target=level \
                    pairs such as info,my_crate=debug"
                .into(),
        );
    }
    value.trim().parse::<Targets>().map_err(|e| {
        format!(
            "{e}: expected a level (error, warn, info, debug, trace, off) or target=level \
             pairs such as info,my_crate=debug (span filters in [] are not supported)"
        )
    })
}

/// `unknown_service:<executable name>`, the specification's default service name.
fn unknown_service() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("unknown_service:{exe}")
}

impl TraceConfig {
    /// Validates `settings`, reading every unset one from `var`.
    pub(crate) fn resolve(
        settings: &TraceSettings,
        var: Var<'_>,
        service_name: Option<String>,
    ) -> Result<Self, Error> {
        let disabled =
            var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let exporter = match settings.exporter {
            Some(exporter) => exporter,
            None if disabled => TracesExporter::None,
            None => match var("OTEL_TRACES_EXPORTER") {
                Some(value) => parse_exporter("OTEL_TRACES_EXPORTER", &value)?,
                None if cfg!(feature = "otlp") => TracesExporter::Otlp,
                None => TracesExporter::None,
            },
        };
        if exporter == TracesExporter::Otlp && !cfg!(feature = "otlp") {
            let why = "obs-runtime was built without its `otlp` feature: enable it \
                       (obs-runtime = { features = [\"otlp\"] }), or use console or none";
            return Err(match settings.exporter {
                Some(e) => setting("Builder::traces_exporter", e, why),
                None => invalid(
                    "OTEL_TRACES_EXPORTER",
                    &var("OTEL_TRACES_EXPORTER").unwrap_or_default(),
                    why,
                ),
            });
        }

        let protocol = match settings.protocol {
            Some(p) => p,
            None => match first(
                var,
                &[
                    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                ],
            ) {
                Some((name, value)) => parse_protocol(name, &value)?,
                None => OtlpProtocol::HttpProtobuf,
            },
        };
        let endpoint = Self::endpoint(settings, var, protocol, exporter)?;

        let headers = Self::headers(settings, var)?;
        let (service_name, resource) = Self::resource(settings, var, service_name)?;
        let sampler = match settings.sampler {
            Some(s) => s
                .check()
                .map_err(|why| setting("Builder::sampler", s, why))?,
            None => parse_sampler(var)?,
        };
        let batch = Batching {
            max_queue: count(var, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)?,
            max_batch: count(var, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?,
            delay: millis(var, "OTEL_BSP_SCHEDULE_DELAY", Duration::from_secs(5))?,
            export_timeout: millis(var, "OTEL_BSP_EXPORT_TIMEOUT", Duration::from_secs(30))?,
        };
        let otlp_timeout = match first(
            var,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ],
        ) {
            None => Duration::from_secs(10),
            Some((name, _)) => millis(var, name, Duration::from_secs(10))?,
        };
        let filter = match &settings.filter {
            Some(f) => parse_filter(f).map_err(|why| setting("Builder::traces_filter", f, why))?,
            None => match var("OBS_TRACES_FILTER") {
                None => parse_filter("info").unwrap_or_default(),
                Some(f) => parse_filter(&f).map_err(|why| invalid("OBS_TRACES_FILTER", &f, why))?,
            },
        };
        Ok(TraceConfig {
            exporter,
            endpoint,
            protocol,
            headers,
            otlp_timeout,
            service_name,
            resource,
            sampler,
            batch: Batching {
                max_batch: batch.max_batch.min(batch.max_queue),
                ..batch
            },
            flush_timeout: settings.flush_timeout.unwrap_or(DEFAULT_FLUSH_TIMEOUT),
            filter,
        })
    }

    /// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, then the builder's, which replace the same names.
    fn headers(settings: &TraceSettings, var: Var<'_>) -> Result<Vec<(String, String)>, Error> {
        let mut headers = match first(
            var,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "OTEL_EXPORTER_OTLP_HEADERS",
            ],
        ) {
            None => Vec::new(),
            // Headers carry credentials: the value is not repeated in the message.
            Some((name, value)) => parse_pairs(&value).map_err(|why| {
                invalid(
                    name,
                    "<hidden>",
                    format!("{why}; expected key=value,key=value (values %-encoded)"),
                )
            })?,
        };
        for (key, value) in &settings.headers {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
            headers.push((key.clone(), value.clone()));
        }
        for (key, value) in &headers {
            check_header(key, value).map_err(|why| {
                if settings.headers.iter().any(|(k, _)| k == key) {
                    setting("Builder::otlp_header", key, why)
                } else {
                    invalid("OTEL_EXPORTER_OTLP_HEADERS", "<hidden>", why)
                }
            })?;
        }

        Ok(headers)
    }

    /// The service name and the other resource attributes.
    fn resource(
        settings: &TraceSettings,
        var: Var<'_>,
        service_name: Option<String>,
    ) -> Result<(String, Vec<(String, String)>), Error> {
        let mut resource = match var("OTEL_RESOURCE_ATTRIBUTES") {
            None => Vec::new(),
            Some(value) => parse_pairs(&value).map_err(|why| {
                invalid(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    &value,
                    format!("{why}; expected key=value,key=value (values %-encoded)"),
                )
            })?,
        };
        for (key, value) in &settings.resource {
            resource.retain(|(k, _)| k != key);
            resource.push((key.clone(), value.clone()));
        }
        let from_attributes = resource
            .iter()
            .rev()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.clone());
        resource.retain(|(k, _)| k != "service.name");
        let service_name = service_name
            .or(from_attributes)
            .unwrap_or_else(unknown_service);

        Ok((service_name, resource))
    }

    /// The URL spans are posted to: code, then `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as is),
    /// then `OTEL_EXPORTER_OTLP_ENDPOINT` (a base: `/v1/traces` is added for HTTP), then the
    /// protocol's default on localhost.
    fn endpoint(
        settings: &TraceSettings,
        var: Var<'_>,
        protocol: OtlpProtocol,
        exporter: TracesExporter,
    ) -> Result<String, Error> {
        let http = protocol == OtlpProtocol::HttpProtobuf;
        let base = |url: &str| {
            if http {
                format!("{}/v1/traces", url.trim().trim_end_matches('/'))
            } else {
                url.trim().to_owned()
            }
        };
        let (source, url) = if let Some(url) = &settings.endpoint {
            // In code, a bare `http://host:port` is a base, a URL with a path is used as is.
            let has_path = url
                .split_once("://")
                .is_some_and(|(_, rest)| rest.trim_end_matches('/').contains('/'));
            let url = if has_path {
                url.trim().to_owned()
            } else {
                base(url)
            };
            (None, url)
        } else if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            (
                Some("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
                url.trim().to_owned(),
            )
        } else if let Some(url) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            (Some("OTEL_EXPORTER_OTLP_ENDPOINT"), base(&url))
        } else if http {
            (None, "http://localhost:4318/v1/traces".to_owned())
        } else {
            (None, "http://localhost:4317".to_owned())
        };
        if exporter != TracesExporter::Otlp {
            return Ok(url);
        }
        check_endpoint(&url).map_err(|why| match source {
            Some(name) => invalid(name, var(name).as_deref().unwrap_or(&url), why),
            None => setting(
                "Builder::otlp_endpoint",
                settings.endpoint.as_deref().unwrap_or(&url),
                why,
            ),
        })?;
        Ok(url)
    }
}

/// An endpoint obs can send to: `http://host[:port][/path]`.
fn check_endpoint(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("expected a URL such as http://localhost:4318".into());
    };
    match scheme {
        "http" => {}
        "https" => {
            return Err(
                "https needs TLS, which obs-runtime does not build in: send to a \
                 local collector over http://, and let it forward over TLS"
                    .into(),
            );
        }
        _ => return Err(format!("the scheme must be http, not {scheme:?}")),
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err("the URL names no host".into());
    }
    #[cfg(feature = "otlp")]
    url.parse::<http::Uri>().map_err(|e| e.to_string())?;
    Ok(())
}

fn check_header(key: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if key.is_empty() || !key.chars().all(token) {
        return Err(format!("{key:?} is not a valid header name"));
    }
    if value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(format!(
            "the value of {key:?} has characters a header cannot carry"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The active pipeline.
// ---------------------------------------------------------------------------------------------

/// What the queue carries: the SDK's finished span with the `otlp` feature, a console line
/// without it.
#[cfg(feature = "otlp")]
pub(crate) type Item = opentelemetry_sdk::trace::SpanData;
/// What the queue carries: the SDK's finished span with the `otlp` feature, a console line
/// without it.
#[cfg(not(feature = "otlp"))]
pub(crate) type Item = crate::console::Line;

/// Where a worker sends its batches. Built on the worker's own thread.
pub(crate) trait Sink {
    /// Sends `batch`, giving up after `timeout`.
    fn export(&mut self, batch: Vec<Item>, timeout: Duration) -> Result<(), String>;
    /// Where it sends, for messages.
    fn target(&self) -> String;
}

/// The active pipeline's calling-thread side: the queue and the sampler.
pub(crate) struct Pipeline {
    queue: SyncSender<Item>,
    pub(crate) sampler: Sampler,
}

static ACTIVE: RwLock<Option<Arc<Pipeline>>> = RwLock::new(None);
/// `ACTIVE.is_some()`, read without the lock by the layer filters.
static IS_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Set once a pipeline has run: the counters are on the page from then on.
static EVER_ACTIVE: AtomicBool = AtomicBool::new(false);

static EXPORTED: AtomicU64 = AtomicU64::new(0);
static DROPPED_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
static DROPPED_EXPORT_FAILED: AtomicU64 = AtomicU64::new(0);
static DROPPED_SHUTDOWN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on exporter threads: what they do is never traced, so exporting cannot feed
    /// itself.
    static IN_EXPORTER: Cell<bool> = const { Cell::new(false) };
}

/// Whether a pipeline is active and this thread is not one of its exporters.
#[inline]
pub(crate) fn is_active() -> bool {
    IS_ACTIVE.load(Ordering::Relaxed) && !IN_EXPORTER.with(Cell::get)
}

/// Whether a pipeline is active (for callsite interest, which holds for every thread).
#[inline]
pub(crate) fn any_active() -> bool {
    IS_ACTIVE.load(Ordering::Relaxed)
}

/// Marks this thread as an exporter thread.
pub(crate) fn mark_exporter_thread() {
    IN_EXPORTER.with(|c| c.set(true));
}

/// Runs `f` on the active pipeline, if there is one.
pub(crate) fn with_active<R>(f: impl FnOnce(&Pipeline) -> R) -> Option<R> {
    let active = ACTIVE.read().unwrap_or_else(PoisonError::into_inner);
    active.as_deref().map(f)
}

/// Hands a finished span to the active pipeline: never blocks. A full queue drops it and
/// counts it.
pub(crate) fn submit(item: Item) {
    let active = ACTIVE.read().unwrap_or_else(PoisonError::into_inner);
    if let Some(pipeline) = active.as_deref() {
        match pipeline.queue.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                DROPPED_QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                DROPPED_SHUTDOWN.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Replaces the active pipeline with `pipeline`, if `only_if` is `None` or is the active one.
fn set_active(pipeline: Option<Arc<Pipeline>>, only_if: Option<&Arc<Pipeline>>) {
    let mut active = ACTIVE.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(expected) = only_if
        && !active.as_ref().is_some_and(|a| Arc::ptr_eq(a, expected))
    {
        return;
    }
    IS_ACTIVE.store(pipeline.is_some(), Ordering::Relaxed);
    let old = std::mem::replace(&mut *active, pipeline);
    drop(active);
    // Dropped outside the lock: the last reference closes the queue.
    drop(old);
    // Layer filters answer from `IS_ACTIVE`: have every callsite asked again.
    tracing::callsite::rebuild_interest_cache();
}

/// Stops the pipeline it was made for when dropped, waiting at most the flush timeout.
pub(crate) struct TraceGuard {
    pipeline: Option<Arc<Pipeline>>,
    shutdown: Arc<Shutdown>,
    done: Receiver<()>,
    flush_timeout: Duration,
}

impl std::fmt::Debug for TraceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceGuard")
            .field("flush_timeout", &self.flush_timeout)
            .finish_non_exhaustive()
    }
}

impl TraceGuard {
    /// Makes this guard's pipeline the one spans go to.
    pub(crate) fn activate(&self) {
        if let Some(pipeline) = &self.pipeline {
            EVER_ACTIVE.store(true, Ordering::Relaxed);
            set_active(Some(Arc::clone(pipeline)), None);
        }
    }
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        let Some(ours) = self.pipeline.take() else {
            return;
        };
        let deadline = Instant::now() + self.flush_timeout;
        *self
            .shutdown
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(deadline);
        // Taken out under the write lock if it is the active one: once it is out, no caller
        // can still be using it, and dropping the last reference closes the queue.
        set_active(None, Some(&ours));
        drop(ours);
        // The worker drains the queue, then says so; it gives up itself at the deadline.
        let _ = self.done.recv_timeout(self.flush_timeout);
    }
}

/// Shared between a guard and its worker.
#[derive(Default)]
struct Shutdown {
    /// When the guard stops waiting: set when it is dropped.
    deadline: Mutex<Option<Instant>>,
}

impl Shutdown {
    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the exporter `config` asks for, if any: not active until
/// [`TraceGuard::activate`].
pub(crate) fn start_exporter(config: &TraceConfig) -> Result<Option<TraceGuard>, Error> {
    if config.exporter == TracesExporter::None {
        return Ok(None);
    }
    #[cfg(feature = "otlp")]
    let build = {
        let config = config.clone();
        move || crate::otlp::build_sink(&config)
    };
    #[cfg(not(feature = "otlp"))]
    let build = || Ok(Box::new(crate::console::ConsoleSink) as Box<dyn Sink>);
    start(config, build).map(Some)
}

/// Starts a worker thread for `config`: `build` makes its sink on that thread. Returns once
/// the sink is built (or failed to be). The pipeline is not active until
/// [`TraceGuard::activate`].
pub(crate) fn start(
    config: &TraceConfig,
    build: impl FnOnce() -> Result<Box<dyn Sink>, Error> + Send + 'static,
) -> Result<TraceGuard, Error> {
    let (queue, spans) = std::sync::mpsc::sync_channel::<Item>(config.batch.max_queue);
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), Error>>(1);
    let (done_tx, done) = std::sync::mpsc::sync_channel::<()>(1);
    let shutdown = Arc::new(Shutdown::default());
    let worker_shutdown = Arc::clone(&shutdown);
    let batch = config.batch;
    std::thread::Builder::new()
        .name("obs-traces".into())
        .spawn(move || {
            mark_exporter_thread();
            let sink = match build() {
                Ok(sink) => {
                    let _ = ready_tx.send(Ok(()));
                    sink
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            Worker {
                sink,
                batch,
                shutdown: worker_shutdown,
                failing: false,
            }
            .run(&spans);
            let _ = done_tx.send(());
        })
        .map_err(|e| Error::Exporter {
            reason: format!("cannot start the trace exporter thread: {e}"),
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(Error::Exporter {
                reason: "the trace exporter thread stopped while starting".into(),
            });
        }
    }
    Ok(TraceGuard {
        pipeline: Some(Arc::new(Pipeline {
            queue,
            sampler: config.sampler,
        })),
        shutdown,
        done,
        flush_timeout: config.flush_timeout,
    })
}

struct Worker {
    sink: Box<dyn Sink>,
    batch: Batching,
    shutdown: Arc<Shutdown>,
    /// The last export failed: the next success is reported.
    failing: bool,
}

impl Worker {
    fn run(&mut self, spans: &Receiver<Item>) {
        let mut pending: Vec<Item> = Vec::with_capacity(self.batch.max_batch);
        let mut last = Instant::now();
        loop {
            let wait = self.batch.delay.saturating_sub(last.elapsed());
            match spans.recv_timeout(wait) {
                Ok(item) => {
                    pending.push(item);
                    if pending.len() >= self.batch.max_batch {
                        self.export(&mut pending);
                        last = Instant::now();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if !pending.is_empty() {
                        self.export(&mut pending);
                    }
                    last = Instant::now();
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // The guard was dropped: send what is left, in batches, until the deadline.
        loop {
            if pending.is_empty() {
                break;
            }
            if self.past_deadline() {
                DROPPED_SHUTDOWN.fetch_add(len_u64(&pending), Ordering::Relaxed);
                pending.clear();
                break;
            }
            let rest = if pending.len() > self.batch.max_batch {
                pending.split_off(self.batch.max_batch)
            } else {
                Vec::new()
            };
            self.export(&mut pending);
            pending = rest;
        }
    }

    fn past_deadline(&self) -> bool {
        self.shutdown
            .deadline()
            .is_some_and(|d| Instant::now() >= d)
    }

    fn export(&mut self, pending: &mut Vec<Item>) {
        let batch = std::mem::take(pending);
        let n = len_u64(&batch);
        let timeout = match self.shutdown.deadline() {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(self.batch.export_timeout),
            None => self.batch.export_timeout,
        };
        // A panicking exporter loses its batch, not the thread.
        let sink = &mut self.sink;
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.export(batch, timeout)))
                .unwrap_or_else(|_| Err("the exporter panicked".into()));
        match result {
            Ok(()) => {
                EXPORTED.fetch_add(n, Ordering::Relaxed);
                if self.failing {
                    self.failing = false;
                    tracing::info!(
                        target: "obs_runtime",
                        "exporting spans to {} works again",
                        self.sink.target()
                    );
                }
            }
            Err(e) => {
                DROPPED_EXPORT_FAILED.fetch_add(n, Ordering::Relaxed);
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(
                        target: "obs_runtime",
                        "cannot export spans to {}: {e}; spans are dropped until it answers \
                         (counted in obs_spans_dropped_total)",
                        self.sink.target()
                    );
                }
            }
        }
    }
}

fn len_u64<T>(v: &[T]) -> u64 {
    u64::try_from(v.len()).unwrap_or(u64::MAX)
}

/// `obs_spans_exported_total` and `obs_spans_dropped_total{reason}`, once a pipeline ran.
pub(crate) fn collect(out: &mut Collector) {
    if !EVER_ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    out.family(
        "obs_spans_exported_total",
        Kind::Counter,
        "Finished spans the trace exporter sent.",
    )
    .counter(&Labels::empty(), EXPORTED.load(Ordering::Relaxed));
    let family = out.family(
        "obs_spans_dropped_total",
        Kind::Counter,
        "Finished spans the trace exporter dropped: queue_full (the exporter fell behind), \
         export_failed (the backend refused or did not answer), shutdown (still queued when \
         the flush timeout ran out).",
    );
    for (reason, count) in [
        ("export_failed", &DROPPED_EXPORT_FAILED),
        ("queue_full", &DROPPED_QUEUE_FULL),
        ("shutdown", &DROPPED_SHUTDOWN),
    ] {
        let mut labels = Labels::empty();
        labels.push("reason", reason);
        family.counter(&labels, count.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn resolve(pairs: &[(&str, &str)]) -> Result<TraceConfig, Error> {
        TraceConfig::resolve(&TraceSettings::default(), &env(pairs), None)
    }

    #[test]
    fn ratio_sampling_follows_the_trace_id() {
        let low = [0u8; 16];
        let mut high = [0u8; 16];
        high[8] = 0xff;
        assert!(Sampler::TraceIdRatio(0.5).decide(None, low));
        assert!(!Sampler::TraceIdRatio(0.5).decide(None, high));
        assert!(!Sampler::TraceIdRatio(0.0).decide(None, low));
        assert!(Sampler::TraceIdRatio(1.0).decide(None, high));
        assert!(Sampler::ParentBasedTraceIdRatio(0.0).decide(Some(true), low));
        assert!(!Sampler::ParentBasedAlwaysOn.decide(Some(false), low));
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        for (var, value) in [
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
            ("OBS_TRACES_FILTER", "info,[span]=debug"),
        ] {
            let err = resolve(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
        let err = resolve(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
    }

    #[test]
    fn header_values_are_never_shown() {
        let settings = TraceSettings {
            headers: vec![("api-key".into(), "s3cret".into())],
            ..TraceSettings::default()
        };
        let text = format!("{settings:?}");
        assert!(
            text.contains("api-key") && !text.contains("s3cret"),
            "{text}"
        );
    }

    #[test]
    fn otel_sdk_disabled_turns_export_off() {
        let c = resolve(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ])
        .unwrap();
        assert_eq!(c.exporter, TracesExporter::None);
    }

    #[test]
    fn headers_are_never_repeated_in_errors() {
        let err = resolve(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer s3cret,x",
        )])
        .unwrap_err()
        .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn endpoints_follow_the_specification() {
        let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(c.endpoint, "http://collector:4318/v1/traces");
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://other:9999/custom",
            ),
        ])
        .unwrap();
        assert_eq!(c.endpoint, "http://other:9999/custom");
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(c.endpoint, "http://collector:4317");
        assert_eq!(
            resolve(&[]).unwrap().endpoint,
            "http://localhost:4318/v1/traces"
        );
        let err = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://x:4318")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && err.contains("TLS"),
            "{err}"
        );
    }

    #[test]
    fn resource_attributes_are_decoded_and_service_name_taken_out() {
        let c = resolve(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod,service.name=from%20attrs",
            ),
        ])
        .unwrap();
        assert_eq!(c.service_name, "from attrs");
        assert_eq!(
            c.resource,
            vec![("deployment.environment.name".into(), "prod".into())]
        );
    }
}
