//! `init()`'s own `tracing` subscriber: spans in [`slots`](crate::traces::slots), the trace
//! work of [`lifecycle`](crate::traces::lifecycle), and the log lines and records of `logs`,
//! called in one place rather than through a `Registry` and five layers.
//!
//! What it does per span, and what it no longer pays (docs/design.md, "Spans at fastrace's
//! cost"): a slot from the thread's free list (no slab shard, no reference count per lookup),
//! no extension map (the record, the ids and the fields sit in the slot), no per-layer filter
//! state, and the trace work, the log fields and the exemplar stack decided from flags read
//! once. Behaviour is `Registry` + obs's layers': the same parent is found, and the same
//! lines, records and spans come out (the tests of `init()` run on it); only a span no output
//! wants is no longer built (the `Registry` stack built every span while logs were on).

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Filter;

use crate::logs::{EventSpan, LogFormat, Ship, TextLine};
use crate::traces::context::{entered_sampled, exited_sampled, take_opening};
use crate::traces::lifecycle::{self, any_record, record_kept};
use crate::traces::slots::{self, Kept, Slot, Spans};
use crate::traces::{Fields, FieldsVisitor, Link};

/// The subscriber: its spans, and what it was built to do with them.
pub(crate) struct ObsSubscriber {
    spans: Spans,
    /// `OBS_TRACES_FILTER`: the spans and events the trace work sees while an exporter runs.
    traces: Targets,
    /// The stderr log lines and their filter (`RUST_LOG`), unless `OBS_LOG_FORMAT=off`.
    lines: Option<(LogFormat, Targets)>,
    /// Whether events may be shipped over OTLP (this install configured it).
    shipping: bool,
}

impl ObsSubscriber {
    pub(crate) fn new(
        traces: Targets,
        format: LogFormat,
        logs_filter: Targets,
        shipping: bool,
    ) -> ObsSubscriber {
        ObsSubscriber {
            spans: Spans::new(),
            traces,
            lines: (format != LogFormat::Off).then_some((format, logs_filter)),
            shipping,
        }
    }

    /// Its spans, for code that finds a span's trace state through its `Dispatch`.
    pub(crate) fn spans(&self) -> &Spans {
        &self.spans
    }

    /// Whether span fields are kept for log lines and records (a sampled span's are in its
    /// record anyway).
    fn keeps_fields(&self) -> bool {
        self.lines.is_some() || self.shipping
    }

    /// The trace work sees `meta` on this thread (an exporter runs, not on its own threads).
    #[inline]
    fn traced(&self, meta: &Metadata<'_>) -> bool {
        crate::traces::exporting_here() && self.traces.would_enable(meta.target(), meta.level())
    }

    /// The stderr lines include `meta` (an event written, or a span named in a text line).
    fn in_lines(&self, meta: &Metadata<'_>) -> bool {
        self.lines
            .as_ref()
            .is_some_and(|(_, filter)| filter.would_enable(meta.target(), meta.level()))
    }

    /// Whether anything wants `meta`'s spans or events, on any thread: what the callsite's
    /// interest is built from.
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        let traced =
            crate::traces::exporting() && self.traces.would_enable(meta.target(), meta.level());
        // A JSON line names the span it is in even when the log filter leaves the span out
        // (`RUST_LOG=warn`, spans at `info`): every span is wanted.
        let json_span = meta.is_span()
            && self
                .lines
                .as_ref()
                .is_some_and(|(format, _)| *format == LogFormat::Json);
        traced || json_span || self.in_lines(meta) || (self.shipping && crate::logs::exports(meta))
    }

    /// The parent of a new span or an event: the explicit one, the current one, or none.
    fn parent_of(&self, contextual: bool, explicit: Option<&Id>) -> Option<(Id, &'static Slot)> {
        if contextual {
            slots::current(&self.spans)
        } else {
            let id = explicit?;
            self.spans.get(id).map(|slot| (id.clone(), slot))
        }
    }

    /// `span` and its ancestors, innermost first.
    fn ancestors(&self, span: Option<&'static Slot>) -> impl Iterator<Item = &'static Slot> + '_ {
        core::iter::successors(span, |slot| {
            slot.parent().and_then(|id| self.spans.get(&id))
        })
    }

    /// The nearest of `span` and its ancestors that the trace work gave ids.
    fn nearest_with_ids(&self, span: Option<&'static Slot>) -> Option<&'static Slot> {
        self.ancestors(span).find(|slot| slot.ids().is_some())
    }

    /// `span` and its ancestors, innermost first, collected.
    fn scope(&self, span: Option<&'static Slot>) -> Vec<&'static Slot> {
        self.ancestors(span).collect()
    }

    /// Releases one reference to `id`; closes the span and then its ancestors as their last
    /// references go.
    fn release(&self, id: &Id) -> bool {
        let Some(slot) = self.spans.get(id) else {
            return false;
        };
        if !slot.release() {
            return false;
        }
        let mut closing = Some((id.clone(), slot));
        while let Some((id, slot)) = closing.take() {
            let end = crate::clock::raw();
            let meta = slot.meta();
            let parent = slots::free(&id, slot, |record| lifecycle::finish(meta, record, end));
            closing = parent
                .and_then(|parent| self.spans.get(&parent).map(|slot| (parent, slot)))
                .filter(|(_, slot)| slot.release());
        }
        true
    }

    /// The span event, the log line and the shipped record of `event`.
    fn dispatch_event(&self, event: &Event<'_>, span: Option<&'static Slot>) {
        let meta = event.metadata();
        if any_record()
            && self.traced(meta)
            && let Some(slot) = self.nearest_with_ids(span)
            && slot.has_record()
            && let Some(record) = slot.lock().record.as_mut()
        {
            lifecycle::add_event(record, event);
        }
        match &self.lines {
            Some((LogFormat::Text, filter)) if filter.would_enable(meta.target(), meta.level()) => {
                self.text_line(event, span);
            }
            Some((LogFormat::Json, filter)) if filter.would_enable(meta.target(), meta.level()) => {
                self.json_line(event, span);
            }
            _ => {}
        }
        if self.shipping && crate::logs::exports(meta) {
            self.ship(event, span);
        }
    }

    fn text_line(&self, event: &Event<'_>, span: Option<&'static Slot>) {
        let mut line = TextLine::new(event.metadata());
        for slot in self.scope(span).into_iter().rev() {
            if !self.in_lines(slot.meta()) {
                continue;
            }
            if slot.has_state() {
                let state = slot.lock();
                line.span(name(slot, &state), fields(&state));
            } else {
                line.span(slot.meta().name(), None);
            }
        }
        line.write(event);
    }

    fn json_line(&self, event: &Event<'_>, span: Option<&'static Slot>) {
        let scope = self.scope(span);
        let found = scope.first().map(|innermost| {
            // Locked innermost first, as every path that holds two locks at once does.
            let states: Vec<_> = scope
                .iter()
                .map(|slot| slot.has_state().then(|| slot.lock()))
                .collect();
            let context = crate::logs::merge_context(
                states
                    .iter()
                    .rev()
                    .filter_map(|state| state.as_deref().and_then(fields)),
            );
            let name = match &states[0] {
                Some(state) => name(innermost, state),
                None => innermost.meta().name(),
            };
            EventSpan {
                event: None,
                name,
                ids: scope.iter().find_map(|slot| slot.ids()),
                context,
            }
        });
        crate::logs::write_json(event, found);
    }

    fn ship(&self, event: &Event<'_>, span: Option<&'static Slot>) {
        let Some(mut record) = Ship::new(event) else {
            return;
        };
        for slot in self.ancestors(span) {
            if !crate::logs::exports(slot.meta()) {
                continue;
            }
            if slot.has_state() {
                let state = slot.lock();
                record.span(slot.ids(), fields(&state));
            } else {
                record.span(slot.ids(), None);
            }
        }
        record.submit();
    }
}

/// The most verbose level `targets` enables, if it says.
fn level_hint(targets: &Targets) -> Option<LevelFilter> {
    <Targets as Filter<()>>::max_level_hint(targets)
}

/// A span's name in log lines, from its locked state.
fn name(slot: &Slot, state: &Kept) -> &'static str {
    lifecycle::exported_name(state.record.as_ref(), slot.meta())
}

/// A span's fields for log lines: its record's, or those kept for the lines.
fn fields(state: &Kept) -> Option<&Fields> {
    match &state.record {
        Some(record) => Some(&record.fields),
        None => (!state.fields.is_empty()).then_some(&state.fields),
    }
}

impl Subscriber for ObsSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // `always` or `never`, never `sometimes`: no `enabled` call per span or event.
        // Starting or stopping an exporter rebuilds every callsite's interest.
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.wants(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let mut hint = LevelFilter::OFF;
        if crate::traces::exporting() {
            hint = hint.max(level_hint(&self.traces)?);
        }
        match &self.lines {
            Some((LogFormat::Json, _)) => return None,
            Some((_, filter)) => hint = hint.max(level_hint(filter)?),
            None => {}
        }
        if self.shipping && crate::logs::exporting() {
            return None;
        }
        Some(hint)
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let meta = attrs.metadata();
        let function = take_opening();
        let parent = self.parent_of(attrs.is_contextual(), attrs.parent());
        let parent_slot = parent.as_ref().map(|(_, slot)| *slot);
        let parent = parent.map(|(id, slot)| {
            slot.clone_ref();
            id.into_u64()
        });
        let (id, slot) = self.spans.create(meta, parent);
        // Fields for log lines are kept for a span without a record (a record keeps them).
        if self.traced(meta) {
            let from = self.nearest_with_ids(parent_slot).and_then(Slot::context);
            let mut state = slot.lock();
            let context = lifecycle::open(attrs, from, function, &mut state.record);
            if state.record.is_some() {
                record_kept();
            } else if self.keeps_fields() {
                // Recorded without asking `is_empty` first: the lock is held already, and
                // the question walks the same fields (40 instructions a span, callgrind).
                slot.keep_fields(&mut state, attrs);
            }
            slot.set_trace(&mut state, context);
        } else if self.keeps_fields() && !attrs.values().is_empty() {
            slot.keep_fields(&mut slot.lock(), attrs);
        }
        id
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let Some(slot) = self.spans.get(span) else {
            return;
        };
        if !slot.has_record() && !self.keeps_fields() {
            return;
        }
        let mut state = slot.lock();
        if let Some(record) = state.record.as_mut() {
            values.record(&mut record.visitor());
        } else {
            values.record(&mut FieldsVisitor(&mut state.fields));
            slot.mark_state();
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        let (Some(slot), Some(other)) = (self.spans.get(span), self.spans.get(follows)) else {
            return;
        };
        let Some(link) = other.ids() else { return };
        if let Some(record) = slot.lock().record.as_mut() {
            record.links.push(Link {
                trace_id: link.trace_id,
                span_id: link.span_id,
                sampled: link.sampled,
            });
        }
    }

    fn event(&self, event: &Event<'_>) {
        let span = self
            .parent_of(event.is_contextual(), event.parent())
            .map(|(_, slot)| slot);
        self.dispatch_event(event, span);
    }

    fn enter(&self, span: &Id) {
        slots::push(self.spans.owner(), span);
        // A span held by tail sampling is not current for exemplars: its trace may be dropped.
        if any_record()
            && let Some(ids) = self.spans.get(span).and_then(Slot::sampled_record)
        {
            entered_sampled(ids);
        }
    }

    fn exit(&self, span: &Id) {
        slots::pop(self.spans.owner(), span);
        if any_record()
            && let Some(ids) = self.spans.get(span).and_then(Slot::sampled_record)
        {
            exited_sampled(ids.span_id);
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(slot) = self.spans.get(id) {
            slot.clone_ref();
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        self.release(&id)
    }

    fn current_span(&self) -> Current {
        match slots::current(&self.spans) {
            Some((id, slot)) => Current::new(id, slot.meta()),
            None => Current::none(),
        }
    }
}
