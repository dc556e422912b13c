//! An exporter thread's start and its guard: dropping the guard takes the pipeline out of its
//! slot (closing its queue), sets the deadline its worker works to, and waits for the worker,
//! at most the flush timeout.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::slot::{Held, Pipeline};
use crate::error::Error;
use crate::sync::lock;

/// Stops its exporter when dropped: the spans', the log records' or the metrics pusher's.
pub(crate) struct ExportGuard {
    pipeline: Option<Box<dyn Held>>,
    shutdown: Arc<Shutdown>,
    done: Receiver<()>,
    flush_timeout: Duration,
    thread: std::thread::Thread,
}

impl std::fmt::Debug for ExportGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportGuard")
            .field("thread", &self.thread.name())
            .field("flush_timeout", &self.flush_timeout)
            .finish_non_exhaustive()
    }
}

impl ExportGuard {
    /// The guard of `pipeline`, which its worker empties: not active until
    /// [`activate`](Self::activate).
    pub(crate) fn with_pipeline<P: Pipeline>(mut self, pipeline: Arc<P>) -> Self {
        self.pipeline = Some(Box::new(pipeline));
        self
    }

    /// Makes this guard's pipeline the active one of its signal.
    pub(crate) fn activate(&self) {
        if let Some(pipeline) = &self.pipeline {
            pipeline.activate();
        }
    }

    /// The exporter's thread, for a pipeline that wakes it.
    pub(crate) fn thread(&self) -> &std::thread::Thread {
        &self.thread
    }
}

impl Drop for ExportGuard {
    fn drop(&mut self) {
        // A worker waiting to retry stops waiting past the deadline.
        self.shutdown.stop_by(Instant::now() + self.flush_timeout);
        if let Some(pipeline) = self.pipeline.take() {
            pipeline.stop();
        }
        // The worker drains its queue (or pushes once more), then says so; it gives up
        // itself at the deadline.
        let _ = self.done.recv_timeout(self.flush_timeout);
    }
}

/// Shared between a guard and its worker.
#[derive(Default)]
pub(crate) struct Shutdown {
    /// When the guard stops waiting: set when it is dropped.
    deadline: Mutex<Option<Instant>>,
    /// Signalled when the deadline is set.
    changed: Condvar,
}

impl Shutdown {
    /// Sets the deadline and wakes the worker waiting on it.
    pub(crate) fn stop_by(&self, deadline: Instant) {
        *lock(&self.deadline) = Some(deadline);
        self.changed.notify_all();
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        *lock(&self.deadline)
    }

    /// Waits until `at`: `false`, at once, if the deadline comes first (a retry that could
    /// not happen in time is not waited for).
    pub(crate) fn wait_until(&self, at: Instant) -> bool {
        let mut deadline = lock(&self.deadline);
        loop {
            if deadline.is_some_and(|d| at >= d) {
                return false;
            }
            let now = Instant::now();
            if now >= at {
                return true;
            }
            deadline = match self.changed.wait_timeout(deadline, at - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// Starts the `signal` exporter's thread (`obs-traces`, `obs-logs`, `obs-metrics`): `build`
/// makes its sink there, and `run` runs with it until the guard's [`Shutdown`] or its closed
/// queue tells it to finish. Returns once the sink is built, or with `build`'s error.
pub(crate) fn start<T: 'static>(
    signal: &str,
    flush_timeout: Duration,
    build: impl FnOnce() -> Result<T, Error> + Send + 'static,
    run: impl FnOnce(T, Arc<Shutdown>) + Send + 'static,
) -> Result<ExportGuard, Error> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), Error>>(1);
    let (done_tx, done) = std::sync::mpsc::sync_channel::<()>(1);
    let shutdown = Arc::new(Shutdown::default());
    let worker_shutdown = Arc::clone(&shutdown);
    let thread = std::thread::Builder::new()
        .name(format!("obs-{signal}s"))
        .spawn(move || match build() {
            Ok(sink) => {
                let _ = ready_tx.send(Ok(()));
                run(sink, worker_shutdown);
                let _ = done_tx.send(());
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| Error::Exporter {
            reason: format!("cannot start the {signal} exporter thread: {e}"),
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(ExportGuard {
            pipeline: None,
            shutdown,
            done,
            flush_timeout,
            thread: thread.thread().clone(),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::Exporter {
            reason: format!("the {signal} exporter thread stopped while starting"),
        }),
    }
}
