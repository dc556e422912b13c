//! What a new span learns from its thread besides its parent: the remote caller's context and
//! the baggage in scope (`RemoteContext::in_scope`, `Baggage::in_scope`), and the
//! instrumented function `Traced::open` is opening a span for.

use core::cell::{Cell, RefCell};
use std::sync::Arc;

use super::ids::SpanIds;
use super::propagation::Baggage;
use crate::current::SpanRef;
use crate::metrics::FnMeta;

/// A caller's span, from `traceparent` and `tracestate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Remote {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) sampled: bool,
    pub(crate) trace_state: Option<Arc<str>>,
}

/// What is in scope on a thread: the caller's context (what a span with no parent continues,
/// and what is propagated when no span of obs's is current) and the baggage.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    pub(crate) remote: Option<Remote>,
    pub(crate) baggage: Baggage,
}

thread_local! {
    /// The scopes entered on this thread, innermost last; each is whole (an inner one that
    /// changes the baggage copies the remote context of the one around it).
    static SCOPES: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
    /// The function whose span `Traced::open` is creating right now.
    static OPENING: Cell<Option<Opening>> = const { Cell::new(None) };
}

/// The innermost sampled span entered on this thread: one thread-local read, kept in the
/// [`current`](crate::current) leaf so that the metric sites can link their exemplars to it.
#[inline]
#[allow(dead_code)] // read by the layer's tests; the sites read the leaf
pub(crate) fn current_sampled() -> Option<SpanIds> {
    crate::current::sampled().map(|span| SpanIds {
        trace_id: span.trace_id,
        span_id: span.span_id,
        sampled: true,
    })
}

/// A sampled span was entered on this thread.
pub(crate) fn entered_sampled(ids: SpanIds) {
    crate::current::enter(SpanRef {
        trace_id: ids.trace_id,
        span_id: ids.span_id,
    });
}

/// A sampled span was exited on this thread (spans exit in the reverse order of entry on a
/// thread; one exited out of order is taken out where it is).
pub(crate) fn exited_sampled(span_id: [u8; 8]) {
    crate::current::exit(span_id);
}

/// The innermost remote context in scope, if any.
pub(crate) fn remote() -> Option<Remote> {
    SCOPES
        .try_with(|stack| stack.borrow().last().and_then(|s| s.remote.clone()))
        .ok()
        .flatten()
}

/// The baggage in scope (empty when none is).
pub(crate) fn baggage() -> Baggage {
    SCOPES
        .try_with(|stack| stack.borrow().last().map(|s| s.baggage.clone()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Puts `scope` in scope until the guard is dropped.
pub(crate) fn enter(scope: Scope) -> Entered {
    let pushed = SCOPES
        .try_with(|stack| stack.borrow_mut().push(scope))
        .is_ok();
    Entered { pushed }
}

/// Takes a scope out when dropped.
#[must_use]
pub(crate) struct Entered {
    pushed: bool,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if self.pushed {
            let _ = SCOPES.try_with(|stack| stack.borrow_mut().pop());
        }
    }
}

/// A `#[traced]` function whose span is being opened.
#[derive(Clone, Copy)]
pub(crate) struct Opening {
    pub(crate) function: &'static FnMeta,
    /// The function's label (`Type::method`) names the span: no `name = "…"` was given.
    pub(crate) names_span: bool,
}

impl core::fmt::Debug for Opening {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Opening")
            .field("function", &self.function.function())
            .field("names_span", &self.names_span)
            .finish()
    }
}

/// Runs `open` (which creates one span) with `opening` known to the trace layer.
#[inline]
pub(crate) fn opening<R>(opening: Opening, open: impl FnOnce() -> R) -> R {
    let before = OPENING.replace(Some(opening));
    let out = open();
    OPENING.set(before);
    out
}

/// The function whose span is being created, taken once.
#[inline]
pub(crate) fn take_opening() -> Option<Opening> {
    OPENING.try_with(Cell::take).ok().flatten()
}
