//! The sampled span current on this thread: what an exemplar links a metric to.
//!
//! A leaf, so that the metric sites (which come before the traces in the crate's order) can read
//! what the trace layer writes: the layer pushes a sampled span when it is entered and takes it
//! out when it is exited; a site reads the innermost one when it records.
//!
//! The read is the hot path of every instrumented call: one thread-local `Cell` without a
//! destructor (no lazy registration, no borrow flag), copied out. The stack behind it is touched
//! only on entering and exiting sampled spans.

use core::cell::{Cell, RefCell};

/// The ids of a sampled span, as an exemplar carries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanRef {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
}

thread_local! {
    /// The sampled spans entered on this thread, innermost last.
    static STACK: RefCell<Vec<SpanRef>> = const { RefCell::new(Vec::new()) };
    /// The last of `STACK`, kept apart so that reading it is a plain copy.
    static TOP: Cell<Option<SpanRef>> = const { Cell::new(None) };
}

/// The innermost sampled span entered on this thread, if any.
#[inline]
pub(crate) fn sampled() -> Option<SpanRef> {
    // `TOP` has no destructor: readable at any time in the thread's life, `with` never fails.
    TOP.with(Cell::get)
}

/// A sampled span was entered on this thread.
pub(crate) fn enter(span: SpanRef) {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        stack.push(span);
        TOP.set(Some(span));
    });
}

/// A sampled span was exited on this thread. Spans exit in the reverse order of entry on a
/// thread; one exited out of order is taken out where it is.
pub(crate) fn exit(span_id: [u8; 8]) {
    let _ = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        if let Some(at) = stack.iter().rposition(|s| s.span_id == span_id) {
            stack.remove(at);
        }
        TOP.set(stack.last().copied());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(n: u8) -> SpanRef {
        SpanRef {
            trace_id: [n; 16],
            span_id: [n; 8],
        }
    }

    #[test]
    fn the_innermost_entered_span_is_current_until_it_exits() {
        assert_eq!(sampled(), None);
        enter(span(1));
        enter(span(2));
        assert_eq!(sampled(), Some(span(2)));
        exit([1; 8]); // out of order
        assert_eq!(sampled(), Some(span(2)));
        exit([2; 8]);
        assert_eq!(sampled(), None);
    }
}
