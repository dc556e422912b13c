//! What every signal's exporter thread shares, whatever it sends: the thread's start
//! ([`start`]), the [`ExportGuard`] that stops it within the flush timeout, the [`Shutdown`]
//! deadline a worker waits on, and the [`Slot`] that holds a signal's active pipeline.
//!
//! Spans (`traces/pipeline.rs`), log records (`logs/export/pipeline.rs`) and the metrics
//! pusher (`page/push.rs`) each build on these; none of them knows the others. Depends on the
//! leaves only.

mod guard;
mod slot;

pub(crate) use guard::{ExportGuard, Shutdown, start};
pub(crate) use slot::{Pipeline, Slot};
