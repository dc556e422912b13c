//! `init()`, its builder, and the guard that keeps the exporters running.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::logs::LogFormat;
use crate::recorder::BucketMatch;
use crate::render::{Collector, Kind, Labels};
use crate::server::{Auth, Server};
use crate::subscriber::LogConfig;
use crate::traces::{
    OtlpProtocol, Sampler, TraceConfig, TraceGuard, TraceSettings, TracesExporter, parse_filter,
};

/// What can go wrong in [`init`] or [`Builder::install`]. Every message names the variable,
/// value or setting at fault and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// The host and port do not name an address.
    #[error(
        "cannot resolve {host:?} port {port} for the /metrics server (set OTEL_EXPORTER_PROMETHEUS_HOST to an IP address or a resolvable name)"
    )]
    InvalidAddress {
        /// The host asked for.
        host: String,
        /// The port asked for.
        port: u16,
    },
    /// The address is taken or not ours to bind.
    #[error(
        "cannot serve /metrics on {addr}: {source} (is another process using the port? set OTEL_EXPORTER_PROMETHEUS_PORT to a free port, or 0 for any)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The server thread could not be started.
    #[error("cannot start the /metrics server thread: {0}")]
    Thread(#[source] std::io::Error),
    /// Another `metrics` recorder was installed first.
    #[error(
        "another `metrics` recorder is already installed, so metrics::counter!/gauge!/histogram! calls cannot reach /metrics (remove the other install, or call Builder::without_recorder())"
    )]
    RecorderTaken,
    /// A generated file asked for by an environment variable could not be written.
    #[error("cannot write {path:?} (asked for by {var}): {source}")]
    Export {
        /// The variable, `OBS_EXPORT_RULES` or `OBS_EXPORT_DASHBOARD`.
        var: &'static str,
        /// The path it holds.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// Histogram buckets given to the builder are unusable.
    #[error("histogram buckets for {name:?} are invalid: {reason}")]
    InvalidBuckets {
        /// The metric name or prefix.
        name: String,
        /// What is wrong with them.
        reason: String,
    },
    /// A value given to a [`Builder`] method cannot be used.
    #[error("{setting}({value}) is invalid: {reason}")]
    InvalidSetting {
        /// The method, as `Builder::otlp_endpoint`.
        setting: &'static str,
        /// The value given, as Rust writes it.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
    /// Another global `tracing` subscriber was installed first, so obs cannot add its log and
    /// trace layers to the process's subscriber.
    #[error(
        "another global `tracing` subscriber is already installed, so obs cannot install its logs and trace export (call Builder::without_subscriber() and add obs_runtime::trace_layer() and obs_runtime::log_layer() to your subscriber, or remove the other install)"
    )]
    SubscriberTaken,
    /// The trace exporter could not be started.
    #[error("cannot start the trace exporter: {reason}")]
    Exporter {
        /// Why.
        reason: String,
    },
}

/// The port of OTel's Prometheus exporter.
pub const DEFAULT_PORT: u16 = 9464;
/// Loopback: the page is not exposed beyond the machine unless asked for.
pub const DEFAULT_HOST: &str = "127.0.0.1";

static SERVICE_NAME: RwLock<Option<String>> = RwLock::new(None);

/// Sets up obs with the defaults and the standard environment variables: see [`Builder`].
///
/// Serves `http://127.0.0.1:9464/metrics` until the returned guard is dropped.
///
/// ```no_run
/// fn main() -> Result<(), obs_runtime::Error> {
///     let _obs = obs_runtime::init()?;
///     // … run the service …
///     Ok(())
/// }
/// ```
///
/// # Errors
/// See [`Builder::install`].
pub fn init() -> Result<ObsGuard, Error> {
    Builder::new().install()
}

/// Configures obs in code. Every setting left unset is read from the environment when
/// [`install`](Builder::install) runs, then falls back to its default:
///
/// | setting | variable | default |
/// |---|---|---|
/// | [`service_name`](Builder::service_name) | `OTEL_SERVICE_NAME` | none |
/// | [`host`](Builder::host) | `OTEL_EXPORTER_PROMETHEUS_HOST` | `127.0.0.1` |
/// | [`port`](Builder::port) | `OTEL_EXPORTER_PROMETHEUS_PORT` | `9464` |
/// | [`scrape_bearer_token`](Builder::scrape_bearer_token) | `OBS_SCRAPE_BEARER_TOKEN` | none |
/// | [`scrape_basic_auth`](Builder::scrape_basic_auth) | `OBS_SCRAPE_BASIC_AUTH` (`user:password`) | none |
/// | write [`rules_yaml`](crate::rules::rules_yaml) to a path | `OBS_EXPORT_RULES` | none |
/// | write [`dashboard_json`](crate::dashboard::dashboard_json) to a path | `OBS_EXPORT_DASHBOARD` | none |
/// | [`traces_exporter`](Builder::traces_exporter) | `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`; `OTEL_SDK_DISABLED=true` means `none`) | `otlp` with the `otlp` feature, else `none` |
/// | [`otlp_endpoint`](Builder::otlp_endpoint) | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` (`:4317` for gRPC) |
/// | [`otlp_protocol`](Builder::otlp_protocol) | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`, `http/protobuf`) | `http/protobuf` |
/// | [`otlp_header`](Builder::otlp_header) | `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k=v`) | none |
/// | the OTLP client's timeout | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms) | 10 000 |
/// | [`service_name`](Builder::service_name), for traces | `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | `unknown_service:<executable>` |
/// | [`resource_attribute`](Builder::resource_attribute) | `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k=v`) | none |
/// | [`sampler`](Builder::sampler) | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
/// | [`traces_filter`](Builder::traces_filter): which spans are exported | `OBS_TRACES_FILTER` (`target=level,…`) | `info` |
/// | export queue, batch size, delay, batch timeout | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` (ms) | 2048, 512, 5000, 30 000 |
/// | [`flush_timeout`](Builder::flush_timeout) | none | 3 s |
/// | [`log_format`](Builder::log_format) | `OBS_LOG_FORMAT` (`text`, `json`, `off`) | `text`, on standard error |
/// | [`log_filter`](Builder::log_filter) | `RUST_LOG` (`target=level,…`) | `info` |
///
/// A setting made in code wins over the variable. Empty variables count as unset. The OTLP
/// client also reads `OTEL_EXPORTER_OTLP_COMPRESSION` (unsupported: obs builds no compression)
/// and `OTEL_EXPORTER_OTLP_HEADERS` from the process environment by itself; values set through
/// [`Builder::env`] or in code replace the headers it read.
///
/// # Logs and traces
///
/// `install` sets the process's global `tracing` subscriber: a log layer (text or JSON lines
/// on standard error, filtered by `RUST_LOG`) and a trace layer that hands finished spans to
/// the exporter (OTLP, or console lines on standard output). The subscriber is installed by
/// the first `install` of the process; later ones keep it (their log settings are not applied)
/// and only start their own exporter, which from then on receives the spans: the latest
/// exporter started is the one in use. If another subscriber was installed first, `install`
/// fails with [`Error::SubscriberTaken`]; [`without_subscriber`](Builder::without_subscriber)
/// leaves the subscriber to the application, which adds [`trace_layer`](crate::trace_layer)
/// and [`log_layer`](crate::log_layer) to its own.
///
/// Exporting never slows the application down: finished spans go into a bounded queue that a
/// thread of obs empties; a full queue drops spans and counts them in
/// `obs_spans_dropped_total` on the page. Dropping the [`ObsGuard`] sends what is queued,
/// waiting at most the [`flush_timeout`](Builder::flush_timeout).
///
/// ```
/// let obs = obs_runtime::Builder::new()
///     .service_name("checkout")
///     .port(0) // any free port
///     .histogram_buckets("queue_wait_seconds", [0.001, 0.01, 0.1])
///     .install()?;
/// let addr = obs.local_addr().expect("serving");
/// assert!(addr.ip().is_loopback());
/// assert!(obs_runtime::render().contains(r#"target_info{service_name="checkout"} 1"#));
/// # Ok::<(), obs_runtime::Error>(())
/// ```
#[must_use]
// Independent switches of a builder, each set by its own `without_…` method.
#[allow(clippy::struct_excessive_bools)]
pub struct Builder {
    service_name: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    serve: bool,
    recorder: bool,
    process: bool,
    auth: Option<Auth>,
    series_limit: Option<usize>,
    buckets: Vec<(BucketMatch, Vec<f64>)>,
    env: EnvSource,
    traces: TraceSettings,
    log_format: Option<LogFormat>,
    log_filter: Option<String>,
    subscriber: bool,
}

/// Where unset settings are read from.
type EnvSource = Box<dyn Fn(&str) -> Option<String>>;

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("service_name", &self.service_name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("serve", &self.serve)
            .field("recorder", &self.recorder)
            .field("process", &self.process)
            .field("traces", &self.traces)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("subscriber", &self.subscriber)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Nothing set: everything comes from the environment or the defaults.
    pub fn new() -> Self {
        Builder {
            service_name: None,
            host: None,
            port: None,
            serve: true,
            recorder: true,
            process: true,
            auth: None,
            series_limit: None,
            buckets: Vec::new(),
            env: Box::new(|var| std::env::var(var).ok()),
            traces: TraceSettings::default(),
            log_format: None,
            log_filter: None,
            subscriber: true,
        }
    }

    /// The service's name: a `target_info{service_name="…"}` series on the page, and the
    /// `service.name` resource of exported spans.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The address to serve `/metrics` on: an IP address or a name. `0.0.0.0` exposes the page
    /// on every interface; read `docs/security.md` first.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The port to serve `/metrics` on; `0` picks a free one ([`ObsGuard::local_addr`] tells
    /// which).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Scrapers must send `Authorization: Bearer <token>` for `/metrics` and `/obs/*` (the
    /// health probes stay open). Also `OBS_SCRAPE_BEARER_TOKEN`.
    ///
    /// ```
    /// let obs = obs_runtime::Builder::new().port(0).scrape_bearer_token("s3cret").install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn scrape_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// Scrapers must use HTTP basic auth for `/metrics` and `/obs/*` (Prometheus:
    /// `basic_auth` in the scrape config). Also `OBS_SCRAPE_BASIC_AUTH=user:password`.
    pub fn scrape_basic_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some(Auth::basic(&format!("{user}:{password}")));
        self
    }

    /// Serve nothing: read the page with [`render`](crate::render) and expose it yourself.
    pub fn without_server(mut self) -> Self {
        self.serve = false;
        self
    }

    /// The most label-value sets one metric of one function keeps when its labels come from
    /// the call (`labels(tenant = req.tenant())`); past it, calls are counted under
    /// `__overflow__`. Default 1,000; also `OBS_SERIES_LIMIT`.
    pub fn series_limit(mut self, limit: usize) -> Self {
        self.series_limit = Some(limit);
        self
    }

    /// Do not install the `metrics` facade recorder (for applications that install their own).
    pub fn without_recorder(mut self) -> Self {
        self.recorder = false;
        self
    }

    /// Leave the `process_*` metrics (CPU, memory, file descriptors, start time) off the page:
    /// for a process that already exports them, or several obs services sharing one process
    /// name in Prometheus. Once one install has put them on, they stay.
    ///
    /// ```
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .without_process_metrics()
    ///     .install()?;
    /// assert!(!obs_runtime::render().contains("process_cpu_seconds_total"));
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn without_process_metrics(mut self) -> Self {
        self.process = false;
        self
    }

    /// Buckets for the `metrics::histogram!` series named `name` (after `.` and other invalid
    /// characters become `_`). Bounds must be finite and strictly increasing.
    pub fn histogram_buckets(
        mut self,
        name: impl Into<String>,
        bounds: impl Into<Vec<f64>>,
    ) -> Self {
        self.buckets
            .push((BucketMatch::Exact(name.into()), bounds.into()));
        self
    }

    /// Buckets for every `metrics::histogram!` series whose name starts with `prefix`. An exact
    /// name wins over a prefix, a longer prefix over a shorter one.
    pub fn histogram_buckets_prefix(
        mut self,
        prefix: impl Into<String>,
        bounds: impl Into<Vec<f64>>,
    ) -> Self {
        self.buckets
            .push((BucketMatch::Prefix(prefix.into()), bounds.into()));
        self
    }

    /// Where unset settings are read from instead of the process environment: for tests, or
    /// for configuration that arrives another way.
    ///
    /// ```
    /// let err = obs_runtime::Builder::new()
    ///     .env(|var| (var == "OTEL_EXPORTER_PROMETHEUS_PORT").then(|| "http".to_owned()))
    ///     .install()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("OTEL_EXPORTER_PROMETHEUS_PORT=\"http\""));
    /// ```
    pub fn env(mut self, source: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.env = Box::new(source);
        self
    }

    fn var(&self, var: &str) -> Option<String> {
        (self.env)(var).filter(|v| !v.trim().is_empty())
    }

    /// Validates the settings, starts the trace exporter, installs the `tracing` subscriber
    /// and the `metrics` recorder, and starts the server.
    ///
    /// # Errors
    /// - [`Error::InvalidEnv`]: a variable does not parse (a port that is not a number from 0
    ///   to 65535, say); the message names it.
    /// - [`Error::InvalidSetting`], [`Error::InvalidBuckets`]: a value set in code is unusable.
    /// - [`Error::InvalidAddress`], [`Error::Bind`]: the address cannot be resolved or bound,
    ///   typically because the port is taken.
    /// - [`Error::SubscriberTaken`]: another global `tracing` subscriber is installed.
    /// - [`Error::RecorderTaken`]: another `metrics` recorder is installed.
    /// - [`Error::Exporter`], [`Error::Thread`].
    ///
    /// Nothing is left half-installed on error, except a subscriber or a recorder installed
    /// before the server failed to bind: they keep working, so no span or facade call is
    /// lost.
    pub fn install(self) -> Result<ObsGuard, Error> {
        for (matcher, bounds) in &self.buckets {
            check_buckets(matcher, bounds)?;
        }
        let service_name = self
            .service_name
            .clone()
            .or_else(|| self.var("OTEL_SERVICE_NAME"));
        let port = match self.port {
            Some(port) => port,
            None => match self.var("OTEL_EXPORTER_PROMETHEUS_PORT") {
                None => DEFAULT_PORT,
                Some(value) => value.trim().parse().map_err(|_| Error::InvalidEnv {
                    var: "OTEL_EXPORTER_PROMETHEUS_PORT",
                    value: value.clone(),
                    reason: "expected a port number from 0 to 65535".into(),
                })?,
            },
        };
        let host = self
            .host
            .clone()
            .or_else(|| self.var("OTEL_EXPORTER_PROMETHEUS_HOST"))
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let addr = if self.serve {
            Some(resolve(&host, port)?)
        } else {
            None
        };
        let auth = match self.auth.clone() {
            Some(auth) => auth,
            None => self.auth_from_env()?,
        };
        let traces = TraceConfig::resolve(&self.traces, &|v| self.var(v), service_name.clone())?;
        let logs = if self.subscriber {
            Some(self.log_config()?)
        } else {
            None
        };

        for (var, generate) in EXPORTS {
            if let Some(path) = self.var(var) {
                std::fs::write(&path, generate()).map_err(|source| Error::Export {
                    var,
                    path,
                    source,
                })?;
            }
        }
        let trace_guard = crate::traces::start_exporter(&traces)?;
        if let Some(logs) = &logs {
            crate::subscriber::install_global(logs, traces.filter.clone())?;
        }
        let series_limit = match self.series_limit {
            Some(limit) => Some(limit),
            None => self
                .var("OBS_SERIES_LIMIT")
                .map(|value| {
                    value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Error::InvalidEnv {
                            var: "OBS_SERIES_LIMIT",
                            value: value.clone(),
                            reason: "expected a positive whole number, e.g. 1000".into(),
                        })
                })
                .transpose()?,
        };
        if let Some(limit) = series_limit {
            crate::labelled::set_series_limit(limit);
        }
        if self.recorder {
            crate::recorder::install(self.buckets)?;
        }
        if self.process {
            crate::process::enable();
        }
        if let Some(guard) = &trace_guard {
            guard.activate();
        }
        *SERVICE_NAME.write().unwrap_or_else(PoisonError::into_inner) = service_name;
        let server = addr.map(|addr| Server::start(addr, auth)).transpose()?;
        Ok(ObsGuard {
            server,
            traces: trace_guard,
        })
    }
}

/// Makes the text of a generated file.
type Generator = fn() -> String;

/// Files written at install when their variable names a path.
const EXPORTS: [(&str, Generator); 2] = [
    ("OBS_EXPORT_RULES", crate::rules::rules_yaml),
    ("OBS_EXPORT_DASHBOARD", crate::dashboard::dashboard_json),
];

/// Traces and logs.
impl Builder {
    /// Where finished spans go. Also `OTEL_TRACES_EXPORTER`.
    ///
    /// ```
    /// use obs_runtime::TracesExporter;
    ///
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .traces_exporter(TracesExporter::Console) // one line per span on stdout
    ///     .install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn traces_exporter(mut self, exporter: TracesExporter) -> Self {
        self.traces.exporter = Some(exporter);
        self
    }

    /// Where OTLP spans are sent. A URL without a path is a base: `/v1/traces` is added for
    /// HTTP, as for `OTEL_EXPORTER_OTLP_ENDPOINT`; a URL with a path is used as it is, as
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is. Only `http://`: obs builds no TLS, so send to
    /// a local collector or agent.
    ///
    /// ```
    /// # #[cfg(feature = "otlp")] {
    /// use obs_runtime::OtlpProtocol;
    ///
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .otlp_endpoint("http://127.0.0.1:4317") // Jaeger's or a collector's gRPC port
    ///     .otlp_protocol(OtlpProtocol::Grpc)
    ///     .install()?;
    /// # }
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces.endpoint = Some(url.into());
        self
    }

    /// The OTLP transport. Also `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.traces.protocol = Some(protocol);
        self
    }

    /// A header (gRPC metadata) sent with every export, such as an API key. Replaces the same
    /// header from `OTEL_EXPORTER_OTLP_HEADERS`.
    ///
    /// ```
    /// # #[cfg(feature = "otlp")] {
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .otlp_endpoint("http://127.0.0.1:4318")
    ///     .otlp_header("x-api-key", "my-key")
    ///     .resource_attribute("deployment.environment.name", "staging")
    ///     .flush_timeout(std::time::Duration::from_secs(1))
    ///     .install()?;
    /// # }
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.traces.headers.push((name.into(), value.into()));
        self
    }

    /// A resource attribute of the exported spans, such as `deployment.environment.name`.
    /// Replaces the same key from `OTEL_RESOURCE_ATTRIBUTES`. `service.name` comes from
    /// [`service_name`](Builder::service_name).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.traces.resource.push((key.into(), value.into()));
        self
    }

    /// Which traces are kept. Also `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    ///
    /// ```
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .traces_exporter(obs_runtime::TracesExporter::Console)
    ///     .sampler(obs_runtime::Sampler::ParentBasedTraceIdRatio(0.1)) // 10 % of new traces
    ///     .install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.traces.sampler = Some(sampler);
        self
    }

    /// How long dropping the [`ObsGuard`] waits for queued spans to be sent (default 3 s).
    /// Spans still queued then are dropped and counted.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.traces.flush_timeout = Some(timeout);
        self
    }

    /// Which spans are exported, as `target=level,…` (default `info`: every `#[traced]` span
    /// at the default level). Also `OBS_TRACES_FILTER`. Independent of the log filter, so
    /// quieter logs do not lose traces.
    pub fn traces_filter(mut self, filter: impl Into<String>) -> Self {
        self.traces.filter = Some(filter.into());
        self
    }

    /// How logs are written. Also `OBS_LOG_FORMAT`.
    ///
    /// ```
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .log_format(obs_runtime::LogFormat::Json)
    ///     .log_filter("warn,checkout=debug") // RUST_LOG's syntax
    ///     .install()?;
    /// tracing::warn!(order = 7, "payment retried"); // one JSON line on stderr
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = Some(format);
        self
    }

    /// Which events are logged, as `target=level,…` (`info,my_crate=debug`). Also `RUST_LOG`.
    /// Span filters (`[span]`) are not supported.
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = Some(filter.into());
        self
    }

    /// Install no global `tracing` subscriber, for applications that install their own: add
    /// [`trace_layer`](crate::trace_layer) (and [`log_layer`](crate::log_layer) if you want
    /// obs's log lines) to it. The exporter still starts.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let obs = obs_runtime::Builder::new().without_server().without_subscriber().install()?;
    /// let mine = tracing_subscriber::registry()
    ///     .with(obs_runtime::trace_layer())
    ///     .with(obs_runtime::log_layer(obs_runtime::LogFormat::Text));
    /// tracing::subscriber::set_global_default(mine).expect("the only global subscriber");
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn without_subscriber(mut self) -> Self {
        self.subscriber = false;
        self
    }

    fn log_config(&self) -> Result<LogConfig, Error> {
        let format = match self.log_format {
            Some(format) => format,
            None => match self.var("OBS_LOG_FORMAT") {
                None => LogFormat::Text,
                Some(value) => LogFormat::parse(&value).ok_or_else(|| Error::InvalidEnv {
                    var: "OBS_LOG_FORMAT",
                    value: value.clone(),
                    reason: "expected text, json or off".into(),
                })?,
            },
        };
        let filter = match &self.log_filter {
            Some(filter) => parse_filter(filter).map_err(|reason| Error::InvalidSetting {
                setting: "Builder::log_filter",
                value: format!("{filter:?}"),
                reason,
            })?,
            None => match self.var("RUST_LOG") {
                None => parse_filter("info").unwrap_or_default(),
                Some(value) => parse_filter(&value).map_err(|reason| Error::InvalidEnv {
                    var: "RUST_LOG",
                    value: value.clone(),
                    reason,
                })?,
            },
        };
        Ok(LogConfig { format, filter })
    }
}

impl Builder {
    fn auth_from_env(&self) -> Result<Auth, Error> {
        let token = self.var("OBS_SCRAPE_BEARER_TOKEN");
        let basic = self.var("OBS_SCRAPE_BASIC_AUTH");
        match (token, basic) {
            (Some(_), Some(_)) => Err(Error::InvalidEnv {
                var: "OBS_SCRAPE_BASIC_AUTH",
                value: "<hidden>".into(),
                reason: "OBS_SCRAPE_BEARER_TOKEN is set too: set one of the two".into(),
            }),
            (Some(token), None) => Ok(Auth::Bearer(token.trim().to_owned())),
            (None, Some(pair)) if pair.contains(':') => Ok(Auth::basic(pair.trim())),
            (None, Some(_)) => Err(Error::InvalidEnv {
                var: "OBS_SCRAPE_BASIC_AUTH",
                value: "<hidden>".into(),
                reason: "expected user:password".into(),
            }),
            (None, None) => Ok(Auth::None),
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Error> {
    // `[::1]` and `::1` both mean IPv6 loopback.
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (bare, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::InvalidAddress {
            host: host.to_owned(),
            port,
        })
}

fn check_buckets(matcher: &BucketMatch, bounds: &[f64]) -> Result<(), Error> {
    let name = match matcher {
        BucketMatch::Exact(n) | BucketMatch::Prefix(n) => n.clone(),
    };
    let fail = |reason: String| {
        Err(Error::InvalidBuckets {
            name: name.clone(),
            reason,
        })
    };
    if bounds.is_empty() {
        return fail("give at least one bound".into());
    }
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return fail(format!("{b} is not finite; +Inf is always added for you"));
    }
    let decreasing = bounds.windows(2).find_map(|w| match *w {
        [a, b] if a >= b => Some((a, b)),
        _ => None,
    });
    if let Some((a, b)) = decreasing {
        return fail(format!(
            "bounds must be strictly increasing: {b} follows {a}"
        ));
    }
    Ok(())
}

/// Keeps obs's exporters running; dropping it stops the `/metrics` server and the trace
/// exporter, sending the spans still queued (waiting at most the
/// [`flush_timeout`](Builder::flush_timeout)).
///
/// Recording never stops: instrumented calls are counted with or without a guard, and
/// [`render`](crate::render) works at any time.
#[must_use = "dropping the guard stops the /metrics server and the trace exporter at once"]
#[derive(Debug)]
pub struct ObsGuard {
    server: Option<Server>,
    /// Held for its `Drop`: stops and flushes the exporter.
    #[allow(dead_code)]
    traces: Option<TraceGuard>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl ObsGuard {
    /// The address `/metrics` is served on, if a server runs.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(Server::local_addr)
    }

    /// `http://ADDR/metrics`, if a server runs.
    pub fn metrics_url(&self) -> Option<String> {
        self.local_addr()
            .map(|addr| format!("http://{addr}/metrics"))
    }
}

/// `target_info`, OTel's series for the resource, when a service name is set; and the trace
/// exporter's counts, once one ran.
pub(crate) fn collect_target_info(out: &mut Collector) {
    crate::traces::collect(out);
    let name = SERVICE_NAME.read().unwrap_or_else(PoisonError::into_inner);
    if let Some(name) = name.as_deref() {
        let mut labels = Labels::empty();
        labels.push("service_name", name);
        out.family(
            "target_info",
            Kind::Gauge,
            "Target metadata: the service this page describes.",
        )
        .gauge(&labels, 1.0);
    }
}
