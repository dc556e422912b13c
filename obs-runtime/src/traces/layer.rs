//! The trace layer: spans in, exported traces out, while an exporter runs.
//!
//! obs's own layer, in place of `tracing-opentelemetry` and the SDK's span objects:
//!
//! - the sampling decision is made once, where a trace starts (or taken from the remote
//!   caller, or from the parent), before anything is allocated;
//! - an unsampled span keeps its ids (for its children, for log lines, for `traceparent`) and
//!   records nothing else;
//! - a sampled span keeps a [`SpanRecord`]: ids from a per-thread generator, its parent, raw
//!   clock readings for start and end, its fields as typed values, its events and links;
//! - a closed span goes to its thread's buffer and, a batch at a time, to the exporter's
//!   worker, which encodes it ([`buffer`](super::buffer), [`pipeline`](super::pipeline)).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::{Extensions, ExtensionsMut, LookupSpan, SpanRef};

use super::buffer::{Finished, GENERATION};
use super::context;
use super::ids::{self, SpanContext, SpanIds};
use super::record::{self, EventVisitor, Fields, Link, SpanRecord, SpanStatus};
use crate::clock;
use crate::traces::pipeline;

/// Lets spans through to the trace layer only while an exporter is active, never from the
/// exporter's own threads, and, for `init()`'s subscriber, only those `OBS_TRACES_FILTER`
/// enables.
struct ActiveFilter {
    targets: Option<Targets>,
}

impl ActiveFilter {
    fn targets_enable(&self, meta: &Metadata<'_>) -> bool {
        self.targets
            .as_ref()
            .is_none_or(|t| t.would_enable(meta.target(), meta.level()))
    }
}

impl<S> Filter<S> for ActiveFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        pipeline::is_active() && self.targets_enable(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // `always`: no `enabled` call per span (with `sometimes`, every span creation asked
        // the subscriber again, the largest cost of an unsampled span after the registry's
        // own). The exporter's own threads are left out in `on_new_span` instead. Activating
        // or stopping an exporter rebuilds every callsite's interest.
        if pipeline::any_active() && self.targets_enable(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        if !pipeline::any_active() {
            return Some(LevelFilter::OFF);
        }
        self.targets
            .as_ref()
            .and_then(|t| <Targets as Filter<S>>::max_level_hint(t))
    }
}

/// The layer that turns spans into exported traces, to add to a subscriber of your own
/// (see [`Builder::without_subscriber`](crate::Builder::without_subscriber)).
///
/// Spans go to the exporter the latest [`Builder::install`](crate::Builder::install) started
/// (OTLP or console); while none runs, the layer lets nothing through and costs nothing.
/// It is obs's own layer (docs/design.md, "Traces"): the `propagation` module works on
/// the spans it sees. It filters nothing else: put your own filter on it to choose which spans
/// are exported.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let obs = obs_runtime::Builder::new()
///     .without_subscriber()
///     .without_server()
///     .traces_exporter(obs_runtime::TracesExporter::Console)
///     .install()?;
/// let subscriber = tracing_subscriber::registry().with(obs_runtime::trace_layer());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("work").entered(); // printed when it closes
/// });
/// drop(obs); // flushes
/// # Ok::<(), obs_runtime::Error>(())
/// ```
pub fn trace_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    filtered_layer(None)
}

/// The exporting layer behind its [`ActiveFilter`]: `init()`'s subscriber passes
/// `OBS_TRACES_FILTER`'s targets, [`trace_layer`] none.
pub(crate) fn filtered_layer<S>(targets: Option<Targets>) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ObsLayer.with_filter(ActiveFilter { targets })
}

/// `init()`'s trace layer beside its log layers: the exporting layer filtering by itself
/// (`OBS_TRACES_FILTER`'s targets, and only while an exporter runs), not behind a per-layer
/// filter.
///
/// A per-layer filter costs every span a lookup in the registry's slab (a reference count
/// taken and given back) on each enter, exit, record and close, to read whether it enabled
/// the span; the layer needs no such answer, since a span it left out has no ids in its
/// extensions. It cannot say `Interest::never` as the filter does (a layer without a filter
/// would disable the span for the log layers too), so `init()` keeps the filtered layer when
/// logs are off: there, with no exporter, spans are not even created.
pub(crate) fn gated_layer(targets: Targets) -> GatedLayer {
    GatedLayer { targets }
}

/// See [`gated_layer`].
pub(crate) struct GatedLayer {
    targets: Targets,
}

impl GatedLayer {
    fn enables(&self, meta: &Metadata<'_>) -> bool {
        pipeline::is_active() && self.targets.would_enable(meta.target(), meta.level())
    }
}

impl<S> Layer<S> for GatedLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if self.enables(attrs.metadata()) {
            ObsLayer.on_new_span(attrs, id, ctx);
        }
    }

    // The rest act on spans with ids or a record only, which `on_new_span` gave.
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        ObsLayer.on_record(id, values, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        ObsLayer.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        ObsLayer.on_exit(id, ctx);
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        ObsLayer.on_follows_from(id, follows, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.enables(event.metadata()) {
            ObsLayer.on_event(event, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        ObsLayer.on_close(id, ctx);
    }
}

/// The ids of the span whose extensions these are, sampled or not.
pub(crate) fn ids_of(extensions: &Extensions<'_>) -> Option<SpanIds> {
    extensions
        .get::<SpanRecord>()
        .map(|r| r.ids)
        .or_else(|| extensions.get::<SpanContext>().map(|c| c.ids))
}

/// [`ids_of`] and the `tracestate` the span carries, from extensions open for writing.
pub(crate) fn context_of_mut(extensions: &mut ExtensionsMut<'_>) -> Option<SpanContext> {
    if let Some(record) = extensions.get_mut::<SpanRecord>() {
        return Some(SpanContext {
            ids: record.ids,
            trace_state: record.trace_state.clone(),
        });
    }
    extensions.get_mut::<SpanContext>().cloned()
}

/// [`ids_of`], from extensions open for writing.
pub(crate) fn ids_of_mut(extensions: &mut ExtensionsMut<'_>) -> Option<SpanIds> {
    context_of_mut(extensions).map(|c| c.ids)
}

/// Whether the trace layer keeps a record of this span (it is sampled).
pub(crate) fn has_record(extensions: &mut ExtensionsMut<'_>) -> bool {
    extensions.get_mut::<SpanRecord>().is_some()
}

/// The fields of a sampled span, as its trace record keeps them.
pub(crate) fn fields_of<'a>(extensions: &'a Extensions<'_>) -> Option<&'a Fields> {
    extensions.get::<SpanRecord>().map(|r| &r.fields)
}

/// The name a span is exported under when no `otel.name` renames it: the function's label
/// (`Type::method`) for a `#[traced]` span not named otherwise, else the callsite's. Log lines
/// name their span the same way.
pub(crate) fn exported_name(
    extensions: &Extensions<'_>,
    meta: &'static tracing::Metadata<'static>,
) -> &'static str {
    match extensions.get::<SpanRecord>().and_then(|r| r.function) {
        Some(f) if f.names_span => f.function.function(),
        _ => meta.name(),
    }
}

/// Keeps what the layer knows of a new span; a second trace layer in one subscriber leaves
/// the first one's record alone.
fn keep(extensions: &mut ExtensionsMut<'_>, context: SpanContext, record: Option<SpanRecord>) {
    if extensions.get_mut::<SpanContext>().is_some() || extensions.get_mut::<SpanRecord>().is_some()
    {
        return;
    }
    match record {
        Some(record) => {
            extensions.insert(record);
            record_kept();
        }
        None => extensions.insert(context),
    }
}

/// Where a new span's trace comes from.
struct Origin {
    trace_id: [u8; 16],
    parent: Option<[u8; 8]>,
    /// The parent's decision, `None` at the root of a trace.
    parent_sampled: Option<bool>,
    trace_state: Option<std::sync::Arc<str>>,
    /// The parent is a span of this process.
    local_parent: bool,
}

/// The nearest of `span` and its ancestors that the layer gave ids (a span it never saw, left
/// out by `OBS_TRACES_FILTER` or opened while no exporter ran, is passed over, as a per-layer
/// filter's context passes over the spans it disabled).
fn with_ids<S>(span: Option<SpanRef<'_, S>>) -> Option<SpanRef<'_, S>>
where
    S: for<'a> LookupSpan<'a>,
{
    let mut next = span;
    while let Some(span) = next {
        if ids_of(&span.extensions()).is_some() {
            return Some(span);
        }
        next = span.parent();
    }
    None
}

fn origin<S>(parent: Option<SpanRef<'_, S>>) -> Origin
where
    S: for<'a> LookupSpan<'a>,
{
    // The nearest ancestor with ids, as `with_ids`, reading each one's extensions once.
    let mut next = parent;
    while let Some(parent) = next {
        let extensions = parent.extensions();
        let found = match extensions.get::<SpanRecord>() {
            Some(record) => Some((record.ids, record.trace_state.clone())),
            None => extensions
                .get::<SpanContext>()
                .map(|c| (c.ids, c.trace_state.clone())),
        };
        if let Some((p, trace_state)) = found {
            return Origin {
                trace_id: p.trace_id,
                parent: Some(p.span_id),
                parent_sampled: Some(p.sampled),
                trace_state,
                local_parent: true,
            };
        }
        drop(extensions);
        next = parent.parent();
    }
    match context::remote() {
        Some(remote) => Origin {
            trace_id: remote.trace_id,
            parent: Some(remote.span_id),
            parent_sampled: Some(remote.sampled),
            trace_state: remote.trace_state,
            local_parent: false,
        },
        None => Origin {
            trace_id: ids::trace_id(),
            parent: None,
            parent_sampled: None,
            trace_state: None,
            local_parent: false,
        },
    }
}

/// The exporting layer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ObsLayer;

/// How many spans have a record (are sampled and open), in the whole process. While none has,
/// entering, leaving and closing a span need not look it up: an unsampled trace costs the
/// registry's work and its own ids, not three lookups more per span.
static RECORDS: AtomicUsize = AtomicUsize::new(0);

/// A record was kept in some span's extensions.
pub(crate) fn record_kept() {
    RECORDS.fetch_add(1, Relaxed);
}

/// A record was taken out of some span's extensions.
pub(crate) fn record_taken() {
    RECORDS.fetch_sub(1, Relaxed);
}

/// Whether any span may have a record. A span handed to another thread carries the
/// happens-before of its hand-over, so that thread sees the count that included it.
#[inline]
fn any_record() -> bool {
    RECORDS.load(Relaxed) != 0
}

impl<S> Layer<S> for ObsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let function = context::take_opening();
        // What the exporter's threads do (its HTTP/2 client's own spans) is never traced.
        if !pipeline::is_active() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let from = origin(span.parent());
        let sampled = pipeline::sampler()
            .is_some_and(|sampler| sampler.decide(from.parent_sampled, from.trace_id));
        let ids = SpanIds {
            trace_id: from.trace_id,
            span_id: ids::span_id(),
            sampled,
        };
        // Tail sampling records every span: an unsampled one is held until its local trace is
        // decided (traces/tail).
        let record = (sampled || pipeline::tail_on()).then(|| {
            let mut record = SpanRecord::new(
                ids,
                from.parent,
                clock::raw(),
                attrs.metadata().fields().len(),
            );
            record.local_root = !from.local_parent;
            record.trace_state.clone_from(&from.trace_state);
            record.function = function;
            attrs.record(&mut record.visitor());
            record
        });
        // An unsampled span keeps the caller's `tracestate` too: a service that records
        // nothing still passes it on unchanged.
        let context = SpanContext {
            ids,
            trace_state: from.trace_state,
        };
        keep(&mut span.extensions_mut(), context, record);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(record) = span.extensions_mut().get_mut::<SpanRecord>()
        {
            values.record(&mut record.visitor());
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if any_record()
            && let Some(span) = ctx.span(id)
            && let Some(record) = span.extensions().get::<SpanRecord>()
            && record.ids.sampled
        {
            // A span held by tail sampling is not current for exemplars: its trace may be
            // dropped.
            context::entered_sampled(record.ids);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if any_record()
            && let Some(span) = ctx.span(id)
            && let Some(record) = span.extensions().get::<SpanRecord>()
            && record.ids.sampled
        {
            context::exited_sampled(record.ids.span_id);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let (Some(span), Some(other)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let Some(link) = ids_of(&other.extensions()) else {
            return;
        };
        if let Some(record) = span.extensions_mut().get_mut::<SpanRecord>() {
            record.links.push(Link {
                trace_id: link.trace_id,
                span_id: link.span_id,
                sampled: link.sampled,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = with_ids(ctx.event_span(event)) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(record) = extensions.get_mut::<SpanRecord>() else {
            return;
        };
        let mut visitor = EventVisitor::default();
        event.record(&mut visitor);
        let meta = event.metadata();
        let name = visitor
            .message
            .take()
            .unwrap_or_else(|| meta.name().to_owned());
        // As tracing-opentelemetry did: an ERROR event fails a span whose status is unset.
        if *meta.level() == Level::ERROR && record.status == SpanStatus::Unset {
            record.status = SpanStatus::Error(name.clone());
        }
        let mut fields = visitor.fields;
        fields.push((
            "level",
            record::Value::Str(meta.level().as_str().to_owned()),
        ));
        fields.push(("target", record::Value::Str(meta.target().to_owned())));
        record.events.push(record::Event {
            time: clock::raw(),
            name,
            fields,
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if !any_record() {
            return;
        }
        let end = clock::raw();
        let Some(span) = ctx.span(&id) else { return };
        let Some(record) = span.extensions_mut().remove::<SpanRecord>() else {
            return;
        };
        record_taken();
        pipeline::submit(Finished {
            meta: span.metadata(),
            record,
            end,
            generation: GENERATION.load(Relaxed),
        });
    }
}

/// Runs `f` on the extensions of `span` in the subscriber it belongs to, when that subscriber
/// is built on `tracing_subscriber`'s `Registry` (`init()`'s is, and so are most).
pub(crate) fn with_extensions<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut ExtensionsMut<'_>) -> R,
) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        let mut extensions = span.extensions_mut();
        Some(f(&mut extensions))
    })
    .flatten()
}

#[cfg(test)]
mod tests;
