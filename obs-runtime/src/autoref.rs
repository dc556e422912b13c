//! Compile-time dispatch on the type of a call's result ("autoref specialization").
//!
//! The expansion calls `(&&&Autoref(&value)).__obs_status()`. Method resolution tries the
//! receiver with three, two, one and zero references in turn and picks the first trait whose
//! impl applies to the type, so the choice is made by the compiler and costs nothing at run
//! time. In a generic function where the type is a parameter, the bounds are not known and the
//! fallback applies.
//!
//! Order: a [`ReturnStatus`] impl on the whole return type; then a `Result` whose `Ok` type
//! has one (an `Ok(response)` with a 5xx is `error`) and whose error type has an
//! [`ErrorStatus`]; then one of the two; then any `Result` (`Err` is `error`); then anything
//! (`ok`).

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

impl<T: ReturnStatus + ?Sized> ViaReturnStatus for &&&&&Autoref<'_, T> {
    #[inline]
    fn __obs_status(self) -> Status {
        self.0.status()
    }
}

/// Status of a `Result` whose `Ok` type implements [`ReturnStatus`] and error type
/// [`ErrorStatus`].
pub trait ViaBothStatus {
    /// The call's status.
    fn __obs_status(self) -> Status;
}

impl<T: ReturnStatus, E: ErrorStatus> ViaBothStatus for &&&&Autoref<'_, Result<T, E>> {
    #[inline]
    fn __obs_status(self) -> Status {
        match self.0 {
            Ok(v) => v.status(),
            Err(e) => e.status(),
        }
    }
}

/// Status of a `Result` whose `Ok` type implements [`ReturnStatus`]: `Result<Response, E>`,
/// an axum handler's `Result<impl IntoResponse, E>` whose body gives a `(StatusCode, _)`.
pub trait ViaOkStatus {
    /// The call's status.
    fn __obs_status(self) -> Status;
}

impl<T: ReturnStatus, E> ViaOkStatus for &&&Autoref<'_, Result<T, E>> {
    #[inline]
    fn __obs_status(self) -> Status {
        match self.0 {
            Ok(v) => v.status(),
            Err(_) => Status::ERROR,
        }
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

/// A value `tracing` records as its own type (an integer, a float, a `bool`, a string), so
/// that exporters carry it typed (an OTLP int attribute, not the text `"2"`). Sealed: the
/// types of [`ArgTyped`].
pub trait Typed: tracing::Value + typed::Sealed {}

mod typed {
    pub trait Sealed {}
}

macro_rules! typed {
    ($($t:ty),*) => {
        $(
            impl typed::Sealed for $t {}
            impl Typed for $t {}
        )*
    };
}

typed!(
    i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, bool, str, String
);

impl<T: Typed + ?Sized> typed::Sealed for &T {}
impl<T: Typed + ?Sized> Typed for &T {}
impl<T: Typed + ?Sized> typed::Sealed for &mut T {}
impl<T: Typed + ?Sized> Typed for &mut T {}

/// An argument of a [`Typed`] type, recorded as that type: the first choice.
pub trait ArgTyped<'a> {
    /// The value to record.
    type Value: tracing::Value;
    /// The value to record.
    fn __obs_arg(self) -> Self::Value;
}

impl<'a, T: Typed + ?Sized> ArgTyped<'a> for &&Autoref<'a, T> {
    type Value = &'a T;
    #[inline]
    fn __obs_arg(self) -> &'a T {
        self.0
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

/// What `#[traced(ret)]` reports of a `Result`: its `Ok` value; an `Err` is `err`'s to report.
pub trait RetOk<'a> {
    /// The value, type of the `Ok` value.
    type Value: ?Sized;
    /// The `Ok` value, or `None` for an `Err`.
    fn __obs_ret(self) -> Option<&'a Self::Value>;
}

impl<'a, T, E> RetOk<'a> for &Autoref<'a, Result<T, E>> {
    type Value = T;
    #[inline]
    fn __obs_ret(self) -> Option<&'a T> {
        self.0.as_ref().ok()
    }
}

/// What `#[traced(ret)]` reports of anything else: the value.
pub trait RetAny<'a> {
    /// The value's type.
    type Value: ?Sized;
    /// The value.
    fn __obs_ret(self) -> Option<&'a Self::Value>;
}

impl<'a, T: ?Sized> RetAny<'a> for Autoref<'a, T> {
    type Value = T;
    #[inline]
    fn __obs_ret(self) -> Option<&'a T> {
        Some(self.0)
    }
}
