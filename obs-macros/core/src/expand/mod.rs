//! The last phase, expand: one wrapper per function, whatever attributes are stacked on it.
//!
//! `mod.rs` emits the item (`item_fn`, `item_impl`) or, on any error, the item as written
//! beside the errors, and builds the wrapper around a body; `metrics` the sites and guards of the metrics,
//! `trace` the span of `#[traced]`, and `body` how the user's body runs inside the wrapper
//! for each shape of function (sync, async, returning a future).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{ImplItem, ItemImpl, Stmt};

use crate::args::combine;
use crate::item::{Body, RawFn, Shape, can_return_error, shape};
use crate::plan::{MethodPlan, Plan, Planned, Work, Wrap};

mod body;
mod metrics;
mod record;
pub(crate) mod trace;

/// Emits the planned item, wrapped; or, on any error, as written (less the obs attributes)
/// beside every error, so the function stays declared and one mistake does not cascade.
pub fn expand(planned: Planned) -> TokenStream {
    let Planned { mut errors, work } = planned;
    let item = match work {
        Work::Fn { plan, f } => match item_fn(&plan, (*f).clone()) {
            Ok(tokens) => return tokens,
            Err(e) => {
                combine(&mut errors, e);
                quote!(#f)
            }
        },
        Work::Impl { imp, methods } => match item_impl((*imp).clone(), &methods) {
            Ok(tokens) => return tokens,
            Err(e) => {
                combine(&mut errors, e);
                // The methods' own attributes were reported with the block: emit them
                // merged, so that they do not expand again and repeat their errors.
                let mut imp = imp;
                for method in &methods {
                    if let Some(ImplItem::Fn(item)) = imp.items.get_mut(method.index) {
                        item.attrs.clone_from(&method.merged_attrs);
                    }
                }
                quote!(#imp)
            }
        },
        Work::AsIs(tokens) => tokens,
    };
    let mut out = errors.map(|e| e.to_compile_error()).unwrap_or_default();
    out.extend(item);
    out
}

/// Instruments every method with a body, except the `#[exclude]`d ones, as planned.
///
/// Input: `#[timed] impl S { fn a() {} #[counted] fn b() {} #[exclude] fn c() {} }`.
/// Output: `impl S { fn a() { /* timed */ } fn b() { /* timed, counted */ }
/// #[exclude] fn c() {} }`.
fn item_impl(mut imp: ItemImpl, methods: &[MethodPlan]) -> syn::Result<TokenStream> {
    let mut errors = None;
    for method in methods {
        if let Some(e) = &method.errors {
            combine(&mut errors, e.clone());
        }
        let Some(slot) = imp.items.get_mut(method.index) else {
            continue;
        };
        match &method.wrap {
            Wrap::Merged(plan) => match item_fn(plan, method.f.clone()) {
                Ok(tokens) => *slot = ImplItem::Verbatim(tokens),
                Err(e) => combine(&mut errors, e),
            },
            // Refused, naming the attribute written on the method.
            Wrap::ConstRefused(own) => {
                if let Err(e) = item_fn(own, method.f.clone()) {
                    combine(&mut errors, e);
                }
            }
            // The method's outer attributes less obs's; its body's inner ones (which syn
            // keeps in the same list, printed inside the braces) stay.
            Wrap::ConstLeft => {
                if let ImplItem::Fn(item) = slot {
                    item.attrs
                        .retain(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
                    item.attrs.splice(0..0, method.f.attrs.iter().cloned());
                }
            }
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(quote!(#imp)),
    }
}

/// Expands one function.
///
/// Input:
/// ```text
/// #[counted] #[timed] fn get(id: u32) -> Result<Row, Error> { body }
/// ```
/// Output (sync shape; async and future-returning shapes await the body instead):
/// ```text
/// fn get(id: u32) -> Result<Row, Error> {
///     fn __obs_here() -> &'static str { type_name_of_val(&__obs_here) }   // names the fn
///     static __OBS_META: FnMeta = …;                                      // module, file, line
///     static __OBS_COUNTED: CounterSite = …;  #[distributed_slice] static …;  // registered
///     static __OBS_TIMED: HistogramSite<14> = …;  …
///     let counted = Counted::start(&__OBS_COUNTED);
///     let timed = Timed::start(&__OBS_TIMED);
///     let out = call_once(move || { if false { /* pins the return type */ } { body } });
///     let status = probe(&out);                  // chosen at compile time from the type
///     timed.finish(status); counted.finish(status);
///     out
/// }
/// ```
/// A guard dropped without `finish` (a panic, a dropped future) records `panic`/`cancelled`.
fn item_fn(plan: &Plan, mut f: RawFn) -> syn::Result<TokenStream> {
    // The body's braces keep the user's span: rustc's `dead_code` lint looks at the span of
    // the fn's body, and one at the attribute's (a macro's) silences it.
    let brace = match &f.body {
        Body::Parsed { brace, .. } => Some(brace.span),
        _ => None,
    };
    let Some(stmts) = take_body(plan, &mut f)? else {
        // The body does not parse: emit the fn as it is and let rustc point at the typo.
        return Ok(quote!(#f));
    };
    let m = Span::mixed_site();
    let krate = plan.krate();
    let p = quote_spanned!(m=> #krate::__private);
    let parts = Parts::new(plan, &p, &f, &stmts)?;
    let shape = shape(&f.sig);
    let new_body = body::wrap(parts, &shape, &f, stmts);
    let RawFn {
        attrs,
        vis,
        defaultness,
        sig,
        ..
    } = &f;
    let allow_never =
        matches!(shape, Shape::Never).then(|| quote_spanned!(m=> #[allow(unused_variables)]));
    let mut body = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, new_body);
    if let Some(brace) = brace {
        body.set_span(brace.join());
    }
    Ok(quote! {
        #(#attrs)*
        #allow_never
        #vis #defaultness #sig #body
    })
}

/// The statements of `f`'s body, its inner attributes moved onto `f`; `None` if the body does
/// not parse. A `const fn` and a trait method without a body are refused.
fn take_body(plan: &Plan, f: &mut RawFn) -> syn::Result<Option<Vec<Stmt>>> {
    let kinds = [
        (plan.counted.is_some(), "counted"),
        (plan.timed.is_some(), "timed"),
        (plan.in_flight.is_some(), "in_flight"),
        (plan.traced.is_some(), "traced"),
    ];
    let first = kinds
        .iter()
        .find(|(on, _)| *on)
        .map_or("counted", |(_, n)| n);
    if let Some(constness) = f.sig.constness {
        return Err(syn::Error::new(
            constness.span,
            format!(
                "#[{first}] cannot instrument a `const fn`: it may run at compile time, where there is no clock and no counter. Remove `const`, or the attribute"
            ),
        ));
    }
    let (inner_attrs, stmts) = match std::mem::replace(
        &mut f.body,
        Body::Unparsed(TokenStream::new()),
    ) {
        Body::None(semi) => {
            return Err(syn::Error::new(
                semi.span,
                format!(
                    "#[{first}] needs a body to wrap: give this trait method a default body, or put the attribute on the methods of the impl blocks"
                ),
            ));
        }
        Body::Unparsed(raw) => {
            f.body = Body::Unparsed(raw);
            return Ok(None);
        }
        Body::Parsed { inner, stmts, .. } => (inner, stmts),
    };
    for mut attr in inner_attrs {
        attr.style = syn::AttrStyle::Outer;
        f.attrs.push(attr);
    }
    Ok(Some(stmts))
}

/// What the attributes add around a body. Every generated name is at `Span::mixed_site()`,
/// out of the user's sight: the body's value is `obs_out`, its status `obs_status`.
pub(super) struct Parts {
    p: TokenStream,
    /// Items first in the fn: the metadata and one registered site per metric.
    items: TokenStream,
    /// The metric guards, started before the body.
    starts: TokenStream,
    /// The metric guards, finished with `obs_status`.
    finishes: TokenStream,
    /// `#[traced]`: the span's start, before the guards, its events, and its end, after them.
    trace: Option<trace::TraceParts>,
}

impl Parts {
    fn new(plan: &Plan, p: &TokenStream, f: &RawFn, stmts: &[Stmt]) -> syn::Result<Self> {
        let m = Span::mixed_site();
        let ident = &f.sig.ident;
        let ident_str = ident.unraw().to_string();
        // `file!()`/`line!()` take the position of their own tokens: give them the fn name's.
        let file = quote_spanned!(ident.span()=> ::core::file!());
        let line = quote_spanned!(ident.span()=> ::core::line!());
        let not_failures = (!plan.not_failures.is_empty()).then(|| {
            let statuses = &plan.not_failures;
            quote_spanned!(m=> .with_not_failures(&[#(#statuses),*]))
        });
        let infallible =
            (!can_return_error(&f.sig)).then(|| quote_spanned!(m=> .with_infallible_return()));
        let mut items = quote_spanned! {m=>
            fn __obs_here() -> &'static str {
                ::core::any::type_name_of_val(&__obs_here)
            }
            static __OBS_META: #p::FnMeta = #p::FnMeta::new(
                ::core::module_path!(), #file, #line, #ident_str, __obs_here,
            ) #not_failures #infallible;
        };
        let metrics = metrics::Metrics::new(plan, p);
        items.extend(metrics.items);
        let trace = match &plan.traced {
            Some(trace) => {
                let uses_record = record::uses_record(stmts);
                Some(trace::trace_parts(p, f, trace, uses_record, &file, &line)?)
            }
            None => None,
        };
        Ok(Parts {
            p: p.clone(),
            items,
            starts: metrics.starts,
            finishes: metrics.finishes,
            trace,
        })
    }
}
