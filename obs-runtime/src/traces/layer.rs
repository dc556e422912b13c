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

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::{Extensions, ExtensionsMut, LookupSpan, SpanRef};

use super::context;
use super::ids::{SpanContext, SpanIds};
use super::lifecycle::{self, any_record, record_kept};
use super::record::{Fields, Link, SpanRecord};
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
        return Some(record.context());
    }
    extensions.get_mut::<SpanContext>().cloned()
}

/// Whether the trace layer keeps a record of this span (it is sampled).
pub(crate) fn has_record(extensions: &mut ExtensionsMut<'_>) -> bool {
    extensions.get_mut::<SpanRecord>().is_some()
}

/// The fields of a sampled span, as its trace record keeps them.
pub(crate) fn fields_of<'a>(extensions: &'a Extensions<'_>) -> Option<&'a Fields> {
    extensions.get::<SpanRecord>().map(|r| &r.fields)
}

/// [`lifecycle::exported_name`] of the span whose extensions these are.
pub(crate) fn exported_name(
    extensions: &Extensions<'_>,
    meta: &'static tracing::Metadata<'static>,
) -> &'static str {
    lifecycle::exported_name(extensions.get::<SpanRecord>(), meta)
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

/// The context of the nearest of `span` and its ancestors that the trace work gave ids,
/// reading each one's extensions once.
fn nearest_context<S>(span: Option<SpanRef<'_, S>>) -> Option<SpanContext>
where
    S: for<'a> LookupSpan<'a>,
{
    let mut next = span;
    while let Some(span) = next {
        let extensions = span.extensions();
        let found = match extensions.get::<SpanRecord>() {
            Some(record) => Some(record.context()),
            None => extensions.get::<SpanContext>().cloned(),
        };
        if found.is_some() {
            return found;
        }
        drop(extensions);
        next = span.parent();
    }
    None
}

/// The exporting layer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ObsLayer;

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
        let mut record = None;
        let context = lifecycle::open(attrs, nearest_context(span.parent()), function, &mut record);
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
        lifecycle::add_event(record, event);
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
        lifecycle::finish(span.metadata(), record, end);
    }
}

#[cfg(test)]
mod tests;
