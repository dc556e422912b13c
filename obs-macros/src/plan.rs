//! The attributes on one function, or on an `impl` block and its methods, merged into one
//! plan: each function is wrapped once, whatever attributes are stacked on it.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::{Attribute, ImplItem, ItemImpl};

use crate::args::{Args, Kind, MetricArgs, TraceArgs, combine};
use crate::expand::expand_fn;
use crate::item::{Body, RawFn};

/// What to generate for one function: the attributes on it, merged.
#[derive(Clone, Default)]
pub(crate) struct Plan {
    krate: Option<syn::Path>,
    /// `not_failure = [..]` of all the attributes on the fn: a status is not a failure of
    /// the fn for its span, its metrics, and the rules and dashboard alike.
    pub(crate) not_failures: Vec<syn::LitStr>,
    pub(crate) counted: Option<MetricArgs>,
    pub(crate) timed: Option<MetricArgs>,
    pub(crate) in_flight: Option<MetricArgs>,
    pub(crate) traced: Option<TraceArgs>,
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
        for status in args.not_failure.into_iter().flatten() {
            if !self
                .not_failures
                .iter()
                .any(|s| s.value() == status.value())
            {
                self.not_failures.push(status);
            }
        }
        Ok(())
    }

    /// The path to `obs_runtime`: `crate = path`, or `::obs_runtime`.
    pub(crate) fn krate(&self) -> TokenStream {
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
    if is_merged_args(&args) {
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
///
/// Input: `#[timed] impl S { fn a() {} #[counted] fn b() {} #[exclude] fn c() {} }`.
/// Output: `impl S { fn a() { /* timed */ } fn b() { /* timed, counted */ }
/// #[exclude] fn c() {} }`.
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

/// Takes the obs attributes out of `attrs`: the stacked attributes expand together with the
/// one being expanded. An attribute counts as ours when its path is the bare name, or ends in
/// the name and starts with `obs_runtime`, `obs_macros` or the first segment of `crate = path`.
///
/// Each one taken is left in place as `#[path(__obs_merged)]`, which expands to the item
/// unchanged: the user's `use obs_runtime::timed;` stays used, and the path they wrote still
/// resolves (an unresolved one is still reported by rustc).
fn take_stacked(attrs: &mut Vec<Attribute>, krate: Option<&syn::Path>) -> syn::Result<Vec<Args>> {
    let mut found = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        match stacked_kind(&attr, krate) {
            Some(_) if is_merged_marker(&attr) => kept.push(attr),
            Some(kind) => {
                let path = attr.path().clone();
                kept.push(syn::parse_quote!(#[#path(__obs_merged)]));
                let tokens = match &attr.meta {
                    syn::Meta::Path(_) => TokenStream::new(),
                    syn::Meta::List(list) => list.tokens.clone(),
                    syn::Meta::NameValue(nv) => {
                        let e = syn::Error::new_spanned(
                            nv,
                            format!("write #[{}(…)], not #[{} = …]", kind.name(), kind.name()),
                        );
                        combine(&mut errors, e);
                        continue;
                    }
                };
                match Args::parse(kind, tokens) {
                    Ok(mut args) => {
                        // "Given twice" points at the second attribute's name.
                        args.at = path.segments.last().map(|s| s.ident.span());
                        found.push(args);
                    }
                    Err(e) => combine(&mut errors, e),
                }
            }
            None => kept.push(attr),
        }
    }
    *attrs = kept;
    match errors {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

fn stacked_kind(attr: &Attribute, krate: Option<&syn::Path>) -> Option<Kind> {
    let path = attr.path();
    let last = path.segments.last()?;
    let kind = Kind::from_name(&last.ident.to_string())?;
    if path.segments.len() == 1 && path.leading_colon.is_none() {
        return Some(kind);
    }
    let first = &path.segments.first()?.ident;
    let ours = first == "obs_runtime"
        || first == "obs_macros"
        || krate
            .and_then(|k| k.segments.first())
            .is_some_and(|k| k.ident == *first);
    ours.then_some(kind)
}

/// Whether `attrs` holds `#[exclude]` (by any path ending in `exclude`). It is left in place:
/// it expands to the method unchanged, which keeps `use obs_runtime::exclude;` used, and
/// reports arguments given to it.
fn has_exclude(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "exclude")
    })
}

/// Whether `attr` is an attribute already merged into another's expansion.
fn is_merged_marker(attr: &Attribute) -> bool {
    matches!(&attr.meta, syn::Meta::List(list) if is_merged_args(&list.tokens))
}

/// Whether attribute arguments are the marker of a merged attribute.
fn is_merged_args(tokens: &TokenStream) -> bool {
    let mut iter = tokens.clone().into_iter();
    matches!((iter.next(), iter.next()), (Some(TokenTree::Ident(i)), None) if i == "__obs_merged")
}
