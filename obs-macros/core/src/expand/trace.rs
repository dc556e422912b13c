//! `#[traced]`: the span a call opens, what it records, and how it ends.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{FnArg, Ident, Pat};

use crate::args::{EventArg, FmtMode, Level, SpanName, TraceArgs};
use crate::item::RawFn;
use crate::shared::SPAN_FIELDS;

use super::record::Declared;

/// One value the span records from the call: an argument's binding, or `self`.
struct Recorded {
    /// The field's name.
    key: String,
    /// The variable, at the user's span.
    var: TokenStream,
}

/// The names a parameter's pattern binds: `x`, `(a, b)`, `&x`, `Foo(a, b)`, `Foo { bar: a, .. }`.
fn bound_names<'a>(pat: &'a Pat, out: &mut Vec<&'a Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(&p.ident);
            if let Some((_, sub)) = &p.subpat {
                bound_names(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| bound_names(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bound_names(p, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| bound_names(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| bound_names(&f.pat, out)),
        Pat::Reference(r) => bound_names(&r.pat, out),
        Pat::Paren(p) => bound_names(&p.pat, out),
        Pat::Type(t) => bound_names(&t.pat, out),
        // Every case of an or-pattern binds the same names.
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                bound_names(first, out);
            }
        }
        _ => {}
    }
}

/// What `#[traced]` records: `self` and every name the arguments' patterns bind, but not
/// `cfg`'d-out arguments, the `skip`ped ones, and those a field of `fields(..)` replaces.
fn recorded_args(f: &RawFn, trace: &TraceArgs) -> syn::Result<Vec<Recorded>> {
    let mut all: Vec<&Ident> = Vec::new();
    let mut receiver = None;
    for input in &f.sig.inputs {
        match input {
            FnArg::Receiver(r) if r.attrs.is_empty() => receiver = Some(r),
            FnArg::Typed(pat) if pat.attrs.is_empty() => bound_names(&pat.pat, &mut all),
            _ => {}
        }
    }
    for skipped in &trace.skip {
        let is_receiver = skipped == "self" && f.sig.receiver().is_some();
        if !all.contains(&skipped) && !is_receiver {
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
    let replaced = |name: &str| {
        trace
            .fields
            .iter()
            .flatten()
            .any(|field| field.name == name)
    };
    let mut out = Vec::new();
    if let Some(r) = receiver
        && !trace.skip.iter().any(|s| s == "self")
        && !replaced("self")
    {
        let token = r.self_token;
        out.push(Recorded {
            key: "self".to_owned(),
            var: quote!(#token),
        });
    }
    for arg in all {
        let key = arg.unraw().to_string();
        if trace.skip.contains(arg) || replaced(&key) {
            continue;
        }
        // Resolved as the user's name, but marked as the expansion's use, not theirs:
        // recording `_unused` is no `clippy::used_underscore_binding` of the user.
        let mut arg = arg.clone();
        arg.set_span(Span::call_site().located_at(arg.span()));
        out.push(Recorded {
            key,
            var: quote!(#arg),
        });
    }
    Ok(out)
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

/// The most arguments a traced fn records through `Traced::open` (the runtime's
/// `MAX_OPEN_ARGS`, compared in `shared.rs`'s tests). More, or `fields(…)`, go through
/// `tracing::span!`.
pub(crate) const MAX_OPEN_ARGS: usize = 25;

/// What `#[traced]` adds to a call.
pub(super) struct TraceParts {
    /// Before the body: the span opened (`obs_traced`), if the level is enabled.
    pub(super) start: TokenStream,
    /// The `err` and `ret` events, on `obs_ref`, a reference to the body's value; they run
    /// inside the span (entered), as `tracing::instrument`'s do.
    pub(super) events: Option<TokenStream>,
    /// After the body: `ret(field)`'s record, and the span's end with the call's status.
    pub(super) finish: TokenStream,
}

/// `#[traced]`: the statement that starts the span, the events on its value, and the
/// statement that ends it.
///
/// Input: `#[traced] fn login(user: &str)`.
/// Output: `let obs_enabled = level_enabled!(INFO); let obs_traced = if obs_enabled {
/// Some({ static __OBS_CALLSITE ..; Traced::open(&__OBS_CALLSITE, &__OBS_META, false,
/// &[/* user, as recorded */]) }) } else { None };` before the body, and
/// `Traced::end(obs_traced, obs_status, &|| describe(&obs_out));` after it.
pub(super) fn trace_parts(
    p: &TokenStream,
    f: &RawFn,
    trace: &TraceArgs,
    uses_record: bool,
    file: &TokenStream,
    line: &TokenStream,
) -> syn::Result<TraceParts> {
    let m = Span::mixed_site();
    let out = Ident::new("obs_out", m);
    let status = Ident::new("obs_status", m);
    let level = level_tokens(p, trace.level);
    let name = match &trace.name {
        None => {
            let mut lit = proc_macro2::Literal::string(&f.sig.ident.unraw().to_string());
            lit.set_span(m);
            quote!(#lit)
        }
        Some(SpanName::Lit(lit)) => quote!(#lit),
        Some(SpanName::Const(path)) => quote!(#path),
    };
    let recorded = recorded_args(f, trace)?;
    let return_field = trace.ret.as_ref().is_some_and(|r| r.field);
    let mut keys: Vec<String> = recorded.iter().map(|r| r.key.clone()).collect();
    let mut values: Vec<TokenStream> = recorded
        .iter()
        .map(|r| {
            let var = &r.var;
            quote_spanned!(m=> (&&#p::Autoref(&#var)).__obs_arg())
        })
        .collect();
    if return_field {
        keys.push("return".to_owned());
        values.push(quote_spanned!(m=> #p::Empty));
    }
    let parent = trace.parent.as_ref().map(|parent| {
        let at = syn::spanned::Spanned::span(parent);
        quote_spanned!(at=> ::core::convert::Into::<::core::option::Option<#p::tracing::Id>>::into(#parent))
    });
    let span = OpenSpan {
        p,
        trace,
        name: &name,
        level: &level,
        keys: &keys,
        values: &values,
        parent: parent.as_ref(),
        file,
        line,
    };
    let opened = if trace.fields.is_none() && keys.len() <= MAX_OPEN_ARGS {
        span.open()
    } else {
        span.through_span_macro()
    };
    // `follows_from = causes`: evaluated only when the span is built.
    let traced = match &trace.follows_from {
        None => opened,
        Some(causes) => quote_spanned! {m=>
            let obs_span = { #opened };
            for obs_cause in #causes {
                obs_span.follows_from(obs_cause);
            }
            obs_span
        },
    };
    // `record!` in the body: the fields it may write are those the span declares.
    let record_macro = uses_record.then(|| record_macro(p, f, trace, &recorded));
    // Nothing is built when the level is off: the cost of a disabled `tracing::instrument`.
    let start = quote_spanned! {m=>
        let obs_enabled = #p::tracing::level_enabled!(#level);
        let obs_traced = if obs_enabled {
            ::core::option::Option::Some({ #traced })
        } else {
            ::core::option::Option::None
        };
        #record_macro
    };
    let record = trace
        .ret
        .as_ref()
        .filter(|r| r.field)
        .map(|ret| record_return(p, ret));
    let finish = quote_spanned! {m=>
        #record
        #p::Traced::end(obs_traced, #status, &|| {
            #[allow(unused_imports)]
            use #p::{DescribeAny as _, DescribeDisplay as _, DescribeResult as _};
            (&&#p::Autoref(&#out)).__obs_describe()
        });
    };
    Ok(TraceParts {
        start,
        events: events(p, trace),
        finish,
    })
}

/// The local `record!` of a body that uses it: one arm per field the span declares, the
/// recorded arguments and `fields(..)`.
fn record_macro(
    p: &TokenStream,
    f: &RawFn,
    trace: &TraceArgs,
    recorded: &[Recorded],
) -> TokenStream {
    let declared: Vec<Declared> = recorded
        .iter()
        .map(|r| Declared {
            key: r.var.clone(),
            name: r.key.clone(),
            name_expr: None,
        })
        .chain(trace.fields.iter().flatten().map(|field| {
            Declared {
                key: field.key.clone(),
                name: field.name.clone(),
                name_expr: field
                    .name_expr
                    .as_ref()
                    .map(quote::ToTokens::to_token_stream),
            }
        }))
        .collect();
    super::record::recorder(p, &f.sig.ident.unraw().to_string(), &declared)
}

/// What the span is opened with.
struct OpenSpan<'a> {
    p: &'a TokenStream,
    trace: &'a TraceArgs,
    name: &'a TokenStream,
    level: &'a TokenStream,
    keys: &'a [String],
    values: &'a [TokenStream],
    parent: Option<&'a TokenStream>,
    file: &'a TokenStream,
    line: &'a TokenStream,
}

impl OpenSpan<'_> {
    /// The span opened by `Traced::open` at a callsite the expansion declares.
    fn open(&self) -> TokenStream {
        let m = Span::mixed_site();
        let OpenSpan {
            p,
            trace,
            name,
            level,
            keys,
            values,
            parent,
            file,
            line,
        } = *self;
        let named = trace.name.is_some();
        let fixed = SPAN_FIELDS;
        let arg_traits = arg_traits(p);
        // The callsite `tracing::span!` would declare, and one call into the runtime that
        // opens the span: `span!`'s recursive expansion, in every traced fn, was the bulk of
        // the attribute's build time.
        let target = trace.target.as_ref().map_or_else(
            || quote_spanned!(m=> ::core::module_path!()),
            |t| quote!(#t),
        );
        let open = match &parent {
            None => quote_spanned!(m=> #p::Traced::open(&__OBS_CALLSITE, &__OBS_META, #named, &[
                #(&#values as &dyn #p::tracing::Value),*
            ])),
            Some(parent) => {
                quote_spanned!(m=> #p::Traced::open_child(&__OBS_CALLSITE, &__OBS_META, #named, #parent, &[
                    #(&#values as &dyn #p::tracing::Value),*
                ]))
            }
        };
        quote_spanned! {m=>
            static __OBS_CALLSITE: #p::tracing::callsite::DefaultCallsite =
                #p::tracing::callsite::DefaultCallsite::new(&__OBS_SPAN);
            static __OBS_SPAN: #p::tracing::Metadata<'static> = #p::tracing::Metadata::new(
                #name,
                #target,
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
            #arg_traits
            #open
        }
    }

    /// The span opened by `tracing::span!`, for `fields(..)` and many arguments.
    /// The location fields stay empty, as `open` leaves them: the trace layer writes them
    /// from the fn's `FnMeta` at export.
    fn through_span_macro(&self) -> TokenStream {
        let m = Span::mixed_site();
        let OpenSpan {
            p,
            trace,
            name,
            level,
            keys,
            values,
            parent,
            ..
        } = *self;
        let named = trace.name.is_some();
        let arg_traits = arg_traits(p);
        let fields = trace.fields.iter().flatten().map(|field| {
            let key = &field.key;
            if let Some(value) = &field.value {
                quote!(#key = #value)
            } else {
                quote_spanned!(m=> #key = #p::Empty)
            }
        });
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
        let keys = keys.iter().map(|k| {
            let mut lit = proc_macro2::Literal::string(k);
            lit.set_span(m);
            lit
        });
        let target = trace.target.as_ref().map(|t| quote!(target: #t,));
        let parent = parent.map(|p| quote!(parent: #p,));
        quote_spanned! {m=>
            #arg_traits
            #p::Traced::#start_fn(
                #p::tracing::span!(
                    #target
                    #parent
                    #level,
                    #name,
                    #function = #p::Empty,
                    #file_path = #p::Empty,
                    #line_number = #p::Empty,
                    #otel_name = #p::Empty,
                    #status_code = #p::Empty,
                    #description = #p::Empty,
                    #error_type = #p::Empty,
                    #(#keys = #values,)*
                    #(#fields,)*
                ),
                &__OBS_META,
            )
        }
    }
}

fn arg_traits(p: &TokenStream) -> TokenStream {
    quote_spanned! {Span::mixed_site()=>
        #[allow(unused_imports)]
        use #p::{ArgDebug as _, ArgOther as _, ArgTyped as _};
    }
}

/// The `err` and `ret` events, on `obs_ref`, a reference to the body's value. Each is gated
/// by its own level inside `tracing::event!`, as in `tracing::instrument`: with the level off,
/// the cost is a match on the value and one load of the global max level.
///
/// Input: `err, ret`. Output: `if let Err(obs_error) = obs_ref { event!(ERROR, error =
/// %obs_error); } if let Some(obs_value) = ok_value(obs_ref) { event!(INFO, return =
/// ?obs_value); }`.
fn events(p: &TokenStream, trace: &TraceArgs) -> Option<TokenStream> {
    let m = Span::mixed_site();
    let obs_ref = Ident::new("obs_ref", m);
    let target = trace.target.as_ref().map(|t| quote!(target: #t,));
    let mut out = TokenStream::new();
    if let Some(err) = &trace.err {
        let level = level_tokens(p, Some(err.level.unwrap_or(Level::Error)));
        // At the `err` token: a return type that is not a `Result`, or an error that is not
        // `Display` (`Debug`), is reported there.
        let at = m.located_at(err.at);
        let e = Ident::new("obs_error", at);
        // Coerced to `dyn Display` (`dyn Debug`) first, at the `err` token: an error type
        // without it is one error there, not three inside `tracing::event!`.
        let (fmt, sigil) = if err.mode == Some(FmtMode::Debug) {
            (
                quote_spanned!(at=> ::core::fmt::Debug),
                quote_spanned!(at=> ?),
            )
        } else {
            (
                quote_spanned!(at=> ::core::fmt::Display),
                quote_spanned!(at=> %),
            )
        };
        out.extend(quote_spanned! {at=>
            if let ::core::result::Result::Err(#e) = #obs_ref {
                let obs_shown: &dyn #fmt = #e;
                #p::tracing::event!(#target #level, error = #sigil obs_shown);
            }
        });
    }
    if let Some(ret) = trace.ret.as_ref().filter(|r| !r.field) {
        let level = level_tokens(p, ret.level.or(trace.level));
        let at = m.located_at(ret.at);
        let v = Ident::new("obs_value", at);
        let (fmt, sigil) = if ret.mode == Some(FmtMode::Display) {
            (
                quote_spanned!(at=> ::core::fmt::Display),
                quote_spanned!(at=> %),
            )
        } else {
            (
                quote_spanned!(at=> ::core::fmt::Debug),
                quote_spanned!(at=> ?),
            )
        };
        out.extend(quote_spanned! {at=>
            if let ::core::option::Option::Some(#v) = {
                #[allow(unused_imports)]
                use #p::{RetAny as _, RetOk as _};
                (&#p::Autoref(#obs_ref)).__obs_ret()
            } {
                let obs_shown: &dyn #fmt = #v;
                #p::tracing::event!(#target #level, return = #sigil obs_shown);
            }
        });
    }
    (!out.is_empty()).then_some(out)
}

/// `ret(field)`: the returned value (a `Result`'s `Ok` value) into the span's `return` field,
/// typed as the arguments are (`ret(Display)`, `ret(Debug)` force a form); nothing is
/// formatted when the span is disabled.
fn record_return(p: &TokenStream, ret: &EventArg) -> TokenStream {
    let m = Span::mixed_site();
    let at = m.located_at(ret.at);
    let out = Ident::new("obs_out", m);
    let v = Ident::new("obs_value", at);
    let value = match ret.mode {
        Some(FmtMode::Display) => quote_spanned!(at=> #p::tracing::field::display(#v)),
        Some(FmtMode::Debug) => quote_spanned!(at=> #p::tracing::field::debug(#v)),
        None => quote_spanned! {at=> {
            #[allow(unused_imports)]
            use #p::{ArgDebug as _, ArgOther as _, ArgTyped as _};
            (&&#p::Autoref(#v)).__obs_arg()
        }},
    };
    quote_spanned! {at=>
        if let ::core::option::Option::Some(obs_span) = &obs_traced {
            if let ::core::option::Option::Some(#v) = {
                #[allow(unused_imports)]
                use #p::{RetAny as _, RetOk as _};
                (&#p::Autoref(&#out)).__obs_ret()
            } {
                obs_span.record_return(&#value);
            }
        }
    }
}
