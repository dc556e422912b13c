//! What is known of an instrumented function: its module, file and line from the expansion,
//! and its `function` label, computed once from `type_name` of an item nested in it.

use std::sync::OnceLock;

use crate::status::Status;

/// What is known of an instrumented function at compile time.
pub struct FnMeta {
    module: &'static str,
    file: &'static str,
    line: u32,
    ident: &'static str,
    /// Returns `type_name` of an item nested in the function: its full path, methods included.
    here: fn() -> &'static str,
    /// `not_failure = [..]`: the statuses that are not failures of this function.
    not_failures: &'static [&'static str],
    /// Whether the return type can give the `error` status (as far as the macro can tell).
    can_return_error: bool,
    names: OnceLock<Names>,
}

struct Names {
    label: String,
    qualified: String,
}

impl FnMeta {
    /// Called by the expansion of the attributes only.
    pub const fn new(
        module: &'static str,
        file: &'static str,
        line: u32,
        ident: &'static str,
        here: fn() -> &'static str,
    ) -> Self {
        FnMeta {
            module,
            file,
            line,
            ident,
            here,
            not_failures: &[],
            can_return_error: true,
            names: OnceLock::new(),
        }
    }

    /// Called by the expansion of `not_failure = [..]` only: these statuses (obs's names, or
    /// the labels of [`Status::custom`]) are not failures of this function.
    #[must_use]
    pub const fn with_not_failures(mut self, statuses: &'static [&'static str]) -> Self {
        self.not_failures = statuses;
        self
    }

    /// Called by the expansion only, for a return type that cannot give the `error` status
    /// (`()`, `u64`, `String`, `Option<T>`: types that neither obs nor the application can give
    /// a `ReturnStatus`). The page then shows no `error` series for this function until one
    /// is counted, which can then only come from a type the macro could not see through.
    #[must_use]
    pub const fn with_infallible_return(mut self) -> Self {
        self.can_return_error = false;
        self
    }

    /// Whether a call can end with the `error` status, judged from the return type: false for
    /// `()`, primitives, `String`, `Option<T>` and the like. Its `error` series are then not
    /// shown at zero before any call; `panic` and `cancelled` are shown once they happen, as
    /// for every function.
    pub const fn can_return_error(&self) -> bool {
        self.can_return_error
    }

    /// The statuses declared not to be failures of this function (`not_failure = [..]`).
    pub const fn not_failures(&self) -> &'static [&'static str] {
        self.not_failures
    }

    /// Whether a call of this function that ended with `status` failed: every status but
    /// `ok`, the [`Status::custom_ok`] labels and those of `not_failure = [..]`.
    #[inline]
    pub fn is_failure(&self, status: Status) -> bool {
        status.is_failure() && !self.not_failures.contains(&status.as_str())
    }

    fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            let label = function_label((self.here)()).unwrap_or_else(|| self.ident.to_owned());
            let qualified = format!("{}::{label}", self.module);
            Names { label, qualified }
        })
    }

    /// The `function` label: the fn name, `Type::method` for methods.
    pub fn function(&self) -> &str {
        &self.names().label
    }

    /// The fully qualified name, `module::Type::method`: OpenTelemetry's `code.function.name`.
    pub fn qualified(&self) -> &str {
        &self.names().qualified
    }

    /// The `module` label: `module_path!()` where the function is defined.
    pub const fn module(&self) -> &'static str {
        self.module
    }

    /// The source file, as `file!()` gives it.
    pub const fn file(&self) -> &'static str {
        self.file
    }

    /// The line of the function's name.
    pub const fn line(&self) -> u32 {
        self.line
    }
}

/// Turns the `type_name` of an item nested in a function into its `function` label.
///
/// `my_crate::api::Foo<_>::get::__obs_here` gives `Foo::get`;
/// `<my_crate::Foo<u8> as my_crate::Tr>::get::__obs_here` gives `Foo::get`;
/// `my_crate::<impl my_crate::api::Foo<_>>::get::__obs_here` (a type from another module)
/// gives `Foo::get`; `<(u8, my_crate::Id) as my_crate::Tr>::get::__obs_here` gives
/// `(u8, Id)::get`; `my_crate::handle::{{closure}}::__obs_here` gives `handle`; a fn nested
/// in another fn, `my_crate::main::handle::__obs_here`, gives `handle`. Types lose their
/// module paths and generic arguments. In the plain path form, the segment before the fn name
/// is a type when it is written in `UpperCamelCase`, as rustc's `non_camel_case_types` lint
/// asks. `None` if the shape is not recognised (the caller then falls back to the fn name).
fn function_label(type_name: &str) -> Option<String> {
    let path = type_name
        .strip_suffix("::__obs_here")?
        .replace("::{{closure}}", "");
    let (owner, rest) = match path.strip_prefix('<') {
        // `<Type as Trait>::method`.
        Some(inner) => {
            let end = closing_angle(inner)?;
            let qualified = &inner[..end];
            let ty = *split_top_level(qualified, " as ").first()?;
            (Some(short_type(ty)), inner[end + 1..].strip_prefix("::")?)
        }
        None => (None, path.as_str()),
    };
    let segments = split_top_level(rest, "::");
    let (&ident, before) = segments.split_last()?;
    if ident.is_empty() || !ident.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let owner = match (before.last(), owner) {
        // A method of a trait impl, not a fn nested in one.
        (None, owner) => owner,
        // `<impl Type>`: an inherent impl of a type from another module.
        (Some(prev), _) if prev.starts_with("<impl ") => {
            let ty = prev.strip_prefix("<impl ")?.strip_suffix('>')?;
            let ty = *split_top_level(ty, " for ").last()?;
            Some(short_type(ty))
        }
        (Some(prev), _) if prev.starts_with(|c: char| c.is_ascii_uppercase()) => {
            Some(short_type(prev))
        }
        _ => None,
    };
    Some(match owner {
        Some(owner) => format!("{owner}::{ident}"),
        None => ident.to_owned(),
    })
}

/// The byte index of the `>` that closes a `<` just before `s`, skipping nested pairs and
/// the `>` of `->`.
fn closing_angle(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if prev != '-' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        prev = c;
    }
    None
}

/// Splits `s` at each `sep` that is outside every `<…>`, `(…)` and `[…]`.
fn split_top_level<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut depth = 0usize;
    let mut prev = ' ';
    let mut cuts = Vec::new();
    let mut skip_until = 0;
    for (i, c) in s.char_indices() {
        if i >= skip_until {
            if depth == 0 && s[i..].starts_with(sep) {
                cuts.push(i);
                skip_until = i + sep.len();
            }
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' if prev == '-' => {}
                '>' | ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    let mut start = 0;
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    for cut in cuts {
        parts.push(&s[start..cut]);
        start = cut + sep.len();
    }
    parts.push(&s[start..]);
    parts
}

/// A type as `type_name` writes it, without module paths or generic arguments:
/// `alloc::vec::Vec<u8>` gives `Vec`, `(u8, app::Id)` gives `(u8, Id)`,
/// `dyn core::fmt::Debug` gives `dyn Debug`, `fn(u8) -> u8` stays.
fn short_type(ty: &str) -> String {
    let mut out = String::with_capacity(ty.len());
    let mut path = String::new();
    let flush = |path: &mut String, out: &mut String| {
        out.push_str(last_segment(path));
        path.clear();
    };
    let mut rest = ty;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        if c.is_alphanumeric() || c == '_' {
            path.push(c);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("::") {
            path.push_str("::");
            rest = after;
        } else if c == '<' && !path.is_empty() {
            // The generic arguments of a path: left out.
            rest = closing_angle(after).map_or("", |end| &after[end + 1..]);
        } else {
            flush(&mut path, &mut out);
            out.push(c);
            rest = after;
        }
    }
    flush(&mut path, &mut out);
    out
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::function_label;

    #[test]
    fn labels_from_type_names() {
        let cases = [
            ("app::handle::__obs_here", "handle"),
            ("app::api::Foo<_>::get::__obs_here", "Foo::get"),
            (
                "app::api::Foo<alloc::vec::Vec<u8>>::get::__obs_here",
                "Foo::get",
            ),
            ("<app::Foo<u8> as app::Tr<u8>>::m::__obs_here", "Foo::m"),
            ("<alloc::vec::Vec<_> as app::Tr>::m::__obs_here", "Vec::m"),
            ("<app::Foo as app::Tr>::m::inner::__obs_here", "inner"),
            ("app::Tr::d::__obs_here", "Tr::d"),
            ("app::af::{{closure}}::__obs_here", "af"),
            ("app::main::inner::__obs_here", "inner"),
            ("app::Foo::method::inner::__obs_here", "inner"),
            (
                "app::<impl app::inner::Deep<_>>::get::__obs_here",
                "Deep::get",
            ),
            (
                "app::<impl app::inner::Deep<fn() -> u8>>::get::__obs_here",
                "Deep::get",
            ),
            (
                "<(u8, app::Account) as app::Tr>::peek::__obs_here",
                "(u8, Account)::peek",
            ),
            (
                "<fn(u8) -> u8 as app::Tr>::peek::__obs_here",
                "fn(u8) -> u8::peek",
            ),
            ("<[_] as app::Tr>::peek::__obs_here", "[_]::peek"),
            ("<[u8; 4] as app::Tr>::peek::__obs_here", "[u8; 4]::peek"),
            (
                "<&app::Account as app::Tr>::peek::__obs_here",
                "&Account::peek",
            ),
            (
                "<dyn core::fmt::Debug as app::Tr>::peek::__obs_here",
                "dyn Debug::peek",
            ),
            ("<() as app::Tr>::peek::__obs_here", "()::peek"),
            ("<app::Foo<fn() -> u8> as app::Tr>::m::__obs_here", "Foo::m"),
            (
                "<app::Foo<alloc::vec::Vec<u8>> as app::Tr<(u8, u16)>>::m::__obs_here",
                "Foo::m",
            ),
        ];
        for (type_name, want) in cases {
            assert_eq!(
                function_label(type_name).as_deref(),
                Some(want),
                "{type_name}"
            );
        }
        assert_eq!(function_label("weird"), None);
    }
}
