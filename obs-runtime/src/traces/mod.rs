//! Traces: the span guards of `#[traced]`, obs's own trace layer and its span records, the
//! export settings, and the pipeline that hands finished spans, in batches, to an exporter
//! (OTLP or console) off the calling thread.
//!
//! Depends on the leaves and on `metrics` (a traced function's [`FnMeta`](crate::metrics::FnMeta));
//! `logs` reads the ids this module keeps in each span.

mod access;
mod buffer;
mod console;
pub(crate) mod context;
pub(crate) mod ids;
mod layer;
pub(crate) mod lifecycle;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
pub(crate) use otlp::resource_and_scope;
mod pipeline;
pub mod propagation;
pub(crate) mod recent;
mod record;
mod settings;
pub(crate) mod slots;
pub(crate) mod span;
mod stats;
mod tail;

pub use layer::trace_layer;
pub(crate) use layer::{exported_name, fields_of, has_record, ids_of};
#[cfg(feature = "otlp")]
pub(crate) use otlp::{encode, resource as otlp_resource};
#[cfg(feature = "otlp")]
pub(crate) use pipeline::mark_exporter_thread;
pub(crate) use pipeline::{any_active as exporting, is_active as exporting_here, start_exporter};
pub(crate) use record::{EventVisitor, Fields, FieldsVisitor, Link, Value};
pub(crate) use settings::{Batching, TraceConfig, TraceSettings};
pub use settings::{DEFAULT_FLUSH_TIMEOUT, Sampler, TracesExporter};
pub use span::{InSpan, Traced};
pub(crate) use stats::{collect, totals as span_totals};
pub use tail::TailSampling;
