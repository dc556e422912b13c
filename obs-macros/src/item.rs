//! The shapes of the items the attributes accept.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Block, Expr, ReturnType, Signature, Stmt, Token, Type, Visibility};

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

/// Whether the fn is `#[track_caller]`: its body then stays inline, see [`inline_returns`].
pub(crate) fn is_track_caller(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("track_caller"))
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
pub(crate) fn inline_returns(stmts: &mut [Stmt], label: &syn::Lifetime) -> Option<bool> {
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
