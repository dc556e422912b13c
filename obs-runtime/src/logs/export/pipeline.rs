//! The active logs pipeline: the application's threads put records into its bounded queue
//! with one `try_send` each, never waiting; a full queue drops the record and counts it. Its
//! worker thread wakes at the schedule delay, or when a batch's worth is queued (the one
//! `unpark` per batch the application's threads do), takes what is queued, and exports it a
//! batch at a time, retrying as the transport says. The worker never blocks on the queue
//! itself: a thread blocked in `recv` would be woken, a system call, by every record.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use tracing::Metadata;
use tracing_subscriber::filter::Targets;

use super::layer::LogRecord;
use super::{Dropped, EVER_ACTIVE, EXPORTED, LogsConfig};
use crate::error::Error;
use crate::export::{ExportGuard, Shutdown, Slot};
use crate::otlp::response::Accepted;
use crate::otlp::retry::{Backoff, Failure, FailureKind};
use crate::traces::Batching;

/// Where the worker sends its batches. Built on the worker's own thread.
pub(crate) trait LogSink {
    /// Sends `batch`, giving up after `timeout`.
    fn export(&mut self, batch: &[LogRecord], timeout: Duration) -> Result<Accepted, Failure>;
    /// Where it sends, for messages.
    fn target(&self) -> String;
}

/// The calling threads' side of the active pipeline.
struct Pipeline {
    queue: SyncSender<LogRecord>,
    /// Records queued since the worker last emptied the queue.
    pending: Arc<AtomicUsize>,
    max_batch: usize,
    worker: std::thread::Thread,
    filter: Targets,
}

static ACTIVE: Slot<Pipeline> = Slot::new();

thread_local! {
    /// Set on the logs exporter's threads: what they log is not shipped, so a failing export
    /// cannot feed itself.
    static IN_EXPORTER: Cell<bool> = const { Cell::new(false) };
}

fn mark_exporter_thread() {
    IN_EXPORTER.with(|c| c.set(true));
}

pub(super) fn on_exporter_thread() -> bool {
    IN_EXPORTER.with(Cell::get)
}

pub(crate) fn is_active() -> bool {
    ACTIVE.is_active()
}

/// Whether the active pipeline's filter lets events of `meta` through.
pub(crate) fn enables(meta: &Metadata<'_>) -> bool {
    is_active()
        && ACTIVE
            .read()
            .as_ref()
            .is_some_and(|p| p.filter.would_enable(meta.target(), meta.level()))
}

/// Queues a record for the active pipeline: never blocks; a full queue drops and counts it.
pub(super) fn submit(record: LogRecord) {
    let active = ACTIVE.read();
    let Some(pipeline) = active.as_deref() else {
        Dropped::Shutdown.count(1);
        return;
    };
    match pipeline.queue.try_send(record) {
        Ok(()) => {
            if pipeline.pending.fetch_add(1, Ordering::Relaxed) + 1 == pipeline.max_batch {
                pipeline.worker.unpark();
            }
        }
        Err(TrySendError::Full(_)) => Dropped::QueueFull.count(1),
        Err(TrySendError::Disconnected(_)) => Dropped::Shutdown.count(1),
    }
}

impl crate::export::Pipeline for Pipeline {
    fn slot() -> &'static Slot<Self> {
        &ACTIVE
    }

    fn publish(active: Option<&Self>) {
        if active.is_some() {
            EVER_ACTIVE.store(true, Ordering::Relaxed);
        }
    }

    /// The worker sleeps between batches: woken once the queue is closed, it finishes.
    fn release(this: Arc<Self>) {
        let worker = this.worker.clone();
        drop(this);
        worker.unpark();
    }
}

/// Starts a worker for `config`, `build` making its sink on the worker's thread, and makes
/// it the active pipeline once the sink is built.
pub(crate) fn start(
    config: &LogsConfig,
    build: impl FnOnce(fn()) -> Result<Box<dyn LogSink>, Error> + Send + 'static,
) -> Result<ExportGuard, Error> {
    let (queue, records) = std::sync::mpsc::sync_channel(config.batch.max_queue);
    let pending = Arc::new(AtomicUsize::new(0));
    let (batch, worker_pending) = (config.batch, Arc::clone(&pending));
    let build = move || {
        mark_exporter_thread();
        build(mark_exporter_thread)
    };
    let guard = crate::export::start("log", config.flush_timeout, build, move |sink, shutdown| {
        Worker {
            sink,
            batch,
            shutdown,
            pending: worker_pending,
            told: false,
        }
        .run(&records);
    })?;
    let pipeline = Arc::new(Pipeline {
        queue,
        pending,
        max_batch: config.batch.max_batch.max(1),
        worker: guard.thread().clone(),
        filter: config.filter.clone(),
    });
    let guard = guard.with_pipeline(pipeline);
    guard.activate();
    Ok(guard)
}

struct Worker {
    sink: Box<dyn LogSink>,
    batch: Batching,
    shutdown: Arc<Shutdown>,
    pending: Arc<AtomicUsize>,
    /// A failure was logged since the last success.
    told: bool,
}

impl Worker {
    fn run(&mut self, records: &Receiver<LogRecord>) {
        let max = self.batch.max_batch.max(1);
        let mut batch = Vec::with_capacity(max);
        loop {
            std::thread::park_timeout(self.batch.delay);
            loop {
                match records.try_recv() {
                    Ok(record) => {
                        self.pending.fetch_sub(1, Ordering::Relaxed);
                        batch.push(record);
                        if batch.len() >= max {
                            self.export(&mut batch);
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    // The guard was dropped and everything queued is taken.
                    Err(TryRecvError::Disconnected) => return self.export(&mut batch),
                }
            }
            self.export(&mut batch);
        }
    }

    /// Exports `batch` and empties it, retrying while `OTEL_BLRP_EXPORT_TIMEOUT` and the
    /// shutdown deadline allow; what cannot be sent is counted.
    fn export(&mut self, batch: &mut Vec<LogRecord>) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        let mut backoff = Backoff::new(self.batch.export_timeout);
        let sink = &mut self.sink;
        let dropped = loop {
            let left = self.shutdown.deadline();
            let timeout = left.map_or(backoff.left(), |d| {
                d.saturating_duration_since(Instant::now())
                    .min(backoff.left())
            });
            if timeout.is_zero() {
                break Dropped::Shutdown;
            }
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sink.export(batch, timeout)
            }))
            .unwrap_or_else(|_| Err(Failure::permanent("the exporter panicked")));
            let failure = match result {
                Ok(accepted) => {
                    let rejected = accepted.rejected.min(n);
                    EXPORTED.fetch_add(n - rejected, Ordering::Relaxed);
                    Dropped::Rejected.count(rejected);
                    self.told = false;
                    batch.clear();
                    return;
                }
                Err(failure) => failure,
            };
            if !self.told {
                self.told = true;
                tracing::warn!(
                    target: "obs_runtime",
                    "cannot export log records to {}: {}; retried as the transport allows, \
                     then dropped and counted in obs_logs_dropped_total",
                    sink.target(),
                    failure.reason
                );
            }
            match failure.kind {
                FailureKind::Retryable { after } => match backoff.next_attempt(after) {
                    Some(at) if left.is_none_or(|d| at < d) => {
                        // The guard's drop unparks: the deadline is read again.
                        while Instant::now() < at && self.shutdown.deadline().is_none() {
                            std::thread::park_timeout(at.saturating_duration_since(Instant::now()));
                        }
                    }
                    _ => break Dropped::ExportFailed,
                },
                FailureKind::Tls => break Dropped::Tls,
                FailureKind::Permanent => break Dropped::ExportFailed,
            }
        };
        dropped.count(n);
        batch.clear();
    }
}
