//! Setting obs up: [`init`], its [`Builder`], the [`ObsGuard`] that keeps it running, and the
//! global subscriber it installs.

mod builder;
mod guard;
mod install;
mod logs_export;
mod metrics_export;
pub(crate) mod subscriber;

pub use builder::{Builder, DEFAULT_HOST, DEFAULT_PORT, init};
pub use guard::ObsGuard;
