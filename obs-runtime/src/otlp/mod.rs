//! The OTLP transport, one for every signal: where to send (endpoint resolution from
//! `OTEL_EXPORTER_OTLP_*` then `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*`), headers,
//! compression, TLS, and what an answer means (retry, refusal, partial success).
//!
//! A signal encodes its own request body (traces: `traces/otlp/encode.rs`) and hands it to a
//! [`Client`] made for its [`Signal`]; the signal's worker keeps a failed batch and retries it
//! as [`retry`] says. Depends on the leaves only, so `metrics` and `logs` can use it too.

#[cfg(feature = "otlp")]
mod grpc;
#[cfg(feature = "otlp")]
mod http;
// Without `otlp`, only the console sink uses these, for their types.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) mod response;
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) mod retry;
pub(crate) mod settings;
#[cfg(feature = "tls")]
mod tls;
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) mod wire;

pub use settings::{OtlpCompression, OtlpProtocol};

/// What is sent: each has its own path, service and variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Metrics and logs come with the issue that exports them.
#[allow(dead_code)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// The path added to `OTEL_EXPORTER_OTLP_ENDPOINT` for OTLP/HTTP.
    pub(crate) fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// The gRPC method every collector serves for it.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }
}

#[cfg(feature = "otlp")]
pub(crate) use client::Client;

#[cfg(feature = "otlp")]
mod client {
    use std::time::Duration;

    use super::response::Accepted;
    use super::retry::Failure;
    use super::settings::{OtlpCompression, OtlpProtocol, TransportConfig};
    use super::{grpc, http};

    /// A client of one collector for one signal.
    pub(crate) struct Client {
        inner: Inner,
        compression: OtlpCompression,
        /// The compressed body, reused from request to request.
        gzipped: Vec<u8>,
        timeout: Duration,
    }

    enum Inner {
        Http(http::HttpClient),
        Grpc(grpc::GrpcClient),
    }

    impl Client {
        /// A client as `config` says; `on_thread_start` runs on the gRPC runtime's thread.
        /// Reads the TLS files: an `Err` names the one that cannot be used.
        pub(crate) fn new(
            config: &TransportConfig,
            on_thread_start: fn(),
        ) -> Result<Self, crate::error::Error> {
            #[cfg(feature = "tls")]
            let tls = if config.endpoint.starts_with("https://") {
                Some(super::tls::client_config(&config.tls)?)
            } else {
                None
            };
            let failed = |reason: String| crate::error::Error::Exporter {
                reason: format!(
                    "cannot build the OTLP exporter for {}: {reason}",
                    config.endpoint
                ),
            };
            let inner = match config.protocol {
                OtlpProtocol::Grpc => Inner::Grpc(
                    grpc::GrpcClient::new(
                        config,
                        on_thread_start,
                        #[cfg(feature = "tls")]
                        tls,
                    )
                    .map_err(failed)?,
                ),
                OtlpProtocol::HttpProtobuf => Inner::Http(
                    http::HttpClient::new(
                        &config.endpoint,
                        &config.headers,
                        config.compression,
                        #[cfg(feature = "tls")]
                        tls.map(|t| t.rustls),
                    )
                    .map_err(failed)?,
                ),
            };
            Ok(Client {
                inner,
                compression: config.compression,
                gzipped: Vec::new(),
                timeout: config.timeout,
            })
        }

        /// Sends one encoded request, within `timeout` and the transport's own timeout.
        /// `body` is taken (gRPC hands it to tonic); the caller refills it.
        pub(crate) fn send(
            &mut self,
            body: &mut Vec<u8>,
            timeout: Duration,
        ) -> Result<Accepted, Failure> {
            let timeout = timeout.min(self.timeout);
            match &mut self.inner {
                Inner::Http(client) => {
                    let body = if self.compression == OtlpCompression::Gzip {
                        gzip(body, &mut self.gzipped)?;
                        &self.gzipped
                    } else {
                        &*body
                    };
                    client.post(body, timeout)
                }
                // tonic takes the request by value and compresses it itself.
                Inner::Grpc(client) => {
                    let capacity = body.len();
                    let body = std::mem::replace(body, Vec::with_capacity(capacity));
                    client.export(body, timeout)
                }
            }
        }
    }

    /// `body` gzipped into `out`, with flate2's pure-Rust deflate (`miniz_oxide`) at its
    /// fastest level: see docs/design.md, "The OTLP transport", for the measured figures.
    fn gzip(body: &[u8], out: &mut Vec<u8>) -> Result<(), Failure> {
        use std::io::Write as _;
        out.clear();
        let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        encoder
            .write_all(body)
            .and_then(|()| encoder.try_finish())
            .map_err(|e| Failure::permanent(format!("cannot gzip the request: {e}")))
    }
}
