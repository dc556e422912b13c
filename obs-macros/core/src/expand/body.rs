//! How the user's body runs inside its wrapper, for each shape of function: inline or in a
//! closure for a sync fn, in an async block for an async fn, its future measured for a fn
//! that returns one.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Ident, ReturnType, Stmt, Token, Type};

use super::Parts;
use crate::item::{RawFn, Shape, future_output, is_track_caller};

/// The new body of the fn: the user's statements wrapped for `shape`.
///
/// Input: `{ body }` of `fn f() -> T`, and the parts of the attributes.
/// Output: `items; span start; guards start; let obs_out = run(body); let obs_status =
/// probe(&obs_out); guards finish; span end; obs_out`, the body awaited in place for an async
/// fn, or its future wrapped in an `async move` that does the same for a fn returning one.
pub(super) fn wrap(parts: Parts, shape: &Shape, f: &RawFn, mut stmts: Vec<Stmt>) -> TokenStream {
    let m = Span::mixed_site();
    let Parts {
        p,
        items,
        starts,
        finishes,
        trace,
    } = parts;
    let out = Ident::new("obs_out", m);
    let (trace_start, events, trace_finish) = match trace {
        Some(t) => (Some(t.start), t.events, Some(t.finish)),
        None => (None, None, None),
    };
    let (enter, exit) = enter_exit(&p, trace_start.is_some());
    // The future awaited in the call's span, or bare when the level is disabled, as
    // `tracing::instrument` does: no `Instrumented` to poll and drop for nothing.
    let traced = trace_start.is_some();
    // The user's statements stay in a block of their own, so their items do not follow our
    // statements (clippy's `items_after_statements`).
    let body = quote!({ #(#stmts)* });
    let probe = probe(&p);
    // A future's metric guards finish inside the call's own span, entered once more after its
    // last poll, so an exemplar links to it (not to the span polling the call).
    let (enter_again, exit_again) = again(&starts, enter.as_ref(), exit.as_ref());
    match shape {
        Shape::Sync => {
            let (run, early) = sync_parts(
                &p,
                f,
                &mut stmts,
                traced && starts.is_empty(),
                events.as_ref(),
            );
            let events = on_ref(events.as_ref());
            quote_spanned! {m=>
                #items
                #trace_start
                #early
                #enter
                #starts
                let #out = #run;
                #events
                #probe
                #finishes
                #exit
                #trace_finish
                #out
            }
        }
        Shape::Async => {
            let fake_return = fake_return(&f.sig.output);
            let fut = quote_spanned!(m=> async move { #fake_return #body });
            let fut = awaited(&p, traced, &fut, None, events.as_ref());
            quote_spanned! {m=>
                #items
                #trace_start
                #starts
                #fut
                #probe
                #enter_again
                #finishes
                #exit_again
                #trace_finish
                #out
            }
        }
        Shape::ImplFuture | Shape::BoxedFuture => {
            let (enter, exit) = eager_span(&stmts, enter, exit);
            let run = run_sync(&p, f, &mut stmts);
            let inner = Ident::new("obs_future", m);
            // The output type, when the signature names it, pins what the body's future
            // yields: `async { Ok(()) }` alone leaves the error type for the probe to guess.
            let output = future_output(&f.sig.output).map(|ty| {
                let mut ty = ty.clone();
                InferImplTrait.visit_type_mut(&mut ty);
                ty
            });
            let awaited = awaited(
                &p,
                traced,
                &quote_spanned!(m=> #inner),
                output.as_ref(),
                events.as_ref(),
            );
            let wrapped = measured_future(
                shape,
                &awaited,
                &quote!(#probe #enter_again #finishes #exit_again #trace_finish),
            );
            quote_spanned! {m=>
                #items
                #trace_start
                #enter
                #starts
                let #inner = #run;
                #exit
                #wrapped
            }
        }
        Shape::Never => quote_spanned! {m=>
            #items
            #trace_start
            #enter
            #starts
            #body
        },
    }
}

/// The span's enter and exit around the statements of a future-returning fn: none when the
/// body ends in an async block (see [`ends_in_async_block`]).
fn eager_span(
    stmts: &[Stmt],
    enter: Option<TokenStream>,
    exit: Option<TokenStream>,
) -> (Option<TokenStream>, Option<TokenStream>) {
    if ends_in_async_block(stmts) {
        (None, None)
    } else {
        (enter, exit)
    }
}

/// Whether the body's value is an async block, bare or in `Box::pin(..)` (by any path ending
/// in `Box::pin`), the patterns `tracing::instrument` looks for. Such a body (async-trait's
/// methods are `Box::pin(async move { .. })`) is its future's: as with `tracing::instrument`,
/// the span covers that future's polls, not the statements that build it, which run outside
/// the span.
fn ends_in_async_block(stmts: &[Stmt]) -> bool {
    let Some(Stmt::Expr(last, None)) = stmts.last() else {
        return false;
    };
    match last {
        Expr::Async(_) => true,
        Expr::Call(call) => {
            let is_box_pin = matches!(&*call.func, Expr::Path(path)
                if path.path.segments.len() >= 2
                    && path.path.segments.iter().rev().take(2).map(|s| s.ident.to_string()).eq(["pin", "Box"]));
            is_box_pin && call.args.len() == 1 && matches!(call.args.first(), Some(Expr::Async(_)))
        }
        _ => false,
    }
}

/// `let obs_status = …;`: the call's status, chosen at compile time from the type of `obs_out`.
fn probe(p: &TokenStream) -> TokenStream {
    let m = Span::mixed_site();
    quote_spanned! {m=>
        let obs_status = {
            #[allow(unused_imports)]
            use #p::{
                ViaAny as _, ViaBothStatus as _, ViaErrorStatus as _, ViaOkStatus as _,
                ViaResult as _, ViaReturnStatus as _,
            };
            (&&&&&#p::Autoref(&obs_out)).__obs_status()
        };
    }
}

/// `let obs_entered = Traced::enter(&obs_traced);` and its `drop`, for a traced call.
fn enter_exit(p: &TokenStream, traced: bool) -> (Option<TokenStream>, Option<TokenStream>) {
    let m = Span::mixed_site();
    if !traced {
        return (None, None);
    }
    (
        Some(quote_spanned!(m=> let obs_entered = #p::Traced::enter(&obs_traced);)),
        Some(quote_spanned!(m=> ::core::mem::drop(obs_entered);)),
    )
}

/// The span's enter and exit once more around the metric guards' finish of a traced future,
/// when there are metric guards: none for `#[traced]` alone.
fn again(
    starts: &TokenStream,
    enter: Option<&TokenStream>,
    exit: Option<&TokenStream>,
) -> (Option<TokenStream>, Option<TokenStream>) {
    if starts.is_empty() {
        (None, None)
    } else {
        (enter.cloned(), exit.cloned())
    }
}

/// `{ let obs_ref = &obs_out; events }`: the `err`/`ret` events on the body's value.
fn on_ref(events: Option<&TokenStream>) -> Option<TokenStream> {
    let m = Span::mixed_site();
    events.map(|events| quote_spanned!(m=> { let obs_ref = &obs_out; #events }))
}

/// `let obs_out = fut.await;`, in the call's span when `traced`. With the level disabled the
/// future is awaited bare, as `tracing::instrument` does: nothing to poll and drop for nothing.
/// Enabled, `InSpan` owns the guard while it polls and hands it back with the output, so the
/// span is not cloned to be kept for the status. `ty`: the output's type, if known. `events`
/// (`err`, `ret`) run on the output inside the last poll, in the span, as tracing's do.
///
/// Input: `fut`, traced. Output: `let (obs_out, obs_traced) = match obs_traced { Some(t) =>
/// InSpan::new(fut, t).await, None => (fut.await, None) };`.
fn awaited(
    p: &TokenStream,
    traced: bool,
    fut: &TokenStream,
    ty: Option<&Type>,
    events: Option<&TokenStream>,
) -> TokenStream {
    let m = Span::mixed_site();
    let out = Ident::new("obs_out", m);
    if !traced {
        let ty = ty.map(|ty| quote!(: #ty));
        return quote_spanned!(m=> let #out #ty = #fut.await;);
    }
    let ty = ty.map(|ty| quote_spanned!(m=> : (#ty, ::core::option::Option<#p::Traced>)));
    let in_span = match events {
        None => quote_spanned!(m=> #p::InSpan::new(obs_future, obs_traced)),
        Some(events) => quote_spanned! {m=>
            #p::InSpan::reporting(obs_future, obs_traced, |obs_ref| { #events })
        },
    };
    let bare = on_ref(events);
    quote_spanned! {m=>
        let obs_future = #fut;
        let (#out, obs_traced) #ty = match obs_traced {
            ::core::option::Option::Some(obs_traced) => #in_span.await,
            ::core::option::Option::None => {
                let #out = obs_future.await;
                #bare
                (#out, ::core::option::Option::None)
            }
        };
    }
}

/// What a future-returning fn returns: `awaited` (the `let obs_out = …;` of the body's
/// future), then `after` (the status probe and the guards' finish) on its output.
///
/// Input: `awaited`, `after`. Output: `async move { awaited; after; obs_out }`, in
/// `Box::pin(..)` for a boxed future.
fn measured_future(shape: &Shape, awaited: &TokenStream, after: &TokenStream) -> TokenStream {
    let m = Span::mixed_site();
    let out = Ident::new("obs_out", m);
    let wrapped = quote_spanned! {m=>
        async move {
            #awaited
            #after
            #out
        }
    };
    if matches!(shape, Shape::BoxedFuture) {
        quote_spanned!(m=> ::std::boxed::Box::pin(#wrapped))
    } else {
        wrapped
    }
}

/// How a sync body, or the sync part of a future-returning fn, runs: the expression of its
/// value.
///
/// Input: `{ body }`. Output: `call_once(move || { fake_return; { body } })`, or, inline in a
/// `#[track_caller]` fn, `{ let obs_value: T = 'obs_body: { body }; obs_value }`.
fn run_sync(p: &TokenStream, f: &RawFn, stmts: &mut [Stmt]) -> TokenStream {
    let m = Span::mixed_site();
    match sync_body(f, stmts) {
        SyncBody::Inline { label } => {
            let ty = return_type(&f.sig.output);
            let label = label.map(|l| quote!(#l:));
            let body = quote!({ #(#stmts)* });
            quote_spanned!(m=> { let obs_value: #ty = #label #body; obs_value })
        }
        SyncBody::Closure => {
            let fake_return = fake_return(&f.sig.output);
            // Passing the closure where `FnOnce` is expected makes it an `FnOnce` closure,
            // which may return a reborrow of what it captured: `fn f(p: &mut P) -> &mut u8
            // { &mut p.x }` compiles wrapped as it did bare. Called directly, the closure
            // would be `FnMut`, and rustc refuses that return.
            let body = quote!({ #(#stmts)* });
            quote_spanned!(m=> #p::call_once(move || { #fake_return #body }))
        }
    }
}

/// How a sync fn's body runs: `run` evaluates to its value. For `#[traced]` alone
/// (`traced_only`), `early` returns the body's value straight away when the level is
/// disabled: a tail call, as in `tracing::instrument`'s expansion. It tests `obs_enabled`, a
/// bool, not `obs_traced`'s discriminant, so that LLVM threads that path from the level check.
///
/// Input: `{ body }`, traced alone. Output: `early` = `let obs_body = once(move || { body });
/// if !obs_enabled { forget(obs_traced); return obs_body(); }`, and `run` = `obs_body()`.
fn sync_parts(
    p: &TokenStream,
    f: &RawFn,
    stmts: &mut [Stmt],
    traced_only: bool,
    events: Option<&TokenStream>,
) -> (TokenStream, Option<TokenStream>) {
    let m = Span::mixed_site();
    // `sync_body` may rewrite the statements it looks at: it gets a copy here, and only for a
    // `#[track_caller]` fn, the one case where it looks at them.
    let closure = traced_only
        && (!is_track_caller(&f.attrs)
            || matches!(sync_body(f, &mut stmts.to_vec()), SyncBody::Closure));
    if !closure {
        return (run_sync(p, f, stmts), None);
    }
    let fake_return = fake_return(&f.sig.output);
    let body = quote!({ #(#stmts)* });
    let body_fn = Ident::new("obs_body", m);
    // `err`/`ret` events have levels of their own, so they are still emitted, without a span.
    let disabled = match on_ref(events) {
        None => quote_spanned!(m=> return #body_fn();),
        Some(events) => quote_spanned!(m=> let obs_out = #body_fn(); #events return obs_out;),
    };
    // As in `run_sync`: passed where `FnOnce` is expected, the closure is an `FnOnce` one.
    let early = quote_spanned! {m=>
        let #body_fn = #p::once(move || { #fake_return #body });
        if !obs_enabled {
            // `None`: forgotten rather than dropped, so no drop glue is called on this path.
            ::core::mem::forget(obs_traced);
            #disabled
        }
    };
    (quote_spanned!(m=> #body_fn()), Some(early))
}

/// How a sync body runs in its wrapper.
enum SyncBody {
    /// In a closure, called at once: its `return`s and `?`s end the closure, whose value the
    /// wrapper gets. `Location::caller()` in it sees the closure.
    Closure,
    /// Inline, in a block, labeled when its `return`s became `break`s to the label. Taken for
    /// `#[track_caller]` fns, so that `Location::caller()` in the body, and the panic of an
    /// `unwrap()` in it, see the fn's caller, when the body is known not to leave the fn
    /// another way (`?`, or a macro that may `return`): see [`inline_returns`].
    Inline { label: Option<syn::Lifetime> },
}

fn sync_body(f: &RawFn, stmts: &mut [Stmt]) -> SyncBody {
    if !is_track_caller(&f.attrs) {
        return SyncBody::Closure;
    }
    let label = syn::Lifetime::new("'obs_body", Span::mixed_site());
    match inline_returns(stmts, &label) {
        Some(true) => SyncBody::Inline { label: Some(label) },
        Some(false) => SyncBody::Inline { label: None },
        None => SyncBody::Closure,
    }
}

/// The return type, `impl Trait` replaced by `_`, to annotate a `let`.
fn return_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote_spanned!(Span::mixed_site()=> ()),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            InferImplTrait.visit_type_mut(&mut ty);
            quote!(#ty)
        }
    }
}

/// `if false { let fake: R = loop {}; return fake; }`: pins the closure's or async block's
/// return type to the function's before the body is checked, so `?`, `.into()` and
/// `.collect()` in the body infer as they did in the function.
fn fake_return(output: &ReturnType) -> TokenStream {
    let m = Span::mixed_site();
    let (ty, at) = match output {
        ReturnType::Default => (quote_spanned!(m=> ()), m),
        ReturnType::Type(_, ty) => {
            let at = syn::spanned::Spanned::span(&**ty);
            let mut ty = (**ty).clone();
            InferImplTrait.visit_type_mut(&mut ty);
            (quote!(#ty), at)
        }
    };
    // Spanned at the return type, so that rustc's "return type inferred to be … here" note on
    // a type error in the body points at the signature, not at the attribute.
    let fake = Ident::new("obs_fake", m);
    let ret = quote_spanned!(at=> return ::core::convert::identity(#fake););
    quote_spanned! {m=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::let_unit_value,
            clippy::unreachable,
            clippy::let_with_type_underscore,
            clippy::empty_loop
        )]
        if false {
            let #fake: #ty = loop {};
            #ret
        }
    }
}

/// Replaces `impl Trait` by `_`, so a return type can annotate a `let`.
struct InferImplTrait;

impl VisitMut for InferImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(it) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](it.impl_token.span),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

/// Prepares a sync body to run inline in its fn rather than in a closure, so that in a
/// `#[track_caller]` fn `Location::caller()` (and the panic of an `unwrap` in the body) sees
/// the fn's caller, not the closure.
///
/// Input: `{ if x == 0 { return None; } Some(x) }`
/// Output: `{ if x == 0 { break 'label None; } Some(x) }`, to run as `'label: { … }`.
///
/// The body's own `return`s (not those of its closures, async blocks and items) become
/// `break 'label`, so its value still reaches the wrapper. A body that may leave the fn some
/// other way the wrapper would not see is left as it is and `None` returned: a `?`, or a macro
/// not known never to return (`bail!` returns; `assert!` and `format!` do not). `Some(rewrote)`
/// says whether any `return` was rewritten, that is, whether the label is used.
fn inline_returns(stmts: &mut [Stmt], label: &syn::Lifetime) -> Option<bool> {
    let mut inline = Inline {
        label,
        inlinable: true,
        rewrote: false,
    };
    let mut rewritten = stmts.to_vec();
    for stmt in &mut rewritten {
        inline.visit_stmt_mut(stmt);
    }
    if !inline.inlinable {
        return None;
    }
    stmts.clone_from_slice(&rewritten);
    Some(inline.rewrote)
}

struct Inline<'a> {
    label: &'a syn::Lifetime,
    inlinable: bool,
    rewrote: bool,
}

/// Macros of `std` and `tracing`/`log` that never return from the fn they are used in.
const NON_RETURNING_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "panic",
    "unreachable",
    "todo",
    "unimplemented",
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "vec",
    "matches",
    "dbg",
    "concat",
    "stringify",
    "line",
    "column",
    "file",
    "module_path",
    "cfg",
    "env",
    "option_env",
    "include_str",
    "include_bytes",
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "event",
    "span",
    "trace_span",
    "debug_span",
    "info_span",
    "warn_span",
    "error_span",
];

impl Inline<'_> {
    fn check_macro(&mut self, mac: &syn::Macro) {
        let path = &mac.path;
        let known_crate = path.segments.len() == 1
            || path.segments.first().is_some_and(|s| {
                ["std", "core", "alloc", "tracing", "log"]
                    .iter()
                    .any(|c| s.ident == c)
            });
        let known = known_crate
            && path
                .segments
                .last()
                .is_some_and(|s| NON_RETURNING_MACROS.iter().any(|m| s.ident == m));
        if !known || leaves_fn(mac.tokens.clone()) {
            self.inlinable = false;
        }
    }
}

/// Whether macro arguments hold a `return` or a `?`.
fn leaves_fn(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "return",
        TokenTree::Punct(p) => p.as_char() == '?',
        TokenTree::Group(g) => leaves_fn(g.stream()),
        TokenTree::Literal(_) => false,
    })
}

impl VisitMut for Inline<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // Their `return`s and `?`s are their own.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Try(_) => self.inlinable = false,
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                *expr = Expr::Break(syn::ExprBreak {
                    attrs: std::mem::take(&mut ret.attrs),
                    break_token: Token![break](ret.return_token.span),
                    label: Some(self.label.clone()),
                    expr: ret.expr.take(),
                });
                self.rewrote = true;
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        self.check_macro(mac);
    }

    // A nested fn, impl or const: its `return`s are its own.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
