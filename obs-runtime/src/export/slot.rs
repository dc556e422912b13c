//! A signal's active pipeline: one at a time, the one the latest install started. The
//! application's threads read it under a read lock (or, for a yes/no, one relaxed load);
//! swapping it takes the write lock, so once a pipeline is out no caller still uses it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::sync::{read, write};

/// A signal's calling-thread side of a pipeline, held in its [`Slot`].
pub(crate) trait Pipeline: Send + Sync + Sized + 'static {
    /// The signal's slot.
    fn slot() -> &'static Slot<Self>;

    /// Publishes what the application's threads read of the active pipeline without the
    /// lock (`None` once there is none). Runs under the write lock.
    fn publish(_active: Option<&Self>) {}

    /// Lets go of a pipeline taken out of the slot; the last reference closes its queue,
    /// which tells its worker to finish.
    fn release(this: Arc<Self>) {
        drop(this);
    }
}

/// Where a signal's active pipeline lives.
pub(crate) struct Slot<P> {
    active: RwLock<Option<Arc<P>>>,
    /// `active.is_some()`, read without the lock.
    is_active: AtomicBool,
}

impl<P: Pipeline> Slot<P> {
    pub(crate) const fn new() -> Self {
        Slot {
            active: RwLock::new(None),
            is_active: AtomicBool::new(false),
        }
    }

    /// Whether a pipeline is active: one relaxed load.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.is_active.load(Ordering::Relaxed)
    }

    /// The active pipeline, under the read lock.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Option<Arc<P>>> {
        read(&self.active)
    }

    /// Replaces the active pipeline with `pipeline`, if `only_if` is `None` or is the active
    /// one. The old one is dropped outside the lock, and tracing's callsites are asked again
    /// by every dispatcher (the layers answer their interest from whether a pipeline is
    /// active).
    pub(crate) fn set(&self, pipeline: Option<Arc<P>>, only_if: Option<&Arc<P>>) {
        let mut active = write(&self.active);
        if let Some(expected) = only_if
            && !active.as_ref().is_some_and(|a| Arc::ptr_eq(a, expected))
        {
            return;
        }
        self.is_active.store(pipeline.is_some(), Ordering::Relaxed);
        P::publish(pipeline.as_deref());
        let old = std::mem::replace(&mut *active, pipeline);
        drop(active);
        // Dropped outside the lock: the last reference closes the queue.
        drop(old);
        rebuild_interest();
    }
}

/// Has every live dispatcher asked again about every callsite.
///
/// tracing-core (0.1.36) keeps a flag, set when a `Dispatch` is registered, saying whether one
/// dispatcher only was alive then; while it is set, `rebuild_interest_cache` asks only the
/// calling thread's default dispatcher. With one scoped dispatch kept across installs (a
/// user's subscriber under `with_default`, issue 27's bench), an install on a thread outside
/// it asked no subscriber at all: every callsite became `never`, the max level `OFF`, and the
/// kept dispatch built no span again. Registering a dispatch of nothing clears the flag, so
/// the rebuild after it asks every live dispatcher (the throwaway, dropped, is skipped).
/// Installs and guard drops only: never on the application's path. docs/design.md,
/// "Installed again".
fn rebuild_interest() {
    drop(tracing::Dispatch::new(
        tracing::subscriber::NoSubscriber::default(),
    ));
    tracing::callsite::rebuild_interest_cache();
}

/// A pipeline its guard can make active and take out again, whatever its signal.
pub(super) trait Held: Send {
    fn activate(&self);
    /// Takes it out of its slot if it is the active one, and lets go of it.
    fn stop(self: Box<Self>);
}

impl<P: Pipeline> Held for Arc<P> {
    fn activate(&self) {
        P::slot().set(Some(Arc::clone(self)), None);
    }

    fn stop(self: Box<Self>) {
        P::slot().set(None, Some(&self));
        P::release(*self);
    }
}
