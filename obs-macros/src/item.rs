//! The shapes of the items the attributes accept.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Block, ReturnType, Signature, Stmt, Token, Type, Visibility};

use crate::args::{Args, Kind};

/// A fn as written, whose body may not parse.
///
/// Parsing the body separately means one typo inside it leaves the fn declared (emitted
/// unchanged, so rustc reports the typo at its line) instead of failing the whole attribute.
#[derive(Clone)]
pub(crate) struct RawFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    pub(crate) body: Body,
}

#[derive(Clone)]
pub(crate) enum Body {
    /// A trait method without a default body.
    None(Token![;]),
    /// The body's inner attributes (`#![allow(..)]`) and statements.
    Parsed {
        brace: syn::token::Brace,
        inner: Vec<Attribute>,
        stmts: Vec<Stmt>,
    },
    /// The body's tokens, when they do not parse.
    Unparsed(TokenStream),
}

impl Parse for RawFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let defaultness: Option<Token![default]> = input.parse()?;
        let sig: Signature = input.parse()?;
        let body = if input.peek(Token![;]) {
            Body::None(input.parse()?)
        } else {
            let group: proc_macro2::Group = input.parse()?;
            let speculative = |content: ParseStream<'_>| {
                let inner = content.call(Attribute::parse_inner)?;
                let stmts = content.call(Block::parse_within)?;
                Ok((inner, stmts))
            };
            match syn::parse::Parser::parse2(speculative, group.stream()) {
                Ok((inner, stmts)) => {
                    let brace = syn::token::Brace(group.delim_span());
                    Body::Parsed {
                        brace,
                        inner,
                        stmts,
                    }
                }
                Err(_) => Body::Unparsed(TokenTree::Group(group).into()),
            }
        };
        Ok(RawFn {
            attrs,
            vis,
            defaultness,
            sig,
            body,
        })
    }
}

impl ToTokens for RawFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.defaultness.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        match &self.body {
            Body::None(semi) => semi.to_tokens(tokens),
            Body::Parsed {
                brace,
                inner,
                stmts,
            } => brace.surround(tokens, |tokens| {
                for attr in inner {
                    attr.to_tokens(tokens);
                }
                for stmt in stmts {
                    stmt.to_tokens(tokens);
                }
            }),
            Body::Unparsed(raw) => raw.to_tokens(tokens),
        }
    }
}

/// How the body's result is reached, which decides how it is wrapped.
pub(crate) enum Shape {
    /// `fn f() -> T`: the body runs in a closure; its value is the result.
    Sync,
    /// `async fn f() -> T`: the body runs in an async block awaited in place.
    Async,
    /// `fn f() -> impl Future<Output = T>`: the body builds a future; the future is measured.
    ImplFuture,
    /// `fn f() -> Pin<Box<dyn Future<Output = T> …>>`: as above, boxed again.
    BoxedFuture,
    /// `fn f() -> !`: nothing is returned; only a panic can be recorded.
    Never,
}

pub(crate) fn shape(sig: &Signature) -> Shape {
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    match &sig.output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Never(_) => Shape::Never,
            Type::ImplTrait(bounds) if bounds.bounds.iter().any(is_future_bound) => {
                Shape::ImplFuture
            }
            ty if is_pin_box_dyn_future(ty) => Shape::BoxedFuture,
            _ => Shape::Sync,
        },
        ReturnType::Default => Shape::Sync,
    }
}

fn is_future_bound(bound: &syn::TypeParamBound) -> bool {
    matches!(bound, syn::TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
}

/// `Pin<Box<dyn Future …>>`, by any path.
fn is_pin_box_dyn_future(ty: &Type) -> bool {
    let Some(inner) = single_generic(ty, "Pin") else {
        return false;
    };
    let Some(Type::TraitObject(object)) = single_generic(inner, "Box") else {
        return false;
    };
    object.bounds.iter().any(is_future_bound)
}

fn single_generic<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// Takes the obs attributes out of `attrs`: the stacked attributes expand together with the
/// one being expanded. An attribute counts as ours when its path is the bare name, or ends in
/// the name and starts with `obs_runtime`, `obs_macros` or the first segment of `crate = path`.
///
/// Each one taken is left in place as `#[path(__obs_merged)]`, which expands to the item
/// unchanged: the user's `use obs_runtime::timed;` stays used, and the path they wrote still
/// resolves (an unresolved one is still reported by rustc).
pub(crate) fn take_stacked(
    attrs: &mut Vec<Attribute>,
    krate: Option<&syn::Path>,
) -> syn::Result<Vec<Args>> {
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

pub(crate) fn combine(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
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
pub(crate) fn has_exclude(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "exclude")
    })
}

/// Whether `attr` is an attribute already merged into another's expansion.
pub(crate) fn is_merged_marker(attr: &Attribute) -> bool {
    matches!(&attr.meta, syn::Meta::List(list) if is_merged_args(&list.tokens))
}

/// Whether attribute arguments are the marker of a merged attribute.
pub(crate) fn is_merged_args(tokens: &TokenStream) -> bool {
    let mut iter = tokens.clone().into_iter();
    matches!((iter.next(), iter.next()), (Some(TokenTree::Ident(i)), None) if i == "__obs_merged")
}
