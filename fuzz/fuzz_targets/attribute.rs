//! Arbitrary attribute arguments and items through the whole expansion of each attribute:
//! the result is tokens (an expansion, or the item beside a spanned error), never a panic.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../obs-macros/src/args/mod.rs"]
mod args;
#[allow(dead_code)]
#[path = "../../obs-macros/src/expand/mod.rs"]
mod expand;
#[allow(dead_code)]
#[path = "../../obs-macros/src/item.rs"]
mod item;
#[allow(dead_code)]
#[path = "../../obs-macros/src/names.rs"]
mod names;
#[allow(dead_code)]
#[path = "../../obs-macros/src/plan.rs"]
mod plan;
#[allow(dead_code)]
#[path = "../../obs-macros/src/shared.rs"]
mod shared;
#[allow(dead_code)]
#[path = "../../obs-macros/src/valid.rs"]
mod valid;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // First line: the attribute's arguments; the rest: the item it is written on.
    let (args, item) = text.split_once('\n').unwrap_or((&text, "fn f() {}"));
    let (Ok(args), Ok(item)) = (proc_macro2::TokenStream::from_str(args), proc_macro2::TokenStream::from_str(item))
    else {
        return;
    };
    for kind in args::Kind::ALL {
        let _ = args::Args::parse(kind, args.clone());
        let _ = plan::entry(kind, args.clone(), item.clone());
    }
});
