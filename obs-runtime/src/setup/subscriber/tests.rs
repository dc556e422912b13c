//! `init()`'s own subscriber: what a `Registry` guaranteed and the slots must too.

use tracing::Dispatch;
use tracing::dispatcher::with_default;

use super::default_dispatch;
use crate::logs::LogFormat;
use crate::traces::slots::{Spans, spans_of};

fn spans(dispatch: &Dispatch) -> &Spans {
    spans_of(dispatch).expect("init()'s subscriber is recognised behind its Dispatch")
}

#[test]
fn spans_are_built_and_current_with_text_lines_and_no_exporter() {
    let dispatch = default_dispatch(LogFormat::Text);
    with_default(&dispatch, || {
        let span = tracing::info_span!("work", n = 1);
        assert!(!span.is_disabled(), "text lines name the spans they are in");
        assert!(tracing::Span::current().is_none());
        span.in_scope(|| {
            assert_eq!(tracing::Span::current().id(), span.id());
            let inner = tracing::info_span!("inner");
            let slot = spans(&dispatch).get(&inner.id().unwrap()).unwrap();
            assert_eq!(slot.parent(), span.id(), "the current span is the parent");
        });
        assert!(tracing::Span::current().is_none(), "exited");
        // Below the lines' `info`: nobody wants it, so it is not built at all.
        assert!(tracing::debug_span!("quiet").is_disabled());
    });
}

#[test]
fn a_closed_spans_id_finds_nothing_once_its_slot_holds_the_next_span() {
    let dispatch = default_dispatch(LogFormat::Text);
    with_default(&dispatch, || {
        let first = tracing::info_span!("first");
        let old = first.id().unwrap();
        drop(first);
        assert!(spans(&dispatch).get(&old).is_none());
        let second = tracing::info_span!("second");
        let new = second.id().unwrap();
        assert_ne!(old, new, "a slot's next span has another generation");
        // A stale id handed back by hand: no panic, no effect on the open span.
        dispatch.enter(&old);
        dispatch.exit(&old);
        assert!(!dispatch.try_close(old.clone()));
        assert_eq!(dispatch.clone_span(&old), old);
        let slot = spans(&dispatch).get(&new).expect("still open");
        assert_eq!(slot.meta().name(), "second");
    });
}

#[test]
fn a_parent_stays_open_while_a_child_is_open() {
    let dispatch = default_dispatch(LogFormat::Json);
    with_default(&dispatch, || {
        let parent = tracing::info_span!("parent");
        let parent_id = parent.id().unwrap();
        let child = tracing::info_span!(parent: &parent, "child");
        drop(parent);
        let slot = spans(&dispatch).get(&parent_id).expect("held by its child");
        assert_eq!(slot.meta().name(), "parent");
        drop(child);
        assert!(spans(&dispatch).get(&parent_id).is_none(), "closed with it");
    });
}

#[test]
fn a_span_entered_on_another_thread_is_current_there_only() {
    let dispatch = default_dispatch(LogFormat::Text);
    with_default(&dispatch, || {
        let span = tracing::info_span!("shared");
        let id = span.id();
        let moved = span.clone();
        let dispatch_there = dispatch.clone();
        let seen = std::thread::spawn(move || {
            with_default(&dispatch_there, || {
                moved.in_scope(|| tracing::Span::current().id())
            })
        })
        .join()
        .unwrap();
        assert_eq!(seen, id);
        assert!(tracing::Span::current().is_none(), "not entered here");
    });
}

#[test]
fn each_subscriber_sees_only_its_own_current_span() {
    let outer = default_dispatch(LogFormat::Text);
    let inner = default_dispatch(LogFormat::Text);
    with_default(&outer, || {
        let span = tracing::info_span!("outer's");
        let _entered = span.enter();
        with_default(&inner, || {
            assert!(tracing::Span::current().is_none());
            let own = tracing::info_span!("inner's");
            assert!(
                spans(&inner)
                    .get(&own.id().unwrap())
                    .unwrap()
                    .parent()
                    .is_none()
            );
        });
        assert_eq!(tracing::Span::current().id(), span.id());
    });
}
