//! Code generation: one wrapper per function, whatever attributes are stacked on it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ImplItem, ItemImpl, Pat, ReturnType, Stmt, Type};

use crate::args::{Args, Kind, Level, MetricArgs, ObjectiveArg, TraceArgs};
use crate::item::{
    Body, RawFn, Shape, combine, future_output, has_exclude, inline_returns, is_track_caller,
    shape, take_stacked,
};
use crate::shared::{DEFAULT_BUCKETS, MetricKind, SPAN_FIELDS};

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
        self.krate.as_ref().map_or_else(
            || quote_spanned!(Span::mixed_site()=> ::obs_runtime),
            |path| quote!(#path),
        )
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
    let mut out = errors.map(|e| e.to_compile_error()).unwrap_or_default();
    out.extend(item);
    out
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
        if let Pat::Ident(p) = &*pat.pat
            && pat.attrs.is_empty()
            && p.subpat.is_none()
        {
            all.push(&p.ident);
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
        ObjectiveArg::Latency {
            seconds, percent, ..
        } => quote_spanned! {m=>
            .with_objective(#p::Objective::Latency { threshold: #seconds, percent: #percent })
        },
    });
    let status = args.status.as_ref().map(|status| {
        let label = status.label();
        let values = status.values();
        quote_spanned!(m=> .with_status(#label, [#(#values),*]))
    });
    quote_spanned!(m=> #p::Spec::new(#name, #help, &[#(#labels),*]) #objective #status)
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
fn expand_fn(plan: &Plan, mut f: RawFn) -> syn::Result<TokenStream> {
    let Some(stmts) = take_body(plan, &mut f)? else {
        // The body does not parse: emit the fn as it is and let rustc point at the typo.
        return Ok(quote!(#f));
    };
    let m = Span::mixed_site();
    let krate = plan.krate();
    let p = quote_spanned!(m=> #krate::__private);
    let parts = Parts::new(plan, &p, &f)?;
    let shape = shape(&f.sig);
    let new_body = parts.wrap(&shape, &f, stmts);
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
struct Parts {
    p: TokenStream,
    /// Items first in the fn: the metadata and one registered site per metric.
    items: TokenStream,
    /// The metric guards, started before the body.
    starts: TokenStream,
    /// The metric guards, finished with `obs_status`.
    finishes: TokenStream,
    /// `#[traced]`: the span's start, before the guards, and end, after them.
    trace: Option<(TokenStream, TokenStream)>,
    /// The statics of the metrics, registered together.
    sites: Vec<Ident>,
}

impl Parts {
    fn new(plan: &Plan, p: &TokenStream, f: &RawFn) -> syn::Result<Self> {
        let m = Span::mixed_site();
        let ident = &f.sig.ident;
        let ident_str = ident.unraw().to_string();
        // `file!()`/`line!()` take the position of their own tokens: give them the fn name's.
        let file = quote_spanned!(ident.span()=> ::core::file!());
        let line = quote_spanned!(ident.span()=> ::core::line!());
        let mut parts = Parts {
            p: p.clone(),
            items: quote_spanned! {m=>
                fn __obs_here() -> &'static str {
                    ::core::any::type_name_of_val(&__obs_here)
                }
                static __OBS_META: #p::FnMeta = #p::FnMeta::new(
                    ::core::module_path!(), #file, #line, #ident_str, __obs_here,
                );
            },
            starts: TokenStream::new(),
            finishes: TokenStream::new(),
            trace: None,
            sites: Vec::new(),
        };
        parts.add_metrics(plan);
        let registration = parts.registration();
        parts.items.extend(registration);
        if let Some(trace) = &plan.traced {
            parts.trace = Some(trace_parts(p, f, trace, &file, &line)?);
        }
        Ok(parts)
    }

    fn register(&mut self, site: &Ident, ty: &TokenStream, init: &TokenStream) {
        let m = Span::mixed_site();
        self.items.extend(quote_spanned! {m=>
            static #site: #ty = #init;
        });
        self.sites.push(site.clone());
    }

    /// Registers the fn's sites in one linker-collected entry: one per fn, not per metric,
    /// since each `distributed_slice` entry costs build time (1.5 s per 1,000 fns).
    fn registration(&self) -> TokenStream {
        let m = Span::mixed_site();
        let p = &self.p;
        if self.sites.is_empty() {
            return TokenStream::new();
        }
        let sites = &self.sites;
        quote_spanned! {m=>
            #[#p::linkme::distributed_slice(#p::SITES)]
            #[linkme(crate = #p::linkme)]
            static __OBS_SITES: &'static [&'static dyn #p::Site] = &[#(&#sites),*];
        }
    }

    /// Registers the site of one metric and returns the expression that gives the call's
    /// `&'static` site: the static itself, or, with labels from the call, the labelled
    /// site's child for this call's values.
    ///
    /// Input: `labels(tier = "free", tenant = req.tenant())`
    /// Output: `static S: Labelled<CounterSite, 1> = Labelled::new(&META, spec(tier), ["tenant"], ());`
    /// and `S.site([&(req.tenant()) as &dyn Display])` at the start of the call.
    fn site(
        &mut self,
        name: &str,
        child: &TokenStream,
        args: &MetricArgs,
        init: &TokenStream,
        extra: &TokenStream,
    ) -> TokenStream {
        let m = Span::mixed_site();
        let p = self.p.clone();
        let site = Ident::new(name, m);
        if args.dynamic_labels.is_empty() {
            self.register(&site, child, init);
            return quote_spanned!(m=> &#site);
        }
        let n = args.dynamic_labels.len();
        let names = args
            .dynamic_labels
            .iter()
            .map(|(k, _)| k.unraw().to_string());
        let values = args
            .dynamic_labels
            .iter()
            .map(|(_, v)| quote_spanned!(m=> &(#v) as &dyn ::core::fmt::Display));
        self.register(
            &site,
            &quote_spanned!(m=> #p::Labelled<#child, #n>),
            &quote_spanned!(m=> #p::Labelled::new(&__OBS_META, #init, [#(#names),*], #extra)),
        );
        quote_spanned!(m=> #site.site([#(#values),*]))
    }

    fn add_metrics(&mut self, plan: &Plan) {
        let m = Span::mixed_site();
        let p = self.p.clone();
        let status = Ident::new("obs_status", m);
        let unit = quote_spanned!(m=> ());
        if let Some(args) = &plan.in_flight {
            let spec = spec(&p, args, MetricKind::Gauge.default_name());
            let (child, init) = if args.dynamic_labels.is_empty() {
                (
                    quote_spanned!(m=> #p::GaugeSite),
                    quote_spanned!(m=> #p::GaugeSite::new(&__OBS_META, #spec)),
                )
            } else {
                (quote_spanned!(m=> #p::GaugeSite), spec)
            };
            let site = self.site("__OBS_IN_FLIGHT", &child, args, &init, &unit);
            self.starts
                .extend(quote_spanned!(m=> let obs_in_flight = #p::InFlight::start(#site);));
            self.finishes
                .extend(quote_spanned!(m=> obs_in_flight.finish();));
        }
        if let Some(args) = &plan.counted {
            let spec = spec(&p, args, MetricKind::Counter.default_name());
            let (child, init) = if args.dynamic_labels.is_empty() {
                (
                    quote_spanned!(m=> #p::CounterSite),
                    quote_spanned!(m=> #p::CounterSite::new(&__OBS_META, #spec)),
                )
            } else {
                (quote_spanned!(m=> #p::CounterSite), spec)
            };
            let site = self.site("__OBS_COUNTED", &child, args, &init, &unit);
            self.starts
                .extend(quote_spanned!(m=> let obs_counted = #p::Counted::start(#site);));
            self.finishes
                .extend(quote_spanned!(m=> obs_counted.finish(#status);));
        }
        if let Some(args) = &plan.timed {
            let spec = spec(&p, args, MetricKind::Histogram.default_name());
            let bounds: Vec<f64> = args
                .buckets
                .as_ref()
                .map_or_else(|| DEFAULT_BUCKETS.to_vec(), |(b, _)| b.clone());
            let n = bounds.len();
            let bounds = bounds.into_iter().map(proc_macro2::Literal::f64_suffixed);
            let bounds = quote_spanned!(m=> [#(#bounds),*]);
            let child = quote_spanned!(m=> #p::HistogramSite<#n>);
            let init = if args.dynamic_labels.is_empty() {
                quote_spanned!(m=> #p::HistogramSite::new(&__OBS_META, #spec, #bounds))
            } else {
                spec
            };
            let site = self.site("__OBS_TIMED", &child, args, &init, &bounds);
            // Started last and finished first: the time measured is the body's.
            self.starts
                .extend(quote_spanned!(m=> let obs_timed = #p::Timed::start(#site);));
            let rest = std::mem::take(&mut self.finishes);
            self.finishes = quote_spanned!(m=> obs_timed.finish(#status); #rest);
        }
    }

    /// The new body of the fn: the user's statements wrapped for `shape`.
    fn wrap(self, shape: &Shape, f: &RawFn, mut stmts: Vec<Stmt>) -> TokenStream {
        let m = Span::mixed_site();
        let Parts {
            p,
            items,
            starts,
            finishes,
            trace,
            ..
        } = self;
        let out = Ident::new("obs_out", m);
        let status = Ident::new("obs_status", m);
        let (trace_start, trace_finish) = trace.unzip();
        let enter = trace_start
            .as_ref()
            .map(|_| quote_spanned!(m=> let obs_entered = #p::Traced::enter(&obs_traced);));
        let exit = trace_start
            .as_ref()
            .map(|_| quote_spanned!(m=> ::core::mem::drop(obs_entered);));
        // The future awaited in the call's span, or bare when the level is disabled, as
        // `tracing::instrument` does: no `Instrumented` to poll and drop for nothing.
        let traced = trace_start.is_some();
        // The user's statements stay in a block of their own, so their items do not follow our
        // statements (clippy's `items_after_statements`).
        let body = quote!({ #(#stmts)* });
        let probe = quote_spanned! {m=>
            let #status = {
                #[allow(unused_imports)]
                use #p::{ViaAny as _, ViaErrorStatus as _, ViaResult as _, ViaReturnStatus as _};
                (&&&#p::Probe(&#out)).__obs_status()
            };
        };
        match shape {
            Shape::Sync => {
                let (run, early) = sync_parts(&p, f, &mut stmts, traced && starts.is_empty());
                quote_spanned! {m=>
                    #items
                    #trace_start
                    #early
                    #enter
                    #starts
                    let #out = #run;
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
                let fut = awaited(&p, traced, &fut, None);
                quote_spanned! {m=>
                    #items
                    #trace_start
                    #starts
                    #fut
                    #probe
                    #finishes
                    #trace_finish
                    #out
                }
            }
            Shape::ImplFuture | Shape::BoxedFuture => {
                let run = run_sync(&p, f, &mut stmts);
                let inner = Ident::new("obs_future", m);
                // The output type, when the signature names it, pins what the body's future
                // yields: `async { Ok(()) }` alone leaves the error type for the probe to guess.
                let output = future_output(&f.sig.output).map(|ty| {
                    let mut ty = ty.clone();
                    InferImplTrait.visit_type_mut(&mut ty);
                    ty
                });
                let awaited = awaited(&p, traced, &quote_spanned!(m=> #inner), output.as_ref());
                let wrapped =
                    measured_future(shape, &awaited, &quote!(#probe #finishes #trace_finish));
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
}

/// `let obs_out = fut.await;`, in the call's span when `traced`. With the level disabled the
/// future is awaited bare, as `tracing::instrument` does: nothing to poll and drop for nothing.
/// Enabled, `InSpan` owns the guard while it polls and hands it back with the output, so the
/// span is not cloned to be kept for the status. `ty`: the output's type, if known.
fn awaited(p: &TokenStream, traced: bool, fut: &TokenStream, ty: Option<&Type>) -> TokenStream {
    let m = Span::mixed_site();
    let out = Ident::new("obs_out", m);
    if !traced {
        let ty = ty.map(|ty| quote!(: #ty));
        return quote_spanned!(m=> let #out #ty = #fut.await;);
    }
    let ty = ty.map(|ty| quote_spanned!(m=> : (#ty, ::core::option::Option<#p::Traced>)));
    quote_spanned! {m=>
        let obs_future = #fut;
        let (#out, obs_traced) #ty = match obs_traced {
            ::core::option::Option::Some(obs_traced) => {
                #p::InSpan::new(obs_future, obs_traced).await
            }
            ::core::option::Option::None => (obs_future.await, ::core::option::Option::None),
        };
    }
}

/// What a future-returning fn returns: `awaited` (the `let obs_out = …;` of the body's
/// future), then `after` (the status probe and the guards' finish) on its output.
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
fn sync_parts(
    p: &TokenStream,
    f: &RawFn,
    stmts: &mut [Stmt],
    traced_only: bool,
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
    // As in `run_sync`: passed where `FnOnce` is expected, the closure is an `FnOnce` one.
    let early = quote_spanned! {m=>
        let #body_fn = #p::once(move || { #fake_return #body });
        if !obs_enabled {
            // `None`: forgotten rather than dropped, so no drop glue is called on this path.
            ::core::mem::forget(obs_traced);
            return #body_fn();
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

/// The most arguments a traced fn records through `Traced::open`: its `MAX_SPAN_FIELDS` less
/// the seven fields every span has. More, or `fields(…)`, go through `tracing::span!`.
const MAX_OPEN_ARGS: usize = 25;

/// `#[traced]`: the statement that starts the span and the one that ends it.
fn trace_parts(
    p: &TokenStream,
    f: &RawFn,
    trace: &TraceArgs,
    file: &TokenStream,
    line: &TokenStream,
) -> syn::Result<(TokenStream, TokenStream)> {
    let m = Span::mixed_site();
    let out = Ident::new("obs_out", m);
    let status = Ident::new("obs_status", m);
    let level = level_tokens(p, trace.level);
    let name = trace
        .name
        .as_ref()
        .map_or_else(|| f.sig.ident.unraw().to_string(), syn::LitStr::value);
    let recorded = recorded_args(f, trace)?;
    // Resolved as the user's names, but marked as the expansion's use, not theirs: recording
    // `_unused` is no `clippy::used_underscore_binding` of the user.
    let keys: Vec<String> = recorded.iter().map(|a| a.unraw().to_string()).collect();
    let values: Vec<TokenStream> = recorded
        .iter()
        .map(|arg| {
            let mut arg = (*arg).clone();
            arg.set_span(Span::call_site().located_at(arg.span()));
            quote_spanned!(m=> (&#p::Probe(&#arg)).__obs_arg())
        })
        .collect();
    // A name given with `name = "…"` is the exported one too: no `otel.name` over it.
    let named = trace.name.is_some();
    let fixed = SPAN_FIELDS;
    let traced = if trace.fields.is_none() && keys.len() <= MAX_OPEN_ARGS {
        // The callsite `tracing::span!` would declare, and one call into the runtime that
        // opens the span: `span!`'s recursive expansion, in every traced fn, was the bulk of
        // the attribute's build time.
        quote_spanned! {m=>
            static __OBS_CALLSITE: #p::tracing::callsite::DefaultCallsite =
                #p::tracing::callsite::DefaultCallsite::new(&__OBS_SPAN);
            static __OBS_SPAN: #p::tracing::Metadata<'static> = #p::tracing::Metadata::new(
                #name,
                ::core::module_path!(),
                #level,
                ::core::option::Option::Some(#file),
                ::core::option::Option::Some(#line),
                ::core::option::Option::Some(::core::module_path!()),
                #p::tracing::field::FieldSet::new(
                    &[#(#fixed,)* #(#keys),*],
                    #p::tracing::callsite::Identifier(&__OBS_CALLSITE),
                ),
                #p::tracing::metadata::Kind::SPAN,
            );
            #[allow(unused_imports)]
            use #p::{ArgDebug as _, ArgOther as _};
            #p::Traced::open(&__OBS_CALLSITE, &__OBS_META, #named, &[
                #(&#values as &dyn #p::tracing::Value),*
            ])
        }
    } else {
        let fields = trace.fields.as_ref().map(|fields| quote!(#fields));
        let start_fn = Ident::new(if named { "start_named" } else { "start" }, m);
        let [
            function,
            file_path,
            line_number,
            otel_name,
            status_code,
            description,
            error_type,
        ] = SPAN_FIELDS.map(|field| {
            let mut lit = proc_macro2::Literal::string(field);
            lit.set_span(m);
            lit
        });
        quote_spanned! {m=>
            #[allow(unused_imports)]
            use #p::{ArgDebug as _, ArgOther as _};
            #p::Traced::#start_fn(
                #p::tracing::span!(
                    #level,
                    #name,
                    #function = #p::Empty,
                    #file_path = #file,
                    #line_number = #line,
                    #otel_name = #p::Empty,
                    #status_code = #p::Empty,
                    #description = #p::Empty,
                    #error_type = #p::Empty,
                    #(#keys = #values,)*
                    #fields
                ),
                &__OBS_META,
            )
        }
    };
    // Nothing is built when the level is off: the cost of a disabled `tracing::instrument`.
    let start = quote_spanned! {m=>
        let obs_enabled = #p::tracing::level_enabled!(#level);
        let obs_traced = if obs_enabled {
            ::core::option::Option::Some({ #traced })
        } else {
            ::core::option::Option::None
        };
    };
    let finish = quote_spanned! {m=>
        #p::Traced::end(obs_traced, #status, &|| {
            #[allow(unused_imports)]
            use #p::{DescribeAny as _, DescribeDisplay as _, DescribeResult as _};
            (&&#p::Probe(&#out)).__obs_describe()
        });
    };
    Ok((start, finish))
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
