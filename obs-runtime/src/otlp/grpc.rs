//! OTLP/gRPC: a signal's `Export` over tonic's HTTP/2 channel, driven by a current-thread
//! Tokio runtime that the worker's thread owns.
//!
//! The request is the protobuf the signal wrote: a codec of raw bytes hands it to tonic as it
//! is (tonic frames it, and gzips it when asked), and hands the answer back as bytes for
//! [`response`](super::response) to read, so no generated message types are needed.

use std::time::Duration;

use bytes::{Buf as _, BufMut as _};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::response::{self, Accepted};
use super::retry::Failure;
use super::settings::{OtlpCompression, TransportConfig};

/// Bytes in, bytes out.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

/// A gRPC client of one collector.
pub(crate) struct GrpcClient {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    metadata: MetadataMap,
    path: &'static str,
    compression: OtlpCompression,
}

impl GrpcClient {
    /// A client as `config` says; connects on first use.
    pub(crate) fn new(
        config: &TransportConfig,
        on_thread_start: fn(),
        #[cfg(feature = "tls")] tls: Option<super::tls::Tls>,
    ) -> Result<Self, String> {
        let url = &config.endpoint;
        let timeout = config.timeout;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .on_thread_start(on_thread_start)
            .build()
            .map_err(|e| format!("cannot start the OTLP exporter's runtime: {e}"))?;
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| format!("{url:?} is not a gRPC endpoint: {e}"))?
            .connect_timeout(timeout)
            .timeout(timeout);
        #[cfg(feature = "tls")]
        let endpoint = match tls {
            Some(tls) => endpoint
                .tls_config(tls.tonic())
                .map_err(|e| format!("cannot set up TLS: {e}"))?,
            None => endpoint,
        };
        // The channel spawns its connection task on the runtime it is made in.
        let channel = {
            let _entered = runtime.enter();
            endpoint.connect_lazy()
        };
        let mut metadata = MetadataMap::new();
        for (key, value) in &config.headers {
            let name = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("OTLP header {key:?}: not a valid gRPC metadata key"))?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| format!("OTLP header {key:?}: not a valid gRPC metadata value"))?;
            metadata.insert(name, value);
        }
        Ok(GrpcClient {
            runtime,
            channel,
            metadata,
            path: config.signal.grpc_path(),
            compression: config.compression,
        })
    }

    /// Sends one encoded request, giving up after `timeout`: the collector's partial success,
    /// or the failure with whether to retry it.
    pub(crate) fn export(&mut self, body: Vec<u8>, timeout: Duration) -> Result<Accepted, Failure> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.compression == OtlpCompression::Gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let path = http::uri::PathAndQuery::from_static(self.path);
        let call = async move {
            grpc.ready().await.map_err(|e| {
                let reason = format!("the collector is not reachable: {e}");
                if is_tls(&e) {
                    Failure::tls(reason)
                } else {
                    Failure::retryable(reason, None)
                }
            })?;
            grpc.unary::<Vec<u8>, Vec<u8>, Raw>(request, path, Raw)
                .await
                .map(|answer| response::partial_success(answer.get_ref()))
                .map_err(|status| classify(&status))
        };
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, call).await })
            .map_err(|_| {
                Failure::retryable(format!("no answer within {} ms", timeout.as_millis()), None)
            })?
    }
}

/// Whether a gRPC status asks for the same request again: the specification's list, with
/// `RESOURCE_EXHAUSTED` only when the server says when (`RetryInfo`), since without it the
/// exhaustion may not be one that passes.
fn classify(status: &Status) -> Failure {
    let (message, delay) = response::status(status.details());
    let reason = format!(
        "the collector answered {:?}: {}",
        status.code(),
        message.as_deref().unwrap_or(status.message())
    );
    if is_tls(status) {
        return Failure::tls(reason);
    }
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Failure::retryable(reason, delay),
        Code::ResourceExhausted if delay.is_some() => Failure::retryable(reason, delay),
        _ => Failure::permanent(reason),
    }
}

/// Whether `error` comes from a TLS handshake that failed (a certificate that does not
/// verify, a client certificate refused).
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    #[cfg(feature = "tls")]
    {
        let mut next = Some(error);
        while let Some(e) = next {
            // An `io::Error`'s `source()` skips the error it wraps: look inside it too.
            let wrapped = e
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
            if wrapped || e.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
            next = e.source();
        }
    }
    #[cfg(not(feature = "tls"))]
    let _ = error;
    false
}
