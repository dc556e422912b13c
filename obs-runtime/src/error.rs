//! The one error type of obs: what `init`, `Builder::install` and the settings can fail with.

use std::net::SocketAddr;

/// What can go wrong in [`init`](crate::init) or [`Builder::install`](crate::Builder::install). Every message names the variable,
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
    /// A value given to a [`Builder`](crate::Builder) method cannot be used.
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
