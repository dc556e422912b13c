//! The active exporter (a *pipeline*): one at a time, the one the latest
//! [`Builder::install`](crate::Builder::install) started. The calling thread only ever adds a
//! closed span to its own buffer and, once a batch is full, does one `try_send` of the batch
//! into the pipeline's bounded queue ([`buffer`](super::buffer)); a worker thread encodes,
//! exports and counts. A full queue drops the batch and counts it, so a slow or dead collector
//! never blocks the application. Dropping the guard stops the pipeline and waits, at most the
//! flush timeout, for the queue and the threads' buffers to drain.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::buffer::{self, BATCH, Finished, GENERATION};
use super::settings::{Batching, Sampler, TraceConfig, TracesExporter};
use super::stats::{
    DROPPED_EXPORT_FAILED, DROPPED_QUEUE_FULL, DROPPED_REJECTED, DROPPED_SHUTDOWN, DROPPED_TLS,
    EVER_ACTIVE, EXPORTED,
};
use super::tail::{self, Rules};
use crate::error::Error;
use crate::export::{ExportGuard, Shutdown, Slot};
use crate::otlp::response::Accepted;
use crate::otlp::retry::{Backoff, Failure, FailureKind};
use crate::sync::lock;

/// What the queue carries: batches of closed sampled spans.
pub(crate) type Item = Finished;

/// Where a worker sends its batches. Built on the worker's own thread.
pub(crate) trait Sink {
    /// Sends `batch`, giving up after `timeout`: what the backend accepted, or why it
    /// failed and whether to try again.
    fn export(&mut self, batch: &[Item], timeout: Duration) -> Result<Accepted, Failure>;
    /// Where it sends, for messages.
    fn target(&self) -> String;
}

/// The active pipeline's calling-thread side: its queue of batches.
pub(crate) struct Pipeline {
    queue: SyncSender<Vec<Item>>,
    generation: u64,
    sampler: Sampler,
    max_batch: usize,
    /// Tail sampling's rules, when it is on: every span is recorded.
    tail: Option<Arc<Rules>>,
}

static ACTIVE: Slot<Pipeline> = Slot::new();
/// The active pipeline's sampler, read without a lock by every new span: its variant (0 for
/// none) and its ratio's bits.
static SAMPLER_KIND: AtomicU8 = AtomicU8::new(0);
static SAMPLER_RATIO: AtomicU64 = AtomicU64::new(0);
/// The active pipeline samples by outcome (`OBS_TRACES_TAIL`): the layer records every span.
static TAIL: AtomicBool = AtomicBool::new(false);
/// The generations whose worker still runs: their spans wait in the threads' buffers.
static LIVE: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// The last generation handed out.
static LAST_GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on exporter threads: what they do is never traced, so exporting cannot feed
    /// itself.
    static IN_EXPORTER: Cell<bool> = const { Cell::new(false) };
}

/// Whether a pipeline is active and this thread is not one of its exporters.
#[inline]
pub(crate) fn is_active() -> bool {
    ACTIVE.is_active() && !IN_EXPORTER.with(Cell::get)
}

/// Whether a pipeline is active (for callsite interest, which holds for every thread).
#[inline]
pub(crate) fn any_active() -> bool {
    ACTIVE.is_active()
}

/// Marks this thread as an exporter thread.
pub(crate) fn mark_exporter_thread() {
    IN_EXPORTER.with(|c| c.set(true));
}

/// The active pipeline's sampler: two relaxed loads, no lock.
#[inline]
pub(crate) fn sampler() -> Option<Sampler> {
    let ratio = || f64::from_bits(SAMPLER_RATIO.load(Ordering::Relaxed));
    Some(match SAMPLER_KIND.load(Ordering::Relaxed) {
        1 => Sampler::AlwaysOn,
        2 => Sampler::AlwaysOff,
        3 => Sampler::TraceIdRatio(ratio()),
        4 => Sampler::ParentBasedAlwaysOn,
        5 => Sampler::ParentBasedAlwaysOff,
        6 => Sampler::ParentBasedTraceIdRatio(ratio()),
        _ => return None,
    })
}

/// Whether the active pipeline samples by outcome: one relaxed load.
#[inline]
pub(crate) fn tail_on() -> bool {
    TAIL.load(Ordering::Relaxed)
}

/// The active pipeline's tail-sampling rules, under the read lock (the trace work keeps them
/// per thread: `lifecycle::with_tail_rules`).
pub(crate) fn tail_rules() -> Option<Arc<Rules>> {
    ACTIVE.read().as_ref().and_then(|p| p.tail.clone())
}

fn set_sampler(sampler: Option<Sampler>) {
    let (kind, ratio) = match sampler {
        None => (0, 0.0),
        Some(Sampler::AlwaysOn) => (1, 0.0),
        Some(Sampler::AlwaysOff) => (2, 0.0),
        Some(Sampler::TraceIdRatio(r)) => (3, r),
        Some(Sampler::ParentBasedAlwaysOn) => (4, 0.0),
        Some(Sampler::ParentBasedAlwaysOff) => (5, 0.0),
        Some(Sampler::ParentBasedTraceIdRatio(r)) => (6, r),
    };
    SAMPLER_RATIO.store(ratio.to_bits(), Ordering::Relaxed);
    SAMPLER_KIND.store(kind, Ordering::Relaxed);
}

/// Hands a closed sampled span to its thread's buffer, and a full buffer to the active
/// pipeline: never blocks.
pub(crate) fn submit(span: Item) {
    buffer::push(span, send);
}

/// Sends a batch to the active pipeline's queue; a full queue drops it and counts it.
fn send(batch: Vec<Item>) {
    let active = ACTIVE.read();
    let n = len_u64(&batch);
    match active.as_deref() {
        Some(pipeline) => match pipeline.queue.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                DROPPED_QUEUE_FULL.fetch_add(n, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                DROPPED_SHUTDOWN.fetch_add(n, Ordering::Relaxed);
            }
        },
        None => {
            DROPPED_SHUTDOWN.fetch_add(n, Ordering::Relaxed);
        }
    }
}

fn is_live(generation: u64) -> bool {
    lock(&LIVE).contains(&generation)
}

impl crate::export::Pipeline for Pipeline {
    fn slot() -> &'static Slot<Self> {
        &ACTIVE
    }

    /// What every new span reads without the lock: the sampler, tail sampling, the
    /// generation its buffer is tagged with, the batch size.
    fn publish(active: Option<&Self>) {
        if active.is_some() {
            EVER_ACTIVE.store(true, Ordering::Relaxed);
        }
        set_sampler(active.map(|p| p.sampler));
        TAIL.store(active.is_some_and(|p| p.tail.is_some()), Ordering::Relaxed);
        GENERATION.store(active.map_or(0, |p| p.generation), Ordering::Relaxed);
        if let Some(p) = active {
            BATCH.store(p.max_batch, Ordering::Relaxed);
        }
    }
}

/// Starts the exporter `config` asks for, if any: not active until
/// [`ExportGuard::activate`].
pub(crate) fn start_exporter(config: &TraceConfig) -> Result<Option<ExportGuard>, Error> {
    if config.exporter == TracesExporter::None {
        return Ok(None);
    }
    #[cfg(feature = "otlp")]
    let build = {
        let config = config.clone();
        move || super::otlp::build_sink(&config)
    };
    #[cfg(not(feature = "otlp"))]
    let build = || Ok(Box::new(super::console::ConsoleSink) as Box<dyn Sink>);
    start(config, build).map(Some)
}

/// Starts a worker thread for `config`: `build` makes its sink on that thread. Returns once
/// the sink is built (or failed to be). The pipeline is not active until
/// [`ExportGuard::activate`].
pub(crate) fn start(
    config: &TraceConfig,
    build: impl FnOnce() -> Result<Box<dyn Sink>, Error> + Send + 'static,
) -> Result<ExportGuard, Error> {
    // The queue holds batches: as many as make up `max_queue` spans, at least two.
    let batches = (config.batch.max_queue / config.batch.max_batch.max(1)).max(2);
    let (queue, spans) = std::sync::mpsc::sync_channel::<Vec<Item>>(batches);
    let generation = LAST_GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    lock(&LIVE).push(generation);
    let batch = config.batch;
    let tail = config.tail.map(Rules::new);
    let worker_tail = tail.clone();
    let build = move || {
        mark_exporter_thread();
        build().inspect_err(|_| lock(&LIVE).retain(|g| *g != generation))
    };
    let guard = crate::export::start(
        "trace",
        config.flush_timeout,
        build,
        move |sink, shutdown| {
            Worker {
                sink,
                batch,
                generation,
                shutdown,
                failing: false,
                told_drop: false,
                told_partial: false,
                tail: worker_tail,
            }
            .run(&spans);
            lock(&LIVE).retain(|g| *g != generation);
        },
    )?;
    Ok(guard.with_pipeline(Arc::new(Pipeline {
        queue,
        generation,
        sampler: config.sampler,
        max_batch: config.batch.max_batch.max(1),
        tail,
    })))
}

struct Worker {
    sink: Box<dyn Sink>,
    batch: Batching,
    generation: u64,
    shutdown: Arc<Shutdown>,
    /// The last export failed: the next success is reported.
    failing: bool,
    /// A dropped batch was logged since the last success.
    told_drop: bool,
    /// A partial success was logged (once per pipeline: the collector repeats itself).
    told_partial: bool,
    /// Tail sampling's rules, when it is on: the worker decides the traces held under them
    /// past their age, and every one still held when it stops (traces/tail).
    tail: Option<Arc<Rules>>,
}

impl Worker {
    fn run(&mut self, batches: &Receiver<Vec<Item>>) {
        let mut last = Instant::now();
        loop {
            let wait = self.batch.delay.saturating_sub(last.elapsed());
            match batches.recv_timeout(wait) {
                // A queue that never empties (a slow collector) still gets the schedule's
                // work below once per delay: without it, traces held past `max_age` stayed
                // held until `max_memory` decided every new trace at its first span.
                Ok(batch) => self.export_own(batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last.elapsed() >= self.batch.delay {
                // Spans of threads that went quiet before filling a batch.
                let quiet = buffer::collect(self.generation, is_live);
                self.export_chunks(&quiet);
                self.sweep_held(false);
                last = Instant::now();
            }
        }
        // The guard was dropped: what is queued was received above; send what the threads
        // still hold, in batches, until the deadline.
        let rest = buffer::collect(self.generation, is_live);
        self.export_chunks(&rest);
        if let Some(rules) = &self.tail {
            // From here a span that closes into a trace held under these rules decides it
            // at once: the sweep below sees only the traces listed so far.
            rules.retire();
        }
        self.sweep_held(true);
    }

    /// With tail sampling, decides the traces held past their `max_age` (or all of them,
    /// `all`: the pipeline stops) and exports the kept ones of this pipeline.
    fn sweep_held(&mut self, all: bool) {
        let Some(rules) = &self.tail else {
            return;
        };
        let mut kept = Vec::new();
        let generation = self.generation;
        tail::sweep(rules, all, |mut span| {
            // Exported now, by this pipeline, whenever its spans closed.
            span.generation = generation;
            kept.push(span);
        });
        self.export_own(kept);
    }

    /// Exports the spans of this pipeline in `batch`; a stray span of another generation
    /// (queued while the pipelines changed) is dropped and counted.
    fn export_own(&mut self, mut batch: Vec<Item>) {
        let before = len_u64(&batch);
        batch.retain(|s| s.generation == self.generation);
        DROPPED_SHUTDOWN.fetch_add(before - len_u64(&batch), Ordering::Relaxed);
        self.export_chunks(&batch);
    }

    /// Exports `spans` in batches of at most the batch size; past the deadline, the rest is
    /// dropped and counted.
    fn export_chunks(&mut self, spans: &[Item]) {
        for chunk in spans.chunks(self.batch.max_batch.max(1)) {
            if self.past_deadline() {
                DROPPED_SHUTDOWN.fetch_add(len_u64(chunk), Ordering::Relaxed);
                continue;
            }
            self.export(chunk);
        }
    }

    fn past_deadline(&self) -> bool {
        self.shutdown
            .deadline()
            .is_some_and(|d| Instant::now() >= d)
    }

    /// Exports one batch, retrying it as the transport says while the batch's export
    /// timeout (`OTEL_BSP_EXPORT_TIMEOUT`) and the shutdown deadline allow. Meanwhile the
    /// batch keeps its place: new batches wait in the bounded queue behind it, and what
    /// overflows the queue is dropped there, by the application's `try_send`, which never
    /// waits.
    fn export(&mut self, batch: &[Item]) {
        if batch.is_empty() {
            return;
        }
        let n = len_u64(batch);
        if super::recent::is_enabled() {
            super::recent::keep(batch);
        }
        let mut backoff = Backoff::new(self.batch.export_timeout);
        loop {
            let timeout = match self.shutdown.deadline() {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(backoff.left()),
                None => backoff.left(),
            };
            // A panicking exporter loses its batch, not the thread.
            let sink = &mut self.sink;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sink.export(batch, timeout)
            }))
            .unwrap_or_else(|_| Err(Failure::permanent("the exporter panicked")));
            let failure = match result {
                Ok(accepted) => return self.accepted(n, &accepted),
                Err(failure) => failure,
            };
            if let FailureKind::Retryable { after } = failure.kind
                && let Some(at) = backoff.next_attempt(after)
            {
                self.tell_failure(&failure.reason, true);
                if self.shutdown.wait_until(at) {
                    continue;
                }
            }
            let dropped = if failure.kind == FailureKind::Tls {
                &DROPPED_TLS
            } else {
                &DROPPED_EXPORT_FAILED
            };
            dropped.fetch_add(n, Ordering::Relaxed);
            self.tell_failure(&failure.reason, false);
            return;
        }
    }

    /// Counts an accepted batch: what the collector rejected in it is dropped, and its
    /// message logged once.
    fn accepted(&mut self, n: u64, accepted: &Accepted) {
        let rejected = accepted.rejected.min(n);
        EXPORTED.fetch_add(n - rejected, Ordering::Relaxed);
        DROPPED_REJECTED.fetch_add(rejected, Ordering::Relaxed);
        if (rejected > 0 || accepted.message.is_some()) && !self.told_partial {
            self.told_partial = true;
            tracing::warn!(
                target: "obs_runtime",
                "{} accepted spans but rejected {rejected} of {n}: {} (rejected spans are \
                 counted in obs_spans_dropped_total{{reason=\"rejected\"}}; this is logged once)",
                self.sink.target(),
                accepted.message.as_deref().unwrap_or("no reason given"),
            );
        }
        if self.failing {
            self.failing = false;
            self.told_drop = false;
            tracing::info!(
                target: "obs_runtime",
                "exporting spans to {} works again",
                self.sink.target()
            );
        }
    }

    /// Logs the first failure of a run of them, and the first batch it drops.
    fn tell_failure(&mut self, reason: &str, retrying: bool) {
        if retrying && !self.failing {
            tracing::warn!(
                target: "obs_runtime",
                "cannot export spans to {}: {reason}; retrying with backoff, new spans queue \
                 behind up to OTEL_BSP_MAX_QUEUE_SIZE",
                self.sink.target()
            );
        } else if !retrying && !self.told_drop {
            self.told_drop = true;
            tracing::warn!(
                target: "obs_runtime",
                "cannot export spans to {}: {reason}; the batch is dropped, and so are the \
                 next ones that fail (counted in obs_spans_dropped_total)",
                self.sink.target()
            );
        }
        self.failing = true;
    }
}

fn len_u64<T>(v: &[T]) -> u64 {
    u64::try_from(v.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
