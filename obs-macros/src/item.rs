//! The shapes of the items the attributes accept.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Block, ReturnType, Signature, Stmt, Token, Type, Visibility};

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
    /// `fn f() -> Pin<Box<dyn Future<Output = T> …>>` (or `BoxFuture<'a, T>`): as above, boxed
    /// again.
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
            ty if is_pin_box_dyn_future(ty) || is_box_future_alias(ty) => Shape::BoxedFuture,
            _ => Shape::Sync,
        },
        ReturnType::Default => Shape::Sync,
    }
}

/// `T` of a return type `impl Future<Output = T> + …`, by any path to `Future`.
pub(crate) fn future_output(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::ImplTrait(bounds) = &**ty else {
        return None;
    };
    bounds.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let last = t.path.segments.last().filter(|s| s.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
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

/// `BoxFuture<'a, T>` or `LocalBoxFuture<'a, T>`, by any path: the `futures` crate's names for
/// `Pin<Box<dyn Future<Output = T> (+ Send) + 'a>>`, common in traits written before `async fn`
/// in traits. The attribute sees only the name; a type of that name and shape that is not
/// such a box fails to compile where the expansion boxes the measured future.
fn is_box_future_alias(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if last.ident != "BoxFuture" && last.ident != "LocalBoxFuture" {
        return false;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    let mut kinds = args.args.iter().map(|a| match a {
        syn::GenericArgument::Lifetime(_) => 'l',
        syn::GenericArgument::Type(_) => 't',
        _ => '?',
    });
    kinds.next() == Some('l') && kinds.next() == Some('t') && kinds.next().is_none()
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

/// Whether the fn is `#[track_caller]`: its body then stays inline where it can, as the
/// expansion's `inline_returns` says.
pub(crate) fn is_track_caller(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("track_caller"))
}
