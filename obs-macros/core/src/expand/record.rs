//! `record!` in a `#[traced]` body: a local macro with one arm per declared field of the span,
//! so a field that was never declared is a compile error, not a record `tracing` drops.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::Stmt;

/// Whether the body invokes a macro named `record` (`record!`, `obs_runtime::record!`),
/// anywhere, inside other macros' arguments too. Only then is the span's handle cloned for
/// it: a body without `record!` pays nothing.
pub(super) fn uses_record(stmts: &[Stmt]) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        let mut previous_is_record = false;
        for token in tokens {
            match token {
                TokenTree::Punct(p) if p.as_char() == '!' && previous_is_record => return true,
                TokenTree::Group(g) if scan(g.stream()) => return true,
                TokenTree::Ident(ref i) => {
                    previous_is_record = i == "record";
                    continue;
                }
                _ => {}
            }
            previous_is_record = false;
        }
        false
    }
    scan(quote!(#(#stmts)*))
}

/// One field `record!` may write: the key as the user wrote it (`ticket`, `seat.row`,
/// `"a b"`, `r#type`, `{NAME}`) and as the span names it; a `{NAME}` field's name is the
/// const expression, evaluated where `record!` is, so `record!({NAME} = v)` writes it too.
pub(super) struct Declared {
    pub(super) key: TokenStream,
    pub(super) name: String,
    pub(super) name_expr: Option<TokenStream>,
}

/// `let obs_recorder = Traced::recorder(&obs_traced);` and the local `__obs_record!` that
/// `obs_runtime::record!` calls.
///
/// Input: the declared fields `ticket`, `seat.row`.
/// Output: `macro_rules! #local { (ticket = % $v:expr) => { record(display($v)) };
/// (ticket = ? $v:expr) => ..; (ticket = $v:expr) => ..; (seat.row = ..) ..; ($($x:tt)*) =>
/// { compile_error!("…: its fields are `ticket`, `seat.row` …") } }`.
pub(super) fn recorder(p: &TokenStream, fn_name: &str, declared: &[Declared]) -> TokenStream {
    let m = Span::mixed_site();
    let arms = declared.iter().map(|field| {
        let key = &field.key;
        let name = field.name_expr.clone().unwrap_or_else(|| {
            let mut name = proc_macro2::Literal::string(&field.name);
            name.set_span(m);
            quote!(#name)
        });
        let record = |value: TokenStream| {
            // Bound first: a temporary value (`record!(n = x + 1)`) lives to the record.
            quote_spanned! {m=>
                if let ::core::option::Option::Some(obs_span) = &obs_recorder {
                    #[allow(unused_imports)]
                    use #p::{ArgDebug as _, ArgOther as _, ArgTyped as _};
                    let obs_value = &($v);
                    obs_span.record(#name, &#value);
                }
            }
        };
        let display = record(quote_spanned!(m=> #p::tracing::field::display(obs_value)));
        let debug = record(quote_spanned!(m=> #p::tracing::field::debug(obs_value)));
        let typed = record(quote_spanned!(m=> (&&#p::Autoref(obs_value)).__obs_arg()));
        quote_spanned! {m=>
            (#key = % $v:expr) => { #display };
            (#key = ? $v:expr) => { #debug };
            (#key = $v:expr) => { #typed };
        }
    });
    let fields = if declared.is_empty() {
        "it declares none".to_owned()
    } else {
        let names: Vec<String> = declared.iter().map(|f| format!("`{}`", f.name)).collect();
        format!("its fields are {}", names.join(", "))
    };
    let message = format!(
        ")`: not a field of `{fn_name}`'s span ({fields}); declare it with `#[traced(fields(name))]` and record it as `record!(name = value)`"
    );
    let obs_recorder = proc_macro2::Ident::new("obs_recorder", m);
    // At the call site: `obs_runtime::record!` calls it by this name from the user's body.
    let local = proc_macro2::Ident::new("__obs_record", Span::call_site());
    quote_spanned! {m=>
        let #obs_recorder = #p::Traced::recorder(&obs_traced);
        #[allow(unused_macros)]
        macro_rules! #local {
            #(#arms)*
            ($($obs_other:tt)*) => {
                ::core::compile_error!(::core::concat!(
                    "`record!(", ::core::stringify!($($obs_other)*), #message
                ))
            };
        }
    }
}
