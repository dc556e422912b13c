//! The first phase, parse: what the user wrote, as typed values that keep their spans. The
//! attribute's arguments, the item under it, and every obs attribute stacked on the item (or
//! on an `impl` block's methods), each parsed on its own so its errors stay its own.
//!
//! Nothing here checks one option against another (`valid.rs`) or merges attributes
//! (`plan.rs`).

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::{Attribute, ImplItem, ItemImpl};

use crate::args::{Args, Kind, combine};
use crate::item::{Body, RawFn};

/// An attribute's arguments and the item under it, parsed: what [`validate`](crate::validate)
/// takes.
pub struct Input {
    pub(crate) kind: Kind,
    /// The arguments of the attribute being expanded.
    pub(crate) own: syn::Result<Args>,
    pub(crate) item: Target,
}

/// The item under the attribute.
pub(crate) enum Target {
    /// A fn (its obs attributes marked merged) and those attributes, in order.
    Fn {
        f: RawFn,
        stacked: Vec<syn::Result<Args>>,
    },
    /// An `impl` block (its own obs attributes marked merged, its methods as written), those
    /// attributes, and each method to instrument.
    Impl {
        imp: ItemImpl,
        stacked: Vec<syn::Result<Args>>,
        methods: Vec<Method>,
    },
    /// Anything else, emitted as written beside `error`, if any.
    AsIs {
        tokens: TokenStream,
        error: Option<syn::Error>,
    },
}

/// A method of an instrumented `impl` block, not `#[exclude]`d.
pub(crate) struct Method {
    /// Its position among the block's items.
    pub(crate) index: usize,
    /// The method as a fn: its outer attributes (obs's marked merged), its inner ones in the
    /// body.
    pub(crate) f: RawFn,
    /// The obs attributes written on the method, in order.
    pub(crate) stacked: Vec<syn::Result<Args>>,
    /// All its attributes, obs's marked merged: what is emitted when the block fails.
    pub(crate) merged_attrs: Vec<Attribute>,
}

/// Parses attribute `kind`'s arguments and the item it is on.
pub fn parse(kind: Kind, args: TokenStream, item: TokenStream) -> Input {
    if is_merged_args(&args) {
        // Already expanded with another attribute of the item: the item passes unchanged.
        return Input {
            kind,
            own: Ok(Args::empty(kind)),
            item: Target::AsIs {
                tokens: item,
                error: None,
            },
        };
    }
    let own = Args::parse(kind, args);
    let krate = own.as_ref().ok().and_then(|a| a.krate.clone());
    let item = if let Ok(mut f) = syn::parse2::<RawFn>(item.clone()) {
        let stacked = take_stacked(&mut f.attrs, krate.as_ref());
        Target::Fn { f, stacked }
    } else {
        match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Impl(mut imp)) => {
                let stacked = take_stacked(&mut imp.attrs, krate.as_ref());
                // The methods' attributes are ours by the last `crate = path` of the block's.
                let krate = own
                    .iter()
                    .chain(stacked.iter().flatten())
                    .filter_map(|a| a.krate.clone())
                    .next_back();
                let methods = methods(&imp, krate.as_ref());
                Target::Impl {
                    imp,
                    stacked,
                    methods,
                }
            }
            Ok(other) => Target::AsIs {
                error: Some(not_a_fn(kind, &other)),
                tokens: item,
            },
            // Not an item rustc would accept either: let rustc say what is wrong.
            Err(_) => Target::AsIs {
                tokens: item,
                error: None,
            },
        }
    };
    Input { kind, own, item }
}

/// The methods of `imp` to instrument: each one with a body, less the `#[exclude]`d ones.
fn methods(imp: &ItemImpl, krate: Option<&syn::Path>) -> Vec<Method> {
    let mut methods = Vec::new();
    for (index, item) in imp.items.iter().enumerate() {
        let ImplItem::Fn(method) = item else { continue };
        if has_exclude(&method.attrs) {
            continue;
        }
        let mut merged_attrs = method.attrs.clone();
        let _ = take_stacked(&mut merged_attrs, krate);
        let mut f = RawFn {
            attrs: method.attrs.clone(),
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
        let stacked = take_stacked(&mut f.attrs, krate);
        methods.push(Method {
            index,
            f,
            stacked,
            merged_attrs,
        });
    }
    methods
}

/// The error for an attribute on an item that is neither a fn nor an `impl` block.
fn not_a_fn(kind: Kind, item: &syn::Item) -> syn::Error {
    let what = describe_item(item);
    let message = format!(
        "#[{}] goes on a fn, or on an impl block to instrument its methods; this is {what}",
        kind.name()
    );
    match item {
        syn::Item::Trait(_) => syn::Error::new(
            Span::call_site(),
            format!(
                "{message}: put it on the trait's methods that have a default body, or on the impl blocks"
            ),
        ),
        // At the attribute: it is what to move or remove.
        _ => syn::Error::new(Span::call_site(), message),
    }
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

/// Takes the obs attributes out of `attrs` and parses each: the stacked attributes expand
/// together with the one being expanded. An attribute counts as ours when its path is the bare
/// name, or ends in the name and starts with `obs_runtime`, `obs_macros` or the first segment
/// of `crate = path`.
///
/// Each one taken is left in place as `#[path(__obs_merged)]`, which expands to the item
/// unchanged: the user's `use obs_runtime::timed;` stays used, and the path they wrote still
/// resolves (an unresolved one is still reported by rustc).
fn take_stacked(attrs: &mut Vec<Attribute>, krate: Option<&syn::Path>) -> Vec<syn::Result<Args>> {
    let mut found = Vec::new();
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
                        found.push(Err(syn::Error::new_spanned(
                            nv,
                            format!("write #[{}(…)], not #[{} = …]", kind.name(), kind.name()),
                        )));
                        continue;
                    }
                };
                found.push(Args::parse(kind, tokens).map(|mut args| {
                    // "Given twice" points at the second attribute's name.
                    args.at = path.segments.last().map(|s| s.ident.span());
                    args
                }));
            }
            None => kept.push(attr),
        }
    }
    *attrs = kept;
    found
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

/// Combines the errors of `results` in order, or gives all the values.
pub(crate) fn all_or_errors(results: Vec<syn::Result<Args>>) -> syn::Result<Vec<Args>> {
    let mut errors = None;
    let mut all = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(args) => all.push(args),
            Err(e) => combine(&mut errors, e),
        }
    }
    errors.map_or(Ok(all), Err)
}
