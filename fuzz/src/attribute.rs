//! The attribute macros' phases (obs-macros-core), as the proc-macro shell runs them.

use std::str::FromStr;

use obs_macros_core::{Kind, expand, parse, plan, validate};

/// Arbitrary attribute arguments (the first line) and item (the rest) through every phase of
/// each attribute, one after the other as `obs_macros_core::attribute` runs them: the result
/// is tokens (an expansion, or the item beside a spanned error), never a panic.
pub fn attribute(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (args, item) = text.split_once('\n').unwrap_or((&text, "fn f() {}"));
    let (Ok(args), Ok(item)) = (
        proc_macro2::TokenStream::from_str(args),
        proc_macro2::TokenStream::from_str(item),
    ) else {
        return;
    };
    for kind in Kind::ALL {
        let input = parse(kind, args.clone(), item.clone());
        let _ = expand(plan(validate(input)));
    }
}
