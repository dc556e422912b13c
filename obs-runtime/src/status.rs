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
/// Every status except `ok` counts as a failure: traces mark the span `ERROR`. A status that
/// is the caller's mistake rather than a failure of the call (a `not_found`, an
/// `invalid_argument`) is made with [`Status::custom_ok`]: it keeps its own label, and
/// neither the span nor the generated rules and dashboard count it as a failure.
///
/// ```
/// use obs_runtime::Status;
///
/// const THROTTLED: Status = Status::custom("throttled");
/// assert_eq!(THROTTLED.as_str(), "throttled");
/// assert!(THROTTLED.is_failure());
/// assert_eq!(Status::custom("timeout"), Status::TIMEOUT);
/// assert!(!Status::OK.is_failure());
///
/// const NOT_FOUND: Status = Status::custom_ok("not_found"); // the caller asked for nothing
/// assert!(!NOT_FOUND.is_failure());
/// assert_eq!(NOT_FOUND.as_str(), "not_found");
/// ```
#[derive(Clone, Copy)]
pub struct Status(Repr);

#[derive(Clone, Copy)]
enum Repr {
    Builtin(u8),
    /// A label of the user's, and whether it is a failure.
    Custom(&'static str, bool),
}

/// The labels of the built-in statuses, in slot order.
pub const BUILTIN: [&str; 6] = ["ok", "error", "panic", "cancelled", "timeout", "blocked"];
/// How many built-in statuses there are: each site keeps one cell per built-in status.
pub(crate) const BUILTIN_COUNT: usize = BUILTIN.len();
/// The built-in statuses a site renders at zero, before any call ended with them (`ok`, and
/// `error` where the return type can give it), so `rate()` queries and error-ratio rules have
/// both series from the first scrape.
pub(crate) const ALWAYS_RENDERED: usize = 2;
/// The slot of [`Status::ERROR`].
pub(crate) const ERROR_SLOT: usize = 1;

impl Status {
    /// The call returned normally and its value does not signal a failure.
    pub const OK: Status = Status(Repr::Builtin(0));
    /// The call returned `Err`, or a value whose [`ReturnStatus`] says it failed.
    #[allow(clippy::cast_possible_truncation)] // 1
    pub const ERROR: Status = Status(Repr::Builtin(ERROR_SLOT as u8));
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
        Status(Repr::Custom(label, true))
    }

    /// A status with a label of your own that is **not a failure**, such as `"not_found"`
    /// for a lookup of something that does not exist: the caller's mistake, not the call's.
    ///
    /// It is counted under its own label like [`Status::custom`], but the span is not marked
    /// `ERROR` and the generated rules and dashboard count it with the successes (once the
    /// function has ended with it before they were generated: the catalog learns custom
    /// labels from the calls). A label equal to `"ok"` is [`Status::OK`]; one equal to another
    /// built-in label is a custom label of that name that is not a failure.
    #[must_use]
    pub const fn custom_ok(label: &'static str) -> Status {
        if const_str_eq(BUILTIN[0], label) {
            return Status::OK;
        }
        Status(Repr::Custom(label, false))
    }

    /// The label value, as it appears in `/metrics`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self.0 {
            Repr::Builtin(i) => BUILTIN[i as usize],
            Repr::Custom(label, _) => label,
        }
    }

    /// Everything but `ok` and the labels made with [`Status::custom_ok`] is a failure.
    #[must_use]
    pub const fn is_failure(self) -> bool {
        match self.0 {
            Repr::Builtin(i) => i != 0,
            Repr::Custom(_, failure) => failure,
        }
    }

    /// The built-in slot of this status, or `None` for a custom label.
    #[inline]
    pub(crate) const fn slot(self) -> Result<usize, &'static str> {
        match self.0 {
            Repr::Builtin(i) => Ok(i as usize),
            Repr::Custom(label, _) => Err(label),
        }
    }
}

/// How one metric writes the status of a call: the label's name and the value of each
/// built-in status. `status(..)` on `#[counted]` and `#[timed]` sets them, for plans and
/// dashboards that already speak of `success`, `failed` or `status_code`:
///
/// ```rust,standalone_crate
/// use obs_runtime::{ErrorStatus, Status, counted};
///
/// #[derive(Debug)]
/// struct Refused;
///
/// impl ErrorStatus for Refused {
///     fn status(&self) -> Status {
///         Status::BLOCKED
///     }
/// }
///
/// #[counted(name = "requests_total", status(ok = "success", blocked = "refused"))]
/// fn request(allowed: bool) -> Result<(), Refused> {
///     if allowed { Ok(()) } else { Err(Refused) }
/// }
///
/// request(true).unwrap();
/// request(false).unwrap_err();
/// let page = obs_runtime::render();
/// assert!(page.contains(r#"requests_total{function="request",module="rust_out",status="success"} 1"#));
/// assert!(page.contains(r#"requests_total{function="request",module="rust_out",status="refused"} 1"#));
///
/// let functions = obs_runtime::catalog::functions();
/// let metric = &functions.iter().find(|f| f.function == "request").unwrap().metrics[0];
/// assert_eq!(metric.status.name(), "status");
/// assert_eq!(metric.status.ok(), "success"); // what the generated rules count as success
/// ```
///
/// Renaming changes what the page says, never what a status means: the value given to `ok`
/// is the one success, every other value is a failure, and the generated rules and dashboard
/// select failures as "the status label is not the ok value" of each metric. A custom status
/// ([`Status::custom`]) keeps its own label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusLabel {
    name: &'static str,
    values: [&'static str; BUILTIN_COUNT],
}

impl StatusLabel {
    /// `status`, with the built-in values `ok`, `error`, `panic`, `cancelled`, `timeout`,
    /// `blocked`.
    pub const DEFAULT: StatusLabel = StatusLabel {
        name: "status",
        values: BUILTIN,
    };

    /// A label named `name` whose built-in statuses read `values`, in the order of
    /// [`DEFAULT`](StatusLabel::DEFAULT). The attributes check at compile time that `name` is
    /// a valid label name and that no failure reads like `ok`'s value; this does not.
    #[must_use]
    pub const fn new(name: &'static str, values: [&'static str; BUILTIN_COUNT]) -> Self {
        StatusLabel { name, values }
    }

    /// The label's name: `status` unless renamed.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The value `status` is written as: its renamed value for a built-in status, its own
    /// label for a custom one.
    #[must_use]
    pub const fn value(&self, status: Status) -> &'static str {
        match status.0 {
            Repr::Builtin(i) => self.values[i as usize],
            Repr::Custom(label, _) => label,
        }
    }

    /// The value of successful calls: every other value of the label is a failure.
    #[must_use]
    pub const fn ok(&self) -> &'static str {
        self.values[0]
    }

    /// The value of built-in slot `slot`.
    pub(crate) const fn slot_value(&self, slot: usize) -> &'static str {
        self.values[slot]
    }
}

impl Default for StatusLabel {
    fn default() -> Self {
        StatusLabel::DEFAULT
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

/// The status of a call whose guard was dropped without a result.
#[cold]
pub(crate) fn unfinished() -> Status {
    if std::thread::panicking() {
        Status::PANIC
    } else {
        Status::CANCELLED
    }
}
