//! Code generation: one wrapper per function, whatever attributes are stacked on it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ImplItem, ItemImpl, Pat, ReturnType, Type};

use crate::args::{Args, Kind, Level, MetricArgs, ObjectiveArg, TraceArgs};
use crate::item::{Body, RawFn, Shape, combine, has_exclude, shape, take_stacked};

/// What to generate for one function: the attributes on it, merged.
#[derive(Clone, Default)]
struct Plan {
    krate: Option<syn::Path>,
    counted: Option<MetricArgs>,
    timed: Option<MetricArgs>,
    in_flight: Option<MetricArgs>,
    traced: Option<TraceArgs>,
}

impl Plan {
    /// Adds one attribute's arguments. `replace` lets a method's own attribute override the
    /// one on its `impl` block; otherwise the same attribute twice is an error.
    fn add(&mut self, args: Args, replace: bool, at: Span) -> syn::Result<()> {
        let kind = args.kind;
        let taken = match kind {
            Kind::Counted => self.counted.replace(args.metric).is_some(),
            Kind::Timed => self.timed.replace(args.metric).is_some(),
            Kind::InFlight => self.in_flight.replace(args.metric).is_some(),
            Kind::Traced => self.traced.replace(args.trace).is_some(),
        };
        if taken && !replace {
            return Err(syn::Error::new(
                at,
                format!("#[{}] is given twice here: keep one", kind.name()),
            ));
        }
        if let Some(krate) = args.krate {
            self.krate = Some(krate);
        }
        Ok(())
    }

    fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote!(#path),
            None => quote_spanned!(Span::mixed_site()=> ::obs_runtime),
        }
    }
}

/// Entry of every attribute: parses, merges the stacked attributes, expands.
///
/// On any error the item is emitted as it was (less the obs attributes), next to the errors,
/// so the function stays declared and one mistake does not cascade.
pub(crate) fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    if crate::item::is_merged_args(&args) {
        return item;
    }
    let mut errors = None;
    let own = Args::parse(kind, args).unwrap_or_else(|e| {
        combine(&mut errors, e);
        Args::empty(kind)
    });
    let krate = own.krate.clone();
    let mut plan = Plan::default();
    if let Err(e) = plan.add(own, false, Span::call_site()) {
        combine(&mut errors, e);
    }

    if let Ok(mut f) = syn::parse2::<RawFn>(item.clone()) {
        let stacked = take_stacked(&mut f.attrs, krate.as_ref());
        add_all(&mut plan, stacked, false, f.sig.ident.span(), &mut errors);
        if errors.is_none() {
            match expand_fn(&plan, f.clone()) {
                Ok(tokens) => return tokens,
                Err(e) => combine(&mut errors, e),
            }
        }
        return with_errors(errors, quote!(#f));
    }
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Impl(mut imp)) => {
            let stacked = take_stacked(&mut imp.attrs, krate.as_ref());
            add_all(&mut plan, stacked, false, imp.impl_token.span, &mut errors);
            if errors.is_none() {
                match expand_impl(&plan, imp.clone()) {
                    Ok(tokens) => return tokens,
                    Err(e) => {
                        combine(&mut errors, e);
                        // The methods' own attributes were reported with the block: emit them
                        // merged, so that they do not expand again and repeat their errors.
                        for item in &mut imp.items {
                            if let ImplItem::Fn(method) = item
                                && !has_exclude(&method.attrs)
                            {
                                let _ = take_stacked(&mut method.attrs, plan.krate.as_ref());
                            }
                        }
                    }
                }
            }
            with_errors(errors, quote!(#imp))
        }
        Ok(other) => {
            let what = describe_item(&other);
            let message = format!(
                "#[{}] goes on a fn, or on an impl block to instrument its methods; this is {what}",
                kind.name()
            );
            let e = match &other {
                syn::Item::Trait(_) => syn::Error::new(
                    Span::call_site(),
                    format!(
                        "{message}: put it on the trait's methods that have a default body, or on the impl blocks"
                    ),
                ),
                // At the attribute: it is what to move or remove.
                _ => syn::Error::new(Span::call_site(), message),
            };
            combine(&mut errors, e);
            with_errors(errors, item)
        }
        // Not an item rustc would accept either: let rustc say what is wrong.
        Err(_) => with_errors(errors, item),
    }
}

fn add_all(
    plan: &mut Plan,
    stacked: syn::Result<Vec<Args>>,
    replace: bool,
    at: Span,
    errors: &mut Option<syn::Error>,
) {
    match stacked {
        Ok(all) => {
            for args in all {
                let at = args.at.unwrap_or(at);
                if let Err(e) = plan.add(args, replace, at) {
                    combine(errors, e);
                }
            }
        }
        Err(e) => combine(errors, e),
    }
}

fn with_errors(errors: Option<syn::Error>, item: TokenStream) -> TokenStream {
    let errors = errors.map(|e| e.to_compile_error());
    quote!(#errors #item)
}

fn describe_item(item: &syn::Item) -> &'static str {
    match item {
        syn::Item::Struct(_) => "a struct",
        syn::Item::Enum(_) => "an enum",
        syn::Item::Trait(_) => "a trait",
        syn::Item::Mod(_) => "a module",
        syn::Item::Const(_) => "a const",
        syn::Item::Static(_) => "a static",
        syn::Item::Type(_) => "a type alias",
        syn::Item::Use(_) => "a use declaration",
        syn::Item::Macro(_) => "a macro invocation",
        syn::Item::Union(_) => "a union",
        _ => "not a fn",
    }
}

/// Instruments every method with a body, except the `#[exclude]`d ones. A method's own obs
/// attributes override the block's for that attribute.
fn expand_impl(plan: &Plan, mut imp: ItemImpl) -> syn::Result<TokenStream> {
    let mut errors = None;
    for item in &mut imp.items {
        let ImplItem::Fn(method) = item else { continue };
        if has_exclude(&method.attrs) {
            continue;
        }
        let mut f = RawFn {
            attrs: std::mem::take(&mut method.attrs),
            vis: method.vis.clone(),
            defaultness: method.defaultness,
            sig: method.sig.clone(),
            body: Body::Parsed {
                brace: method.block.brace_token,
                inner: Vec::new(),
                stmts: method.block.stmts.clone(),
            },
        };
        // Inner attributes of a method body are parsed into `attrs` by syn.
        let (inner, outer): (Vec<_>, Vec<_>) = f
            .attrs
            .drain(..)
            .partition(|a| matches!(a.style, syn::AttrStyle::Inner(_)));
        f.attrs = outer;
        if let Body::Parsed { inner: slot, .. } = &mut f.body {
            *slot = inner;
        }
        let mut method_plan = plan.clone();
        let stacked = take_stacked(&mut f.attrs, plan.krate.as_ref());
        // Each of the method's own attributes overrides the block's, but two of the same on
        // the method are a mistake, and one on a `const fn` is refused like on a free fn.
        let own = matches!(&stacked, Ok(all) if !all.is_empty());
        let mut own_plan = Plan {
            krate: plan.krate.clone(),
            ..Plan::default()
        };
        if let Ok(all) = &stacked {
            let at = f.sig.ident.span();
            add_all(&mut own_plan, Ok(all.clone()), false, at, &mut errors);
        }
        add_all(
            &mut method_plan,
            stacked,
            true,
            f.sig.ident.span(),
            &mut errors,
        );
        if f.sig.constness.is_some() {
            if own {
                // Refused, naming the attribute written on the method.
                if let Err(e) = expand_fn(&own_plan, f) {
                    combine(&mut errors, e);
                }
                continue;
            }
            // An impl-level attribute leaves const fns alone: they cannot record at compile time.
            method.attrs = f.attrs;
            continue;
        }
        match expand_fn(&method_plan, f) {
            Ok(tokens) => *item = ImplItem::Verbatim(tokens),
            Err(e) => combine(&mut errors, e),
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(quote!(#imp)),
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

/// The arguments `#[traced]` records: plain identifiers, not `self`, not `cfg`'d out.
fn recorded_args<'a>(f: &'a RawFn, trace: &TraceArgs) -> syn::Result<Vec<&'a Ident>> {
    let mut all = Vec::new();
    for input in &f.sig.inputs {
        let FnArg::Typed(pat) = input else { continue };
        if let Pat::Ident(p) = &*pat.pat {
            if pat.attrs.is_empty() && p.subpat.is_none() {
                all.push(&p.ident);
            }
        }
    }
    for skipped in &trace.skip {
        let receiver = skipped == "self" && f.sig.receiver().is_some();
        if !all.contains(&skipped) && !receiver {
            let names: Vec<String> = all.iter().map(|a| format!("`{a}`")).collect();
            let known = if names.is_empty() {
                "it has no argument to skip: remove `skip`".to_owned()
            } else {
                format!("its arguments are {}", names.join(", "))
            };
            return Err(syn::Error::new(
                skipped.span(),
                format!(
                    "`skip({skipped})`: `{}` has no argument named `{skipped}`; {known}",
                    f.sig.ident
                ),
            ));
        }
    }
    if trace.skip_all {
        return Ok(Vec::new());
    }
    Ok(all
        .into_iter()
        .filter(|a| !trace.skip.contains(a))
        .collect())
}

fn level_tokens(p: &TokenStream, level: Option<Level>) -> TokenStream {
    let name = match level.unwrap_or(Level::Info) {
        Level::Trace => "TRACE",
        Level::Debug => "DEBUG",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    };
    let ident = Ident::new(name, Span::mixed_site());
    quote_spanned!(Span::mixed_site()=> #p::Level::#ident)
}

fn spec(p: &TokenStream, args: &MetricArgs, default_name: &str) -> TokenStream {
    let name = args
        .name
        .as_ref()
        .map_or_else(|| default_name.to_owned(), syn::LitStr::value);
    let help = args
        .help
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let labels = args.labels.iter().flatten().map(|(k, v)| {
        let k = k.unraw().to_string();
        quote_spanned!(Span::mixed_site()=> (#k, #v))
    });
    let m = Span::mixed_site();
    let objective = args.objective.map(|objective| match objective {
        ObjectiveArg::Success { percent } => {
            quote_spanned!(m=> .with_objective(#p::Objective::Success { percent: #percent }))
        }
        ObjectiveArg::Latency { seconds, percent, .. } => quote_spanned! {m=>
            .with_objective(#p::Objective::Latency { threshold: #seconds, percent: #percent })
        },
    });
    quote_spanned!(m=> #p::Spec::new(#name, #help, &[#(#labels),*]) #objective)
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
///     let out = (move || { if false { /* pins the return type */ } { body } })();
///     let status = probe(&out);                  // chosen at compile time from the type
///     timed.finish(status); counted.finish(status);
///     out
/// }
/// ```
/// A guard dropped without `finish` (a panic, a dropped future) records `panic`/`cancelled`.
fn expand_fn(plan: &Plan, mut f: RawFn) -> syn::Result<TokenStream> {
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
        // The body does not parse: emit the fn as it is and let rustc point at the typo.
        Body::Unparsed(raw) => {
            f.body = Body::Unparsed(raw);
            return Ok(quote!(#f));
        }
        Body::Parsed { inner, stmts, .. } => (inner, stmts),
    };
    for mut attr in inner_attrs {
        attr.style = syn::AttrStyle::Outer;
        f.attrs.push(attr);
    }

    let m = Span::mixed_site();
    let krate = plan.krate();
    let p = quote_spanned!(m=> #krate::__private);
    let ident = &f.sig.ident;
    let ident_str = ident.unraw().to_string();
    let at = ident.span();

    // `file!()`/`line!()` take the position of their own tokens: give them the fn name's.
    let file = quote_spanned!(at=> ::core::file!());
    let line = quote_spanned!(at=> ::core::line!());
    // Items: the function's metadata and one registered site per metric.
    let mut items = quote_spanned! {m=>
        fn __obs_here() -> &'static str {
            ::core::any::type_name_of_val(&__obs_here)
        }
        static __OBS_META: #p::FnMeta = #p::FnMeta::new(
            ::core::module_path!(), #file, #line, #ident_str, __obs_here,
        );
    };
    let register = |site: &Ident, ty: TokenStream, init: TokenStream| {
        let reg = format_ident!("{}_SITE", site);
        quote_spanned! {m=>
            static #site: #ty = #init;
            #[#p::linkme::distributed_slice(#p::SITES)]
            #[linkme(crate = #p::linkme)]
            static #reg: &'static dyn #p::Site = &#site;
        }
    };
    let mut starts = TokenStream::new();
    let mut finishes = TokenStream::new();
    let status = Ident::new("obs_status", m);
    if let Some(args) = &plan.in_flight {
        let site = Ident::new("__OBS_IN_FLIGHT", m);
        let spec = spec(&p, args, "function_calls_in_flight");
        items.extend(register(
            &site,
            quote_spanned!(m=> #p::GaugeSite),
            quote_spanned!(m=> #p::GaugeSite::new(&__OBS_META, #spec)),
        ));
        starts.extend(quote_spanned!(m=> let obs_in_flight = #p::InFlight::start(&#site);));
        finishes.extend(quote_spanned!(m=> obs_in_flight.finish();));
    }
    if let Some(args) = &plan.counted {
        let site = Ident::new("__OBS_COUNTED", m);
        let spec = spec(&p, args, "function_calls_total");
        items.extend(register(
            &site,
            quote_spanned!(m=> #p::CounterSite),
            quote_spanned!(m=> #p::CounterSite::new(&__OBS_META, #spec)),
        ));
        starts.extend(quote_spanned!(m=> let obs_counted = #p::Counted::start(&#site);));
        finishes.extend(quote_spanned!(m=> obs_counted.finish(#status);));
    }
    if let Some(args) = &plan.timed {
        let site = Ident::new("__OBS_TIMED", m);
        let spec = spec(&p, args, "function_duration_seconds");
        let bounds: Vec<f64> = args
            .buckets
            .as_ref()
            .map_or_else(|| DEFAULT_BUCKETS.to_vec(), |(b, _)| b.clone());
        let n = bounds.len();
        let bounds = bounds.into_iter().map(proc_macro2::Literal::f64_suffixed);
        items.extend(register(
            &site,
            quote_spanned!(m=> #p::HistogramSite<#n>),
            quote_spanned!(m=> #p::HistogramSite::new(&__OBS_META, #spec, [#(#bounds),*])),
        ));
        // Started last and finished first: the time measured is the body's.
        starts.extend(quote_spanned!(m=> let obs_timed = #p::Timed::start(&#site);));
        finishes = {
            let rest = finishes;
            quote_spanned!(m=> obs_timed.finish(#status); #rest)
        };
    }

    let out = Ident::new("obs_out", m);
    let traced = plan.traced.as_ref().map(|trace| -> syn::Result<_> {
        let level = level_tokens(&p, trace.level);
        let name = trace
            .name
            .as_ref()
            .map_or_else(|| ident_str.clone(), syn::LitStr::value);
        let args = recorded_args(&f, trace)?.into_iter().map(|arg| {
            let key = arg.unraw().to_string();
            quote_spanned!(m=> #key = (&#p::Probe(&#arg)).__obs_arg(),)
        });
        let fields = trace.fields.as_ref().map(|fields| quote!(#fields));
        let span = quote_spanned! {m=>
            {
                #[allow(unused_imports)]
                use #p::{ArgDebug as _, ArgOther as _};
                #p::tracing::span!(
                    #level,
                    #name,
                    "code.function.name" = #p::Empty,
                    "code.file.path" = #file,
                    "code.line.number" = #line,
                    "otel.name" = #p::Empty,
                    "otel.status_code" = #p::Empty,
                    "otel.status_description" = #p::Empty,
                    "error.type" = #p::Empty,
                    #(#args)*
                    #fields
                )
            }
        };
        let start = quote_spanned!(m=> let obs_traced = #p::Traced::start(#span, &__OBS_META););
        let finish = quote_spanned! {m=>
            obs_traced.finish(#status, || {
                #[allow(unused_imports)]
                use #p::{DescribeAny as _, DescribeDisplay as _, DescribeResult as _};
                (&&#p::Probe(&#out)).__obs_describe()
            });
        };
        Ok((start, finish))
    });
    let (trace_start, trace_finish) = match traced.transpose()? {
        Some((s, f)) => (Some(s), Some(f)),
        None => (None, None),
    };
    let enter = trace_start
        .as_ref()
        .map(|_| quote_spanned!(m=> let obs_entered = obs_traced.span().enter();));
    let exit = trace_start
        .as_ref()
        .map(|_| quote_spanned!(m=> ::core::mem::drop(obs_entered);));
    let instrument = |fut: TokenStream| match &trace_start {
        Some(_) => {
            quote_spanned!(m=> #p::Instrument::instrument(#fut, ::core::clone::Clone::clone(obs_traced.span())))
        }
        None => fut,
    };

    let probe = quote_spanned! {m=>
        let #status = {
            #[allow(unused_imports)]
            use #p::{ViaAny as _, ViaErrorStatus as _, ViaResult as _, ViaReturnStatus as _};
            (&&&#p::Probe(&#out)).__obs_status()
        };
    };

    // The user's statements stay in a block of their own, so their items do not follow our
    // statements (clippy's `items_after_statements`), and keep their spans.
    let body = quote!({ #(#stmts)* });
    let fake_return = fake_return(&f.sig.output);
    let shape = shape(&f.sig);
    let new_body = match shape {
        Shape::Sync => quote_spanned! {m=>
            #items
            #trace_start
            #enter
            #starts
            #[allow(clippy::redundant_closure_call)]
            let #out = (move || { #fake_return #body })();
            #probe
            #finishes
            #exit
            #trace_finish
            #out
        },
        Shape::Async => {
            let fut = instrument(quote_spanned!(m=> async move { #fake_return #body }));
            quote_spanned! {m=>
                #items
                #trace_start
                #starts
                let #out = #fut.await;
                #probe
                #finishes
                #trace_finish
                #out
            }
        }
        Shape::ImplFuture | Shape::BoxedFuture => {
            let inner = Ident::new("obs_future", m);
            let awaited = instrument(quote_spanned!(m=> #inner));
            let wrapped = quote_spanned! {m=>
                async move {
                    let #out = #awaited.await;
                    #probe
                    #finishes
                    #trace_finish
                    #out
                }
            };
            let wrapped = if matches!(shape, Shape::BoxedFuture) {
                quote_spanned!(m=> ::std::boxed::Box::pin(#wrapped))
            } else {
                wrapped
            };
            quote_spanned! {m=>
                #items
                #trace_start
                #enter
                #starts
                #[allow(clippy::redundant_closure_call)]
                let #inner = (move || { #fake_return #body })();
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
    };
    let RawFn {
        attrs,
        vis,
        defaultness,
        sig,
        ..
    } = &f;
    let allow_never =
        matches!(shape, Shape::Never).then(|| quote_spanned!(m=> #[allow(unused_variables)]));
    Ok(quote! {
        #(#attrs)*
        #allow_never
        #vis #defaultness #sig {
            #new_body
        }
    })
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

/// OTel's advised buckets for durations: the default of `#[timed]`.
const DEFAULT_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
