//! OTLP logs protobuf, written straight into one buffer with the span encoder's writer: an
//! `ExportLogsServiceRequest` (opentelemetry-proto's `logs.proto`) of one `ResourceLogs` with
//! the service's resource and one `ScopeLogs` per run of records of one target, the scope
//! named after it (as the OpenTelemetry SDK's OTLP exporter groups an appender's records).

use std::time::Duration;

use tracing::Level;

use super::LogsConfig;
use super::layer::LogRecord;
use super::pipeline::LogSink;
use crate::error::Error;
use crate::otlp::Client;
use crate::otlp::response::Accepted;
use crate::otlp::retry::Failure;
use crate::otlp::wire::Writer;
use crate::traces::TraceConfig;
use crate::traces::encode::{key_value, resource};

/// OpenTelemetry's `SeverityNumber` of a level (`TRACE` 1, `DEBUG` 5, `INFO` 9, `WARN` 13,
/// `ERROR` 17), as the appender maps them.
fn severity(level: Level) -> u64 {
    match level {
        Level::TRACE => 1,
        Level::DEBUG => 5,
        Level::INFO => 9,
        Level::WARN => 13,
        _ => 17, // ERROR
    }
}

/// Encodes the request for `records` into `out` (cleared first); `resource` is the encoded
/// `ResourceLogs.resource` field.
pub(super) fn request(out: &mut Vec<u8>, resource: &[u8], records: &[LogRecord]) {
    out.clear();
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    // ExportLogsServiceRequest.resource_logs = 1
    w.message(1, |w| {
        w.raw(resource); // ResourceLogs.resource = 1
        for run in records.chunk_by(|a, b| a.target() == b.target()) {
            // ResourceLogs.scope_logs = 2
            w.message(2, |w| {
                w.message(1, |w| w.string(1, run[0].target())); // ScopeLogs.scope
                for record in run {
                    w.message(2, |w| write_record(w, record)); // ScopeLogs.log_records
                }
            });
        }
    });
    *out = w.buf;
}

/// A `LogRecord` message body.
fn write_record(w: &mut Writer, record: &LogRecord) {
    let time = crate::clock::unix_nanos(record.time);
    let level = *record.meta.level();
    w.fixed64(1, time); // time_unix_nano
    w.uint(2, severity(level));
    w.string(3, level.as_str());
    if let Some(body) = &record.body {
        w.message(5, |w| w.string(1, body));
    }
    for (key, value) in &record.attributes {
        key_value(w, 6, key, value);
    }
    if let Some(ids) = &record.ids {
        w.fixed32(8, u32::from(ids.sampled)); // flags: W3C trace flags
        w.bytes(9, &ids.trace_id);
        w.bytes(10, &ids.span_id);
    }
    // Events have one time: it is also when obs observed them.
    w.fixed64(11, time);
    w.string(12, record.meta.name()); // event_name
}

/// Sends batches of records to a collector.
pub(super) struct OtlpLogSink {
    client: Client,
    resource: Vec<u8>,
    buf: Vec<u8>,
    target: String,
}

impl OtlpLogSink {
    /// Built on the worker's thread: `mark` marks the gRPC runtime's thread as an exporter's.
    pub(super) fn build(
        config: &LogsConfig,
        traces: &TraceConfig,
        mark: fn(),
    ) -> Result<Box<dyn LogSink>, Error> {
        Ok(Box::new(OtlpLogSink {
            client: Client::new(&config.transport, mark)?,
            resource: resource(&crate::traces::otlp_resource(traces)),
            buf: Vec::new(),
            target: config.transport.endpoint.clone(),
        }))
    }
}

impl LogSink for OtlpLogSink {
    fn export(&mut self, batch: &[LogRecord], timeout: Duration) -> Result<Accepted, Failure> {
        request(&mut self.buf, &self.resource, batch);
        self.client.send(&mut self.buf, timeout)
    }

    fn target(&self) -> String {
        self.target.clone()
    }
}
