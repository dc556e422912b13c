//! The guards of a traced call: [`Traced`] owns the call's span and writes how the call ended
//! into it; [`InSpan`] polls an async call's future inside that span.
//!
//! A guard dropped unfinished records `panic` while the thread unwinds and `cancelled`
//! otherwise, as the metric guards do.

use core::pin::Pin;
use core::task::{Context, Poll};

use tracing::callsite::{Callsite as _, DefaultCallsite};

use super::context::{self, Opening};
use crate::autoref::Failure;
use crate::metrics::FnMeta;
use crate::status::{Status, unfinished};

/// OpenTelemetry's `code.function.name`: the fully qualified name of the function.
pub(crate) const CODE_FUNCTION_NAME: &str = "code.function.name";
/// `code.file.path`: the source file.
pub(crate) const CODE_FILE_PATH: &str = "code.file.path";
/// `code.line.number`: the line of the function's name.
pub(crate) const CODE_LINE_NUMBER: &str = "code.line.number";
/// `otel.name`: the span name exporters show, when it is not the callsite's.
pub(crate) const OTEL_NAME: &str = "otel.name";
/// `otel.status_code`: `ERROR` on a failure.
pub(crate) const OTEL_STATUS_CODE: &str = "otel.status_code";
/// `otel.status_description`: the error's `Display`, or the status.
pub(crate) const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
/// `error.type`: the error's type, or the status.
pub(crate) const ERROR_TYPE: &str = "error.type";

/// The fields every `#[traced]` span declares, in this order, before the recorded arguments.
/// The expansion writes the same names (obs-macros' tests compare the two lists).
pub const SPAN_FIELD_NAMES: [&str; 7] = [
    CODE_FUNCTION_NAME,
    CODE_FILE_PATH,
    CODE_LINE_NUMBER,
    OTEL_NAME,
    OTEL_STATUS_CODE,
    OTEL_STATUS_DESCRIPTION,
    ERROR_TYPE,
];

const SPAN_FIELDS: usize = SPAN_FIELD_NAMES.len();

/// The most fields a span opened by [`Traced::open`] has: the [`SPAN_FIELD_NAMES`] and up to
/// [`MAX_OPEN_ARGS`] arguments.
const MAX_SPAN_FIELDS: usize = 32;

/// The most recorded arguments [`Traced::open`] takes; the expansion of a function with more
/// goes through `tracing::span!`.
pub const MAX_OPEN_ARGS: usize = MAX_SPAN_FIELDS - SPAN_FIELDS;

/// The parent of a span being opened.
enum Parent {
    /// The current span, as `tracing::span!` gives.
    Current,
    /// `#[traced(parent = …)]`: that span, or none (a root span).
    Given(Option<tracing::Id>),
}

/// Guard of `#[traced]`: owns the call's span and writes how the call ended into it.
#[must_use]
pub struct Traced {
    span: tracing::Span,
    /// Whose call: which statuses are its failures.
    meta: &'static FnMeta,
    /// Set by `finish`; the span itself must still be dropped (closed), so no `mem::forget`.
    finished: bool,
}

impl Traced {
    /// Takes the span the expansion created (possibly disabled) and, if it is enabled, writes
    /// the function's qualified name into it.
    #[inline]
    pub fn start(span: tracing::Span, meta: &'static FnMeta) -> Self {
        // A disabled span still carries its metadata: test `is_disabled` first.
        if !span.is_disabled()
            && let Some(metadata) = span.metadata()
        {
            describe_fn(&span, metadata.name(), meta);
        }
        Traced {
            span,
            meta,
            finished: false,
        }
    }

    /// Opens a traced call's span at `callsite`, as `tracing::span!` would, and starts it.
    ///
    /// The callsite's fields are the seven of [`SPAN_FIELD_NAMES`], then the function's
    /// recorded arguments, whose values are `args`, in that order. The expansion declares the callsite
    /// and calls this once the span's level is known to be enabled: one non-generic function
    /// where `span!` would expand into every traced function (build time; see docs/design.md).
    #[inline(never)]
    pub fn open(
        callsite: &'static DefaultCallsite,
        meta: &'static FnMeta,
        named: bool,
        args: &[&dyn tracing::Value],
    ) -> Self {
        Self::open_in(callsite, meta, named, Parent::Current, args)
    }

    /// As [`Traced::open`], for `#[traced(parent = …)]`: the span's parent is `parent`, or
    /// none (a root span) when it is `None`, rather than the current span.
    #[inline(never)]
    pub fn open_child(
        callsite: &'static DefaultCallsite,
        meta: &'static FnMeta,
        named: bool,
        parent: Option<tracing::Id>,
        args: &[&dyn tracing::Value],
    ) -> Self {
        Self::open_in(callsite, meta, named, Parent::Given(parent), args)
    }

    #[inline]
    fn open_in(
        callsite: &'static DefaultCallsite,
        meta: &'static FnMeta,
        named: bool,
        parent: Parent,
        args: &[&dyn tracing::Value],
    ) -> Self {
        let metadata = callsite.metadata();
        let interest = callsite.interest();
        let enabled = !interest.is_never()
            && (interest.is_always() || tracing::dispatcher::get_default(|d| d.enabled(metadata)));
        let span = if enabled {
            let fields = metadata.fields();
            let mut values: [Option<&dyn tracing::Value>; MAX_SPAN_FIELDS] =
                [None; MAX_SPAN_FIELDS];
            // The fixed fields stay empty: obs's trace layer takes the function and its
            // location from `meta` at export, so no record is made for them on every span (and
            // log lines do not repeat them). The status fields are recorded on a failure.
            // `None` rather than `Some(&Empty)`: a visitor sees neither, but `None` is not a
            // dynamic call per field for every visit, and a span whose arguments are skipped
            // reads as `ValueSet::is_empty` (the log layer then keeps nothing for it).
            for (slot, arg) in values[SPAN_FIELDS..].iter_mut().zip(args) {
                *slot = Some(*arg);
            }
            // A callsite with more fields than obs declared is not one of obs's: record what
            // it has room for rather than hand tracing a mismatched set.
            let len = fields.len().min(MAX_SPAN_FIELDS);
            let opening = Opening {
                function: meta,
                names_span: !named,
            };
            context::opening(opening, || {
                let values = fields.value_set_all(&values[..len]);
                match parent {
                    Parent::Current => tracing::Span::new(metadata, &values),
                    Parent::Given(parent) => tracing::Span::child_of(parent, metadata, &values),
                }
            })
        } else {
            tracing::Span::none()
        };
        Traced {
            span,
            meta,
            finished: false,
        }
    }

    /// Marks the span as following from `cause` (`#[traced(follows_from = …)]`).
    #[inline]
    pub fn follows_from(&self, cause: impl Into<Option<tracing::Id>>) {
        self.span.follows_from(cause);
    }

    /// Where `record!` writes from the body: the call's own span (not the current one, which
    /// may be a span the body opened), `None` when the level is off or no subscriber wants
    /// the span. A `Copy` handle, not a clone of the span: a closure or future that captures
    /// it has nothing to drop, so a disabled call pays one branch (a `Span` clone made the
    /// disabled call of a fn using `record!` cost 40 more instructions, callgrind).
    #[inline]
    pub fn recorder(this: &Option<Traced>) -> Option<Recorder> {
        let span = &this.as_ref()?.span;
        Some(Recorder {
            id: span.id()?.into_non_zero_u64(),
            metadata: span.metadata()?,
        })
    }

    /// Records the call's returned value into the span's `return` field
    /// (`#[traced(ret(field))]`).
    pub fn record_return(&self, value: &dyn tracing::Value) {
        self.span.record("return", value);
    }

    /// As [`Traced::start`], for a span named by `#[traced(name = "…")]`: that name is the one
    /// exporters show, so no `otel.name` overrides it; the function's qualified name is still
    /// written into `code.function.name`.
    #[inline]
    pub fn start_named(span: tracing::Span, meta: &'static FnMeta) -> Self {
        if !span.is_disabled() {
            span.record(CODE_FUNCTION_NAME, meta.qualified());
        }
        Traced {
            span,
            meta,
            finished: false,
        }
    }

    /// Enters the span of a traced call, if its level is enabled.
    ///
    /// The expansion holds an `Option<Traced>`: `None` when the level is disabled, so a
    /// disabled call builds, enters and drops nothing, as `tracing::instrument` does.
    #[inline]
    pub fn enter(this: &Option<Traced>) -> Option<tracing::span::Entered<'_>> {
        this.as_ref().map(|t| t.span.enter())
    }

    /// Ends a traced call, if its level is enabled: see [`Traced::finish`].
    ///
    /// `describe` is a `&dyn Fn`, not a generic: one copy of this code in the program instead
    /// of one per traced function (build time), at no cost on a call that succeeds.
    #[inline]
    pub fn end(this: Option<Traced>, status: Status, describe: &dyn Fn() -> Failure) {
        if let Some(t) = this {
            t.finish(status, describe);
        }
    }

    /// Ends the call with `status`. On a failure, `describe` gives the error's description and
    /// type; it runs only when the span is enabled.
    pub fn finish(mut self, status: Status, describe: &dyn Fn() -> Failure) {
        if self.meta.is_failure(status) && !self.span.is_disabled() {
            let (description, error_type) = describe();
            mark_failed(&self.span, status, description.as_deref(), error_type);
        }
        self.finished = true;
    }
}

/// The call's span, for `record!`: valid while the call runs, as its [`Traced`] guard keeps
/// the span open until the body is done.
#[derive(Clone, Copy, Debug)]
pub struct Recorder {
    id: core::num::NonZeroU64,
    metadata: &'static tracing::Metadata<'static>,
}

impl Recorder {
    /// Records `value` into field `name`, which the expansion checked the span declares.
    pub fn record(self, name: &str, value: &dyn tracing::Value) {
        let fields = self.metadata.fields();
        let Some(field) = fields.field(name) else {
            return;
        };
        let values = [(&field, Some(value))];
        let values = fields.value_set(&values);
        let id = tracing::Id::from_non_zero_u64(self.id);
        tracing::dispatcher::get_default(|dispatch| {
            dispatch.record(&id, &tracing::span::Record::new(&values));
        });
    }
}

pin_project_lite::pin_project! {
    /// The future of a traced call: polled inside the call's span, it owns the call's guard
    /// and hands it back with the output, so the expansion records how the call ended without
    /// keeping a clone of the span. `R` sees the output inside the span, in the poll that
    /// produced it: `#[traced(err, ret)]`'s events.
    ///
    /// As `tracing::Instrumented` (0.1.38 and later), the inner future is dropped inside the
    /// span too: right after its last poll (a second enter and exit, so a completed call reads
    /// `new_span, enter, exit, enter, exit, drop_span`), or, dropped before it completes, in
    /// `drop`, before the guard, which then records `cancelled` (or `panic` while unwinding).
    /// Destructors and the events they log land in the call's span.
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<F, R = NoReport> {
        #[pin]
        future: Inner<F>,
        traced: Option<Traced>,
        report: R,
    }

    impl<F, R> PinnedDrop for InSpan<F, R> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let InnerProj::Running { .. } = this.future.as_mut().project() {
                let entered = this.traced.as_ref().map(|t| t.span.enter());
                this.future.set(Inner::Done);
                drop(entered);
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner future, until it is dropped in the span.
    #[project = InnerProj]
    enum Inner<F> {
        Running { #[pin] future: F },
        Done,
    }
}

/// What an [`InSpan`] does with the output, inside the span.
pub trait OnReady<T> {
    /// Called once, with the output, while the span is entered.
    fn on_ready(&mut self, out: &T);
}

/// Nothing to report.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReport;

impl<T> OnReady<T> for NoReport {
    #[inline]
    fn on_ready(&mut self, _: &T) {}
}

/// A closure that reports the output (the events of `err` and `ret`).
#[derive(Clone, Copy, Debug)]
pub struct OutputReport<G>(G);

impl<T, G: FnMut(&T)> OnReady<T> for OutputReport<G> {
    #[inline]
    fn on_ready(&mut self, out: &T) {
        (self.0)(out);
    }
}

impl<F: Future> InSpan<F> {
    /// Wraps the future of a call whose span is enabled.
    #[inline]
    pub fn new(future: F, traced: Traced) -> Self {
        InSpan {
            future: Inner::Running { future },
            traced: Some(traced),
            report: NoReport,
        }
    }
}

impl<F: Future, G: FnMut(&F::Output)> InSpan<F, OutputReport<G>> {
    /// As [`InSpan::new`], and `report` sees the output inside the span.
    #[inline]
    pub fn reporting(future: F, traced: Traced, report: G) -> Self {
        InSpan {
            future: Inner::Running { future },
            traced: Some(traced),
            report: OutputReport(report),
        }
    }
}

impl<F: Future, R: OnReady<F::Output>> Future for InSpan<F, R> {
    type Output = (F::Output, Option<Traced>);

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let InnerProj::Running { future } = this.future.as_mut().project() else {
            panic!("`InSpan` polled after it completed");
        };
        let entered = this.traced.as_ref().map(|t| t.span.enter());
        let out = future.poll(cx);
        if let Poll::Ready(out) = &out {
            this.report.on_ready(out);
        }
        drop(entered);
        match out {
            Poll::Ready(out) => {
                // The spent future is dropped in the span, entered once more, as tracing does.
                let entered = this.traced.as_ref().map(|t| t.span.enter());
                this.future.set(Inner::Done);
                drop(entered);
                Poll::Ready((out, this.traced.take()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if !self.finished && !self.span.is_disabled() {
            let status = unfinished();
            if self.meta.is_failure(status) {
                mark_failed(&self.span, status, None, None);
            }
        }
    }
}

#[cold]
fn describe_fn(span: &tracing::Span, span_name: &str, meta: &'static FnMeta) {
    span.record(CODE_FUNCTION_NAME, meta.qualified());
    if meta.function() != span_name {
        span.record(OTEL_NAME, meta.function());
    }
}

/// Writes OpenTelemetry's error fields into `span`.
#[cold]
fn mark_failed(
    span: &tracing::Span,
    status: Status,
    description: Option<&str>,
    error_type: Option<&str>,
) {
    span.record(OTEL_STATUS_CODE, "ERROR");
    span.record(
        OTEL_STATUS_DESCRIPTION,
        description.unwrap_or(status.as_str()),
    );
    span.record(ERROR_TYPE, error_type.unwrap_or(status.as_str()));
}
