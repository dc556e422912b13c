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

/// Whether a call can end with the `error` status, as far as the signature tells: the page
/// shows a function's `error` series at zero before any call only when it can.
///
/// Input: `-> u64`, `-> ()`, `async fn f() -> String`, `-> impl Future<Output = Option<T>>`
/// give false; `-> Result<T, E>`, `-> Response`, `-> T`, `-> impl IntoResponse` give true.
pub(crate) fn can_return_error(sig: &Signature) -> bool {
    match shape(sig) {
        Shape::Never => false,
        Shape::Sync | Shape::Async => match &sig.output {
            ReturnType::Default => false,
            ReturnType::Type(_, ty) => may_fail(ty),
        },
        Shape::ImplFuture => future_output(&sig.output).is_none_or(may_fail),
        Shape::BoxedFuture => true,
    }
}

/// Whether a value of type `ty` may have a status other than `ok`: false only for types that
/// have no `ReturnStatus` and cannot be given one. obs implements it for none of these, and
/// the orphan rule keeps an application from doing so: none is a type of its own, nor one of
/// the `#[fundamental]` wrappers (`&T`, `Box<T>`, `Pin<T>`) around one. Everything else may
/// (a `Result`, an application's type, `Box<T>`, a tuple, which the `http` feature's
/// `(StatusCode, T)` is, a generic, `impl Trait`). A type of the application's that shadows
/// one of these names only loses its zero-filled `error` series: a counted error still shows.
fn may_fail(ty: &Type) -> bool {
    const NEVER_FAIL: &[&str] = &[
        "bool",
        "char",
        "str",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "f32",
        "f64",
        "String",
        "Vec",
        "VecDeque",
        "Option",
        "HashMap",
        "HashSet",
        "BTreeMap",
        "BTreeSet",
        "Arc",
        "Rc",
        "Cow",
        "Duration",
        "Instant",
        "SystemTime",
        "PathBuf",
    ];
    match ty {
        Type::Never(_) | Type::Array(_) | Type::Slice(_) => false,
        Type::Tuple(t) => !t.elems.is_empty(),
        Type::Paren(t) => may_fail(&t.elem),
        Type::Group(t) => may_fail(&t.elem),
        Type::Reference(r) => may_fail(&r.elem),
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_none_or(|last| !NEVER_FAIL.iter().any(|name| last.ident == name)),
        _ => true,
    }
}

/// Whether the fn is `#[track_caller]`: its body then stays inline where it can, as the
/// expansion's `inline_returns` says.
pub(crate) fn is_track_caller(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("track_caller"))
}

#[cfg(test)]
mod tests {
    use super::can_return_error;

    fn can(sig: &str) -> bool {
        can_return_error(&syn::parse_str(sig).expect("a signature"))
    }

    #[test]
    fn types_no_one_can_give_a_status_cannot_return_error() {
        for sig in [
            "fn f()",
            "fn f() -> ()",
            "fn f() -> !",
            "fn f() -> u64",
            "fn f() -> &'static str",
            "fn f() -> std::string::String",
            "fn f() -> Option<Result<u8, E>>",
            "fn f() -> Vec<Response>",
            "fn f() -> [u8; 4]",
            "fn f() -> &[Response]",
            "async fn f() -> (String)",
            "fn f() -> impl Future<Output = bool>",
            "fn f() -> impl core::future::Future<Output = ()> + Send",
        ] {
            assert!(!can(sig), "{sig}");
        }
    }

    #[test]
    fn results_own_types_generics_tuples_and_opaque_types_can_return_error() {
        for sig in [
            "fn f() -> Result<u64, E>",
            "fn f() -> io::Result<()>",
            "fn f() -> Response",
            "fn f() -> &Response",
            "fn f() -> Box<u64>",
            "fn f() -> (StatusCode, String)",
            "fn f<T>() -> T",
            "fn f() -> Self",
            "fn f() -> impl IntoResponse",
            "fn f() -> <T as Trait>::Out",
            "async fn f() -> Result<(), E>",
            "fn f() -> impl Future<Output = Result<(), E>>",
            "fn f() -> impl Future",
            "fn f() -> Pin<Box<dyn Future<Output = u64>>>",
        ] {
            assert!(can(sig), "{sig}");
        }
    }
}
