//! `#[traced]`: the span a call opens, what it records, and how it ends.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{FnArg, Ident, Pat};

use crate::args::{Level, TraceArgs};
use crate::item::RawFn;
use crate::shared::SPAN_FIELDS;

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

/// The most arguments a traced fn records through `Traced::open` (the runtime's
/// `MAX_OPEN_ARGS`, compared in `shared.rs`'s tests). More, or `fields(…)`, go through
/// `tracing::span!`.
pub(crate) const MAX_OPEN_ARGS: usize = 25;

/// `#[traced]`: the statement that starts the span and the one that ends it.
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
            quote_spanned!(m=> (&#p::Autoref(&#arg)).__obs_arg())
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
            (&&#p::Autoref(&#out)).__obs_describe()
        });
    };
    Ok((start, finish))
}
