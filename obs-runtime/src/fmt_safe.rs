//! Formatting user values without letting their panics escape into the instrumented call.
//!
//! A `Debug` or `Display` impl that panics must not turn a successful call into a panicking
//! one just because it was traced: the panic is caught and the value replaced by a marker.

use core::fmt::{self, Debug, Display, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Replaces a value whose formatting panicked.
const PANICKED: &str = "<formatting panicked>";

/// `Display` of `value`, or a marker if it panics.
pub(crate) fn display<T: Display + ?Sized>(value: &T) -> String {
    catch_unwind(AssertUnwindSafe(|| {
        let mut out = String::new();
        let _ = write!(out, "{value}");
        out
    }))
    .unwrap_or_else(|_| PANICKED.to_owned())
}

/// Formats like the value's `Debug`, or a marker if that panics.
pub struct SafeDebug<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Debug + ?Sized> Debug for SafeDebug<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        match catch_unwind(AssertUnwindSafe(|| write!(out, "{:?}", self.0))) {
            Ok(_) => f.write_str(&out),
            Err(_) => f.write_str(PANICKED),
        }
    }
}
