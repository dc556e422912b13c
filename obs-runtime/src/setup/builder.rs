//! `init()` and the builder of its settings.

use std::time::Duration;

use crate::error::Error;
use crate::logs::LogFormat;
use crate::metrics::BucketMatch;
use crate::otlp::{OtlpCompression, OtlpProtocol};
use crate::serve::Auth;
use crate::setup::ObsGuard;
use crate::traces::propagation::Propagator;
use crate::traces::{Sampler, TailSampling, TraceSettings, TracesExporter};

/// The port of OTel's Prometheus exporter.
pub const DEFAULT_PORT: u16 = 9464;
/// Loopback: the page is not exposed beyond the machine unless asked for.
pub const DEFAULT_HOST: &str = "127.0.0.1";

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
/// | [`native_histograms`](Builder::native_histograms) | `OBS_NATIVE_HISTOGRAMS` (`true`, `false`) | `false` |
/// | write [`rules_yaml`](crate::rules::rules_yaml) to a path | `OBS_EXPORT_RULES` | none |
/// | write [`dashboard_json`](crate::dashboard::dashboard_json) to a path | `OBS_EXPORT_DASHBOARD` | none |
/// | [`traces_exporter`](Builder::traces_exporter) | `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`; `OTEL_SDK_DISABLED=true` means `none`) | `otlp` with the `otlp` feature, else `none` |
/// | [`otlp_endpoint`](Builder::otlp_endpoint), every signal's (a base: `/v1/traces`, `/v1/metrics`, `/v1/logs` added for HTTP) | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` (`:4317` for gRPC) |
/// | [`otlp_traces_endpoint`](Builder::otlp_traces_endpoint), the spans' own (as it is) | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the general one |
/// | [`otlp_protocol`](Builder::otlp_protocol) | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc`, `http/protobuf`) | `http/protobuf` |
/// | [`otlp_header`](Builder::otlp_header) | `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k=v`) | none |
/// | the OTLP client's timeout, per attempt | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms) | 10 000 |
/// | [`otlp_compression`](Builder::otlp_compression) | `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip`, `none`) | `none` |
/// | [`otlp_certificate`](Builder::otlp_certificate) (feature `tls`) | `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CERTIFICATE` (a PEM file) | the system's roots (`SSL_CERT_FILE` honoured) |
/// | [`otlp_client_certificate`](Builder::otlp_client_certificate), [`otlp_client_key`](Builder::otlp_client_key) (feature `tls`) | `OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY`, `OTEL_EXPORTER_OTLP_CLIENT_KEY` | none |
/// | [`service_name`](Builder::service_name), for traces | `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | `unknown_service:<executable>` |
/// | [`resource_attribute`](Builder::resource_attribute) | `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k=v`) | none |
/// | [`sampler`](Builder::sampler) | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` (`parentbased_traceidratio` with the tail's ratio while tail sampling is on) |
/// | [`tail_sampling`](Builder::tail_sampling) | `OBS_TRACES_TAIL` (`errors,slower=250ms,objectives,ratio=0.01`) | off |
/// | [`propagators`](Builder::propagators) | `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger`, `none`) | `tracecontext,baggage` |
/// | [`baggage_attributes`](Builder::baggage_attributes): baggage keys copied into server spans | `OBS_BAGGAGE_ATTRIBUTES` (`key,key`) | none |
/// | [`traces_filter`](Builder::traces_filter): which spans are exported | `OBS_TRACES_FILTER` (`target=level,…`) | `info` |
/// | export queue, batch size (each at most 1,048,576), delay, batch timeout | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` (ms) | 2048, 512, 5000, 30 000 |
/// | [`flush_timeout`](Builder::flush_timeout) | none | 3 s |
/// | [`trace_url`](Builder::trace_url): where the live page links a trace id | `OBS_TRACE_URL` (`http(s)://…{trace_id}…`) | none |
/// | [`metrics_exporter`](Builder::metrics_exporter) | `OTEL_METRICS_EXPORTER` (`prometheus`, `otlp`, `prometheus,otlp`, `none`) | `prometheus` |
/// | [`metric_export_interval`](Builder::metric_export_interval), [`metric_export_timeout`](Builder::metric_export_timeout) | `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_METRIC_EXPORT_TIMEOUT` (ms) | 60 000, 30 000 |
/// | [`metrics_temporality`](Builder::metrics_temporality) | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`, `lowmemory`) | `cumulative` |
/// | [`otlp_metrics_endpoint`](Builder::otlp_metrics_endpoint), and the transport's other settings for metrics | `OTEL_EXPORTER_OTLP_METRICS_*`, then `OTEL_EXPORTER_OTLP_*` | as for spans |
/// | [`log_format`](Builder::log_format) | `OBS_LOG_FORMAT` (`text`, `json`, `off`) | `text`, on standard error |
/// | [`log_filter`](Builder::log_filter) | `RUST_LOG` (`target=level,…`) | `info` |
/// | [`logs_exporter`](Builder::logs_exporter): log records over OTLP, beside standard error | `OTEL_LOGS_EXPORTER` (`otlp`, `console`, `otlp,console`, `none`; `console` is the standard error lines obs writes anyway) | `none` |
/// | [`logs_filter`](Builder::logs_filter): which events are shipped | `OBS_LOGS_FILTER`, then `RUST_LOG` | `info` |
/// | [`logs_endpoint`](Builder::logs_endpoint), [`logs_protocol`](Builder::logs_protocol), [`logs_header`](Builder::logs_header), [`logs_compression`](Builder::logs_compression) | `OTEL_EXPORTER_OTLP_LOGS_{ENDPOINT,PROTOCOL,HEADERS,COMPRESSION}`, then `OTEL_EXPORTER_OTLP_*`; also `_TIMEOUT`, `_CERTIFICATE`, `_CLIENT_CERTIFICATE`, `_CLIENT_KEY` | as for traces, path `/v1/logs` |
/// | log export queue, batch size (each at most 1,048,576), delay, batch timeout | `OTEL_BLRP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BLRP_SCHEDULE_DELAY`, `OTEL_BLRP_EXPORT_TIMEOUT` (ms) | 2048, 512, 1000, 30 000 |
///
/// A setting made in code wins over the variable. Empty variables count as unset. The
/// `otlp_*` settings and `OTEL_EXPORTER_OTLP_*` are every signal's; a signal's own setting
/// (its `Builder` method, then `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*`) wins over them,
/// as the OTLP exporter specification orders them.
///
/// A batch the collector answers with a retryable error (HTTP 429, 502, 503, 504, gRPC
/// `UNAVAILABLE` and the others the OTLP specification lists, or no answer) is sent again
/// with exponential backoff and jitter, or after the server's `Retry-After` / `RetryInfo`,
/// until `OTEL_BSP_EXPORT_TIMEOUT` has passed since its first attempt; new spans wait in the
/// queue behind it. Other errors are not retried.
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
    pub(super) service_name: Option<String>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) serve: bool,
    pub(super) recorder: bool,
    pub(super) process: bool,
    pub(super) auth: Option<Auth>,
    pub(super) series_limit: Option<usize>,
    pub(super) native: Option<bool>,
    pub(super) buckets: Vec<(BucketMatch, Vec<f64>)>,
    pub(super) env: EnvSource,
    pub(super) traces: TraceSettings,
    pub(super) log_format: Option<LogFormat>,
    pub(super) log_filter: Option<String>,
    pub(super) logs_export: crate::logs::LogsSettings,
    pub(super) subscriber: bool,
    pub(super) propagators: Option<Vec<Propagator>>,
    pub(super) baggage_attributes: Option<Vec<String>>,
    pub(super) trace_url: Option<String>,
    pub(super) metrics: super::metrics_export::MetricsSettings,
}

/// Where unset settings are read from.
pub(super) type EnvSource = Box<dyn Fn(&str) -> Option<String>>;

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
            .field("logs_export", &self.logs_export)
            .field("metrics", &self.metrics)
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
            native: None,
            buckets: Vec::new(),
            env: Box::new(|var| std::env::var(var).ok()),
            traces: TraceSettings::default(),
            log_format: None,
            log_filter: None,
            logs_export: crate::logs::LogsSettings::default(),
            subscriber: true,
            propagators: None,
            baggage_attributes: None,
            trace_url: None,
            metrics: super::metrics_export::MetricsSettings::default(),
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

    /// Where the live page (`/obs/`) links each trace it shows: an `http://` or `https://`
    /// URL of the user's trace backend in which `{trace_id}` is replaced by the trace's id,
    /// e.g. Jaeger's `http://localhost:16686/trace/{trace_id}`. Also `OBS_TRACE_URL`.
    ///
    /// ```
    /// let err = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .trace_url("localhost:16686/trace/")
    ///     .install()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("Builder::trace_url"));
    /// ```
    pub fn trace_url(mut self, url: impl Into<String>) -> Self {
        self.trace_url = Some(url.into());
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

    /// Keep a native (exponential) histogram, schema [`DEFAULT_SCHEMA`](crate::DEFAULT_SCHEMA),
    /// beside the classic buckets of every histogram of the program: `#[timed]`, the HTTP
    /// layers' and `metrics::histogram!`'s. The protobuf page (what Prometheus asks for with
    /// native histograms enabled) shows them; the text pages are unchanged. Calls recorded
    /// before `install` are in the classic buckets only. A `#[timed(native(schema = N))]`
    /// keeps its own schema either way. Also `OBS_NATIVE_HISTOGRAMS=true`.
    ///
    /// ```
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .native_histograms(true)
    ///     .install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn native_histograms(mut self, on: bool) -> Self {
        self.native = Some(on);
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

    pub(super) fn var(&self, var: &str) -> Option<String> {
        (self.env)(var).filter(|v| !v.trim().is_empty())
    }
}

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

    /// Where every signal exported over OTLP is sent (spans, and pushed metrics and shipped
    /// logs), as `OTEL_EXPORTER_OTLP_ENDPOINT`: a base, to which `/v1/traces`, `/v1/metrics`
    /// and `/v1/logs` are added for HTTP (`http://host:4318/prefix` sends spans to
    /// `/prefix/v1/traces`). A signal's own endpoint wins over it, used as it is:
    /// [`otlp_traces_endpoint`](Builder::otlp_traces_endpoint),
    /// [`otlp_metrics_endpoint`](Builder::otlp_metrics_endpoint),
    /// [`logs_endpoint`](Builder::logs_endpoint), or `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`.
    /// A URL ending in `/v1/traces` (the spans' full URL this method took before it was every
    /// signal's) is refused from [`install`](Builder::install) with that fix. The other
    /// `otlp_*` settings reach every signal the same way. `https://` needs the `tls`
    /// feature (without it, it is an error, never plaintext); the server is verified against
    /// the system's roots or [`otlp_certificate`](Builder::otlp_certificate).
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
        self.traces.transport.endpoint = Some(url.into());
        self
    }

    /// The full URL spans are sent to, used as it is (`http://host:4318/v1/traces`), over
    /// [`otlp_endpoint`](Builder::otlp_endpoint). Also `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    /// A URL without a path is a base, as for `otlp_endpoint`.
    pub fn otlp_traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces.own_transport.endpoint = Some(url.into());
        self
    }

    /// The OTLP transport of every signal. Also `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.traces.transport.protocol = Some(protocol);
        self
    }

    /// A header (gRPC metadata) sent with every export of every signal, such as an API key.
    /// Replaces the same header from `OTEL_EXPORTER_OTLP_HEADERS`.
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
        self.traces
            .transport
            .headers
            .push((name.into(), value.into()));
        self
    }

    /// Compresses every export of every signal: [`OtlpCompression::Gzip`] sends HTTP bodies with
    /// `Content-Encoding: gzip` and gRPC messages with `grpc-encoding: gzip`. Also
    /// `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip`, `none`).
    ///
    /// ```
    /// # #[cfg(feature = "otlp")] {
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .otlp_endpoint("http://127.0.0.1:4318")
    ///     .otlp_compression(obs_runtime::OtlpCompression::Gzip)
    ///     .flush_timeout(std::time::Duration::from_millis(100))
    ///     .install()?;
    /// # }
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn otlp_compression(mut self, compression: OtlpCompression) -> Self {
        self.traces.transport.compression = Some(compression);
        self
    }

    /// The CA certificate (PEM) an `https://` endpoint's certificate must be signed by,
    /// instead of the system's roots. Also `OTEL_EXPORTER_OTLP_CERTIFICATE` (and
    /// `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`). Needs the `tls` feature; an unreadable file
    /// is an error from [`install`](Builder::install).
    ///
    /// ```no_run
    /// let obs = obs_runtime::Builder::new()
    ///     .otlp_endpoint("https://collector.internal:4318")
    ///     .otlp_certificate("/etc/ssl/collector-ca.pem")
    ///     .otlp_client_certificate("/etc/obs/client.pem") // mutual TLS
    ///     .otlp_client_key("/etc/obs/client.key")
    ///     .install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn otlp_certificate(mut self, path: impl Into<String>) -> Self {
        self.traces.transport.certificate = Some(path.into());
        self
    }

    /// The client certificate (PEM) for mutual TLS, with
    /// [`otlp_client_key`](Builder::otlp_client_key). Also
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` (and `OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE`).
    pub fn otlp_client_certificate(mut self, path: impl Into<String>) -> Self {
        self.traces.transport.client_certificate = Some(path.into());
        self
    }

    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1). Also
    /// `OTEL_EXPORTER_OTLP_CLIENT_KEY` (and `OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY`).
    pub fn otlp_client_key(mut self, path: impl Into<String>) -> Self {
        self.traces.transport.client_key = Some(path.into());
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

    /// Keeps whole local traces by how they went, decided when their local root closes:
    /// see [`TailSampling`]. Also `OBS_TRACES_TAIL` (`errors,slower=250ms,objectives,ratio=0.01`).
    /// Unless a sampler is set too, the head sampler becomes `parentbased_traceidratio` with
    /// the tail's ratio (0 without one).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .traces_exporter(obs_runtime::TracesExporter::Console)
    ///     .tail_sampling(obs_runtime::TailSampling::new().errors().ratio(0.01))
    ///     .install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn tail_sampling(mut self, rules: TailSampling) -> Self {
        self.traces.tail = Some(rules);
        self
    }

    /// How trace context and baggage cross process boundaries, tried in this order on
    /// extraction and all written on injection: see [`Propagator`]. Also `OTEL_PROPAGATORS`
    /// (default `tracecontext,baggage`); an empty list propagates nothing (`none`).
    /// Propagation works whatever the exporter: a service that exports nothing still passes
    /// its caller's context on.
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = Some(propagators.into_iter().collect());
        self
    }

    /// Baggage entries copied into the attributes of the server spans of
    /// `http::ServerLayer` (feature `http`), by key (`tenant.id`, say): the attribute has
    /// the key's name and the entry's value. Also `OBS_BAGGAGE_ATTRIBUTES` (`key,key`).
    ///
    /// ```
    /// let obs = obs_runtime::Builder::new()
    ///     .without_server()
    ///     .baggage_attributes(["tenant.id"])
    ///     .install()?;
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn baggage_attributes<K: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.baggage_attributes = Some(keys.into_iter().map(Into::into).collect());
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
}
