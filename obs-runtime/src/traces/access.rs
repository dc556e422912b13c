//! A span's trace state, wherever its subscriber keeps it: in a `Registry`'s extensions
//! (`trace_layer()` in a subscriber of the user's) or in a slot of `init()`'s own subscriber.
//! What propagation reads and changes of a span after it was created goes through here.

use std::sync::MutexGuard;

use tracing_subscriber::registry::{ExtensionsMut, LookupSpan as _};

use super::ids::SpanContext;
use super::layer::context_of_mut;
use super::lifecycle::record_kept;
use super::record::SpanRecord;
use super::slots::{self, Kept, Slot};

/// What can be read and changed of an open span's trace state.
pub(crate) trait SpanAccess {
    /// Its ids and the `tracestate` it passes on, when the trace work gave it ids.
    fn context(&mut self) -> Option<SpanContext>;
    /// Its trace record, when it is sampled (or held by tail sampling).
    fn record(&mut self) -> Option<&mut SpanRecord>;
    /// Takes its trace record out.
    fn take_record(&mut self) -> Option<SpanRecord>;
    /// Gives it a new context and, if `record` is some, a record.
    fn set(&mut self, context: SpanContext, record: Option<SpanRecord>);
}

impl SpanAccess for ExtensionsMut<'_> {
    fn context(&mut self) -> Option<SpanContext> {
        context_of_mut(self)
    }

    fn record(&mut self) -> Option<&mut SpanRecord> {
        self.get_mut::<SpanRecord>()
    }

    fn take_record(&mut self) -> Option<SpanRecord> {
        self.remove::<SpanRecord>()
    }

    fn set(&mut self, context: SpanContext, record: Option<SpanRecord>) {
        self.remove::<SpanContext>();
        drop(self.remove::<SpanRecord>());
        match record {
            Some(record) => {
                self.insert(record);
                record_kept();
            }
            None => self.insert(context),
        }
    }
}

/// A slot of `init()`'s subscriber, its state locked.
struct SlotAccess<'a> {
    slot: &'a Slot,
    state: MutexGuard<'a, Kept>,
}

impl SpanAccess for SlotAccess<'_> {
    fn context(&mut self) -> Option<SpanContext> {
        let ids = self.slot.ids()?;
        Some(SpanContext {
            ids,
            trace_state: self.state.trace_state.clone(),
            tally: self.state.record.as_ref().and_then(|r| r.tally.clone()),
        })
    }

    fn record(&mut self) -> Option<&mut SpanRecord> {
        self.state.record.as_mut()
    }

    fn take_record(&mut self) -> Option<SpanRecord> {
        self.state.record.take()
    }

    fn set(&mut self, context: SpanContext, record: Option<SpanRecord>) {
        if record.is_some() {
            record_kept();
        }
        self.state.record = record;
        self.slot.set_trace(&mut self.state, context);
    }
}

/// Runs `f` on the trace state of `span` in the subscriber it belongs to, when that is
/// `init()`'s or one built on `tracing_subscriber`'s `Registry` (as most are); `None` for a
/// span of another subscriber, or a disabled one.
pub(crate) fn with_span<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut dyn SpanAccess) -> R,
) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(spans) = slots::spans_of(dispatch) {
            let slot = spans.get(id)?;
            let mut access = SlotAccess {
                slot,
                state: slot.lock(),
            };
            return Some(f(&mut access));
        }
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        let mut extensions = span.extensions_mut();
        Some(f(&mut extensions))
    })
    .flatten()
}
