//! The `status` label: how a call ended.

use core::fmt;

/// How an instrumented call ended: the value of the `status` label.
///
/// Six statuses are built in and cost nothing to record: [`OK`](Status::OK),
/// [`ERROR`](Status::ERROR), [`PANIC`](Status::PANIC), [`CANCELLED`](Status::CANCELLED),
/// [`TIMEOUT`](Status::TIMEOUT) and [`BLOCKED`](Status::BLOCKED). Any other `'static` label can
/// be made with [`Status::custom`]; each distinct custom label takes one small allocation per
/// instrumented function, the first time that function ends with it, and a short scan after.
///
/// Every status except `ok` counts as a failure: traces mark the span `ERROR`.
///
/// ```
/// use obs_runtime::Status;
///
/// const THROTTLED: Status = Status::custom("throttled");
/// assert_eq!(THROTTLED.as_str(), "throttled");
/// assert!(THROTTLED.is_failure());
/// assert_eq!(Status::custom("timeout"), Status::TIMEOUT);
/// assert!(!Status::OK.is_failure());
/// ```
#[derive(Clone, Copy)]
pub struct Status(Repr);

#[derive(Clone, Copy)]
enum Repr {
    Builtin(u8),
    Custom(&'static str),
}

/// The labels of the built-in statuses, in slot order.
pub(crate) const BUILTIN: [&str; 6] = ["ok", "error", "panic", "cancelled", "timeout", "blocked"];
/// How many built-in statuses there are: each site keeps one cell per built-in status.
pub(crate) const BUILTIN_COUNT: usize = BUILTIN.len();
/// The built-in statuses a site always renders, even at zero, so `rate()` queries and
/// error-ratio rules have both series from the first scrape.
pub(crate) const ALWAYS_RENDERED: usize = 2;

impl Status {
    /// The call returned normally and its value does not signal a failure.
    pub const OK: Status = Status(Repr::Builtin(0));
    /// The call returned `Err`, or a value whose [`ReturnStatus`] says it failed.
    pub const ERROR: Status = Status(Repr::Builtin(1));
    /// The call unwound. The panic continues to the caller unchanged.
    pub const PANIC: Status = Status(Repr::Builtin(2));
    /// The future of an async call was dropped before it completed.
    pub const CANCELLED: Status = Status(Repr::Builtin(3));
    /// The call failed because something took too long.
    pub const TIMEOUT: Status = Status(Repr::Builtin(4));
    /// The call was refused: rate-limited, forbidden, rejected by policy.
    pub const BLOCKED: Status = Status(Repr::Builtin(5));

    /// A status with a label of your own, such as `"throttled"`.
    ///
    /// A label equal to a built-in one (`"ok"`, `"error"`, …) *is* that built-in status.
    /// Keep the set of labels small and fixed: each one is a time series per function.
    #[must_use]
    pub const fn custom(label: &'static str) -> Status {
        let mut i = 0;
        while i < BUILTIN.len() {
            if const_str_eq(BUILTIN[i], label) {
                #[allow(clippy::cast_possible_truncation)] // i < 6
                return Status(Repr::Builtin(i as u8));
            }
            i += 1;
        }
        Status(Repr::Custom(label))
    }

    /// The label value, as it appears in `/metrics`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self.0 {
            Repr::Builtin(i) => BUILTIN[i as usize],
            Repr::Custom(label) => label,
        }
    }

    /// Everything but `ok` is a failure.
    #[must_use]
    pub const fn is_failure(self) -> bool {
        !matches!(self.0, Repr::Builtin(0))
    }

    /// The built-in slot of this status, or `None` for a custom label.
    #[inline]
    pub(crate) const fn slot(self) -> Result<usize, &'static str> {
        match self.0 {
            Repr::Builtin(i) => Ok(i as usize),
            Repr::Custom(label) => Err(label),
        }
    }
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl PartialEq for Status {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Status {}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({:?})", self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets a return type say how the call went.
///
/// Without it, a function's status is `ok` unless it returns `Result::Err` (`error`), panics
/// (`panic`) or, for async functions, is dropped before completion (`cancelled`). Implement it
/// for a response type whose failures are not `Err`s:
///
/// ```rust,standalone_crate
/// use obs_runtime::{counted, ReturnStatus, Status};
///
/// pub struct Response {
///     pub code: u16,
/// }
///
/// impl ReturnStatus for Response {
///     fn status(&self) -> Status {
///         match self.code {
///             500.. => Status::ERROR,
///             429 => Status::BLOCKED,
///             _ => Status::OK,
///         }
///     }
/// }
///
/// #[counted]
/// fn serve(code: u16) -> Response {
///     Response { code }
/// }
///
/// serve(200);
/// serve(503);
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function_calls_total{function="serve",module="rust_out",status="error"} 1"#));
/// ```
pub trait ReturnStatus {
    /// The status of a call that returned `self`.
    fn status(&self) -> Status;
}

/// Lets an error type pick the status of a call that returned `Err(self)`.
///
/// Without it, every `Err` is `error`. With it, an error enum can map a variant to `timeout`,
/// `blocked` or a label of its own:
///
/// ```rust,standalone_crate
/// use obs_runtime::{counted, ErrorStatus, Status};
///
/// #[derive(Debug)]
/// pub enum SkillError {
///     TimedOut,
///     Forbidden,
///     Crashed,
/// }
///
/// impl ErrorStatus for SkillError {
///     fn status(&self) -> Status {
///         match self {
///             SkillError::TimedOut => Status::TIMEOUT,
///             SkillError::Forbidden => Status::BLOCKED,
///             SkillError::Crashed => Status::ERROR,
///         }
///     }
/// }
///
/// #[counted]
/// fn run_skill(fail: Option<SkillError>) -> Result<(), SkillError> {
///     fail.map_or(Ok(()), Err)
/// }
///
/// let _ = run_skill(Some(SkillError::TimedOut));
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"function="run_skill",module="rust_out",status="timeout"} 1"#));
/// ```
pub trait ErrorStatus {
    /// The status of a call that returned `Err(self)`.
    fn status(&self) -> Status;
}
