//! The attribute parser and expansion of obs-macros.

use std::str::FromStr;

use crate::{args, plan};

/// Arbitrary attribute arguments (the first line) and item (the rest) through the whole
/// expansion of each attribute: the result is tokens (an expansion, or the item beside a
/// spanned error), never a panic.
pub fn attribute(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (args, item) = text.split_once('\n').unwrap_or((&text, "fn f() {}"));
    let (Ok(args), Ok(item)) = (
        proc_macro2::TokenStream::from_str(args),
        proc_macro2::TokenStream::from_str(item),
    ) else {
        return;
    };
    for kind in args::Kind::ALL {
        let _ = args::Args::parse(kind, args.clone());
        let _ = plan::entry(kind, args.clone(), item.clone());
    }
}
