//! Compile-time dispatch on the type of a call's result ("autoref specialization").
//!
//! The expansion calls `(&&&Autoref(&value)).__obs_status()`. Method resolution tries the
//! receiver with three, two, one and zero references in turn and picks the first trait whose
//! impl applies to the type, so the choice is made by the compiler and costs nothing at run
//! time. In a generic function where the type is a parameter, the bounds are not known and the
//! fallback applies.
//!
//! Order: a [`ReturnStatus`] impl on the whole return type; then `Result<_, E>` where
//! `E: ErrorStatus`; then any `Result` (`Err` is `error`); then anything (`ok`).

use core::fmt::{Debug, Display};

use crate::status::{ErrorStatus, ReturnStatus, Status};

/// A borrowed value whose type picks the trait impl.
pub struct Autoref<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> Clone for Autoref<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Autoref<'_, T> {}

/// Description and `error.type` of a failed call, for its span.
pub(crate) type Failure = (Option<String>, Option<&'static str>);

/// Status from a [`ReturnStatus`] impl.
pub trait ViaReturnStatus {
    /// The call's status.
    fn __obs_status(self) -> Status;
}

impl<T: ReturnStatus + ?Sized> ViaReturnStatus for &&&Autoref<'_, T> {
    #[inline]
    fn __obs_status(self) -> Status {
        self.0.status()
    }
}

/// Status of a `Result` whose error implements [`ErrorStatus`].
pub trait ViaErrorStatus {
    /// The call's status.
    fn __obs_status(self) -> Status;
}

impl<T, E: ErrorStatus> ViaErrorStatus for &&Autoref<'_, Result<T, E>> {
    #[inline]
    fn __obs_status(self) -> Status {
        match self.0 {
            Ok(_) => Status::OK,
            Err(e) => e.status(),
        }
    }
}

/// Status of any `Result`.
pub trait ViaResult {
    /// The call's status.
    fn __obs_status(self) -> Status;
}

impl<T, E> ViaResult for &Autoref<'_, Result<T, E>> {
    #[inline]
    fn __obs_status(self) -> Status {
        if self.0.is_ok() {
            Status::OK
        } else {
            Status::ERROR
        }
    }
}

/// Status of anything else: `ok`.
pub trait ViaAny {
    /// The call's status.
    fn __obs_status(self) -> Status;
}

impl<T: ?Sized> ViaAny for Autoref<'_, T> {
    #[inline]
    fn __obs_status(self) -> Status {
        Status::OK
    }
}

/// Description of an `Err` whose error implements `Display`.
pub trait DescribeDisplay {
    /// The error's `Display` and type name.
    fn __obs_describe(self) -> Failure;
}

impl<T, E: Display> DescribeDisplay for &&Autoref<'_, Result<T, E>> {
    fn __obs_describe(self) -> Failure {
        match self.0 {
            Ok(_) => (None, None),
            Err(e) => (
                Some(crate::fmt_safe::display(e)),
                Some(core::any::type_name::<E>()),
            ),
        }
    }
}

/// Description of any `Err`: its type name.
pub trait DescribeResult {
    /// The error's type name.
    fn __obs_describe(self) -> Failure;
}

impl<T, E> DescribeResult for &Autoref<'_, Result<T, E>> {
    fn __obs_describe(self) -> Failure {
        match self.0 {
            Ok(_) => (None, None),
            Err(_) => (None, Some(core::any::type_name::<E>())),
        }
    }
}

/// Description of anything else: none.
pub trait DescribeAny {
    /// Nothing to say.
    fn __obs_describe(self) -> Failure;
}

impl<T: ?Sized> DescribeAny for Autoref<'_, T> {
    fn __obs_describe(self) -> Failure {
        (None, None)
    }
}

/// A `Debug` argument, recorded in the span.
pub trait ArgDebug<'a> {
    /// The value to record.
    type Value: tracing::Value;
    /// The value to record.
    fn __obs_arg(self) -> Self::Value;
}

impl<'a, T: Debug + ?Sized> ArgDebug<'a> for &Autoref<'a, T> {
    type Value = tracing::field::DebugValue<crate::fmt_safe::SafeDebug<'a, T>>;
    #[inline]
    fn __obs_arg(self) -> Self::Value {
        tracing::field::debug(crate::fmt_safe::SafeDebug(self.0))
    }
}

/// An argument that is not `Debug`: left out of the span.
pub trait ArgOther {
    /// Records nothing.
    fn __obs_arg(self) -> tracing::field::Empty;
}

impl<T: ?Sized> ArgOther for Autoref<'_, T> {
    #[inline]
    fn __obs_arg(self) -> tracing::field::Empty {
        tracing::field::Empty
    }
}
