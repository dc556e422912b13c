//! Health probes served beside `/metrics`: `/health/live`, `/health/ready`, `/health/startup`.
//!
//! Register checks anywhere (a library can register its own), then point Kubernetes' probes at
//! the `/metrics` server's address:
//!
//! ```
//! use std::time::Duration;
//! use obs_runtime::health::{self, Probe};
//!
//! health::add_check(Probe::Ready, "database", Duration::from_millis(500), || {
//!     // e.g. `pool.get()?.execute("SELECT 1")`
//!     Ok::<(), String>(())
//! });
//! health::add_check(Probe::Ready, "queue", Duration::from_millis(500), || {
//!     Err("broker unreachable")
//! });
//!
//! let report = health::run(Probe::Ready);
//! assert!(!report.healthy());
//! assert!(report.to_json().contains(r#""name":"queue","status":"fail","error":"broker unreachable""#));
//! assert!(health::run(Probe::Live).healthy()); // no liveness check: alive
//! ```
//!
//! Each check runs on a thread of its own with its timeout: a check that hangs is reported
//! failed when its time is up (and is not started again while it still hangs), a check that
//! panics is reported failed with its message. Neither takes the server down.

use std::fmt::{self, Display, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};

use crate::json::write_string;
use crate::sync::{read, write};
use std::time::{Duration, Instant};

/// Which probe a check belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `/health/live`: is the process able to make progress? Failing it gets the process
    /// restarted, so keep these checks to the process itself (a deadlock, a full disk).
    Live,
    /// `/health/ready`: should traffic be sent here? Dependencies (database, caches) belong here.
    Ready,
    /// `/health/startup`: has start-up finished (caches warmed, migrations run)?
    Startup,
}

impl Probe {
    /// The path the probe is served at.
    pub fn path(self) -> &'static str {
        match self {
            Probe::Live => "/health/live",
            Probe::Ready => "/health/ready",
            Probe::Startup => "/health/startup",
        }
    }

    pub(crate) fn from_path(path: &str) -> Option<Probe> {
        [Probe::Live, Probe::Ready, Probe::Startup]
            .into_iter()
            .find(|p| p.path() == path)
    }
}

type CheckFn = dyn Fn() -> Result<(), String> + Send + Sync;

struct Check {
    probe: Probe,
    name: String,
    timeout: Duration,
    run: Arc<CheckFn>,
    /// Set while a run is going on, so a hanging check is not started again and again.
    busy: Arc<AtomicBool>,
}

static CHECKS: RwLock<Vec<Check>> = RwLock::new(Vec::new());

/// Registers a check for `probe`, replacing one of the same name on the same probe.
///
/// `check` returns `Ok(())` when healthy, or an error whose `Display` says what is wrong.
pub fn add_check<F, E>(probe: Probe, name: impl Into<String>, timeout: Duration, check: F)
where
    F: Fn() -> Result<(), E> + Send + Sync + 'static,
    E: Display,
{
    let name = name.into();
    let run: Arc<CheckFn> = Arc::new(move || check().map_err(|e| crate::fmt_safe::display(&e)));
    let mut checks = write(&CHECKS);
    checks.retain(|c| !(c.probe == probe && c.name == name));
    checks.push(Check {
        probe,
        name,
        timeout,
        run,
        busy: Arc::new(AtomicBool::new(false)),
    });
}

/// Removes every check of `probe` named `name`; whether there was one.
pub fn remove_check(probe: Probe, name: &str) -> bool {
    let mut checks = write(&CHECKS);
    let before = checks.len();
    checks.retain(|c| !(c.probe == probe && c.name == name));
    checks.len() != before
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    /// The name it was registered with.
    pub name: String,
    /// `None` when it passed; otherwise what went wrong (its error, a timeout, a panic).
    pub error: Option<String>,
    /// How long it ran (up to its timeout).
    pub duration: Duration,
}

/// The outcome of a probe: every check, in registration order.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Which probe.
    pub probe: Probe,
    /// One result per registered check.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether every check passed (true with no checks).
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.error.is_none())
    }

    /// The JSON body served: `{"status":"pass"|"fail","checks":[{"name":…,"status":…,
    /// "duration_seconds":…,"error":…}]}`.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"status\":");
        out.push_str(if self.healthy() {
            "\"pass\""
        } else {
            "\"fail\""
        });
        out.push_str(",\"checks\":[");
        for (i, check) in self.checks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            write_string(&mut out, &check.name);
            out.push_str(if check.error.is_none() {
                ",\"status\":\"pass\""
            } else {
                ",\"status\":\"fail\""
            });
            if let Some(error) = &check.error {
                out.push_str(",\"error\":");
                write_string(&mut out, error);
            }
            let _ = write!(
                out,
                ",\"duration_seconds\":{}",
                check.duration.as_secs_f64()
            );
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// Runs every check of `probe` at once, each bounded by its timeout.
pub fn run(probe: Probe) -> Report {
    let checks: Vec<(String, Duration, Arc<CheckFn>, Arc<AtomicBool>)> = read(&CHECKS)
        .iter()
        .filter(|c| c.probe == probe)
        .map(|c| {
            (
                c.name.clone(),
                c.timeout,
                Arc::clone(&c.run),
                Arc::clone(&c.busy),
            )
        })
        .collect();
    let started = Instant::now();
    let pending: Vec<_> = checks
        .into_iter()
        .map(|(name, timeout, run, busy)| {
            if busy.swap(true, Ordering::AcqRel) {
                return (name, timeout, None);
            }
            let (tx, rx) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name(format!("obs-health-{name}"))
                .spawn(move || {
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run()));
                    busy.store(false, Ordering::Release);
                    let _ = tx.send(outcome);
                });
            (name, timeout, spawned.ok().map(|_| rx))
        })
        .collect();
    let results = pending
        .into_iter()
        .map(|(name, timeout, rx)| {
            let Some(rx) = rx else {
                return CheckResult {
                    name,
                    error: Some("still running from an earlier probe that timed out".into()),
                    duration: Duration::ZERO,
                };
            };
            let left = timeout.saturating_sub(started.elapsed());
            let error = match rx.recv_timeout(left) {
                Ok(Ok(Ok(()))) => None,
                Ok(Ok(Err(e))) => Some(e),
                Ok(Err(panic)) => Some(format!("panicked: {}", panic_message(&*panic))),
                Err(_) => Some(format!("timed out after {timeout:?}")),
            };
            CheckResult {
                name,
                error,
                duration: started.elapsed().min(timeout),
            }
        })
        .collect();
    Report {
        probe,
        checks: results,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_names_and_errors() {
        let report = Report {
            probe: Probe::Ready,
            checks: vec![CheckResult {
                name: "a\"b".into(),
                error: Some("line\nbreak\u{1}".into()),
                duration: Duration::from_millis(1500),
            }],
        };
        assert_eq!(
            report.to_json(),
            r#"{"status":"fail","checks":[{"name":"a\"b","status":"fail","error":"line\nbreak\u0001","duration_seconds":1.5}]}"#
        );
    }
}
