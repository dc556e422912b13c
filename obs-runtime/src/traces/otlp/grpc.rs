//! OTLP/gRPC: `TraceService/Export` over tonic's HTTP/2 channel, driven by a current-thread
//! Tokio runtime that the worker's thread owns.
//!
//! The request is the protobuf [`encode`](super::encode) wrote: a codec of raw bytes hands it
//! to tonic as it is (tonic frames it), and reads the answer without decoding it, so no
//! generated message types are needed.

use std::time::Duration;

use bytes::{Buf as _, BufMut as _};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// The method every OTLP collector serves.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Bytes in, nothing out.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = ();
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
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        // `ExportTraceServiceResponse` says at most how many spans were rejected: obs counts
        // what it sent, so the answer's body is not read.
        let n = src.remaining();
        src.advance(n);
        Ok(Some(()))
    }
}

/// A gRPC client of one collector.
pub(crate) struct GrpcClient {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    metadata: MetadataMap,
}

impl GrpcClient {
    /// A client for `url` sending `headers` as metadata; connects on first use.
    pub(crate) fn new(
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
        on_thread_start: fn(),
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .on_thread_start(on_thread_start)
            .build()
            .map_err(|e| format!("cannot start the OTLP exporter's runtime: {e}"))?;
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("{url:?} is not a gRPC endpoint: {e}"))?
            .connect_timeout(timeout)
            .timeout(timeout);
        // The channel spawns its connection task on the runtime it is made in.
        let channel = {
            let _entered = runtime.enter();
            endpoint.connect_lazy()
        };
        let mut metadata = MetadataMap::new();
        for (key, value) in headers {
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
        })
    }

    /// Sends one encoded `ExportTraceServiceRequest`, giving up after `timeout`.
    pub(crate) fn export(&mut self, body: Vec<u8>, timeout: Duration) -> Result<(), String> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let call = async move {
            grpc.ready()
                .await
                .map_err(|e| format!("the collector is not reachable: {e}"))?;
            grpc.unary::<Vec<u8>, (), Raw>(
                request,
                http::uri::PathAndQuery::from_static(EXPORT),
                Raw,
            )
            .await
            .map(|_| ())
            .map_err(|status| {
                format!(
                    "the collector answered {:?}: {}",
                    status.code(),
                    status.message()
                )
            })
        };
        self.runtime
            .block_on(async { tokio::time::timeout(timeout, call).await })
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    }
}
