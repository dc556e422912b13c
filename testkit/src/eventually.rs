//! The poll that waits for something another thread or process does: one loop, one deadline
//! rule and one failure message for every test.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// The first pause between two polls; each pause doubles up to [`LONGEST`], so a quick result
/// is seen within milliseconds and a slow one (Prometheus's next scrape, a browser's reload)
/// is not polled in a hot loop.
const FIRST: Duration = Duration::from_millis(10);
const LONGEST: Duration = Duration::from_millis(250);

/// Polls `poll` until it returns `Ok`, and returns that. `timeout` is a liveness bound, far
/// from how long the wait takes, not a timing assertion.
///
/// # Panics
///
/// After `timeout`, with `what` and the last `Err` (what the poll saw last).
#[track_caller]
pub fn eventually<T, E: Debug>(
    what: &str,
    timeout: Duration,
    poll: impl FnMut() -> Result<T, E>,
) -> T {
    wait_until(timeout, poll).unwrap_or_else(|seen| fail(what, timeout, &seen))
}

/// Polls `poll` until it returns `Ok` or `timeout` passed; then returns its last answer. For a
/// test that goes on either way, as when it waits for what may never come (spans sent to a
/// receiver that refuses them) and asserts afterwards.
///
/// # Errors
///
/// The last `Err` of `poll`, once `timeout` passed.
pub fn wait_until<T, E>(timeout: Duration, mut poll: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut wait = Wait::new(timeout);
    loop {
        let answer = poll();
        match (&answer, wait.next()) {
            (Err(_), Some(pause)) => std::thread::sleep(pause),
            _ => return answer,
        }
    }
}

/// [`eventually`] for async tests: pauses with tokio's timer, so the tasks the test waits for
/// run meanwhile on a current-thread runtime.
///
/// # Panics
///
/// After `timeout`, with `what` and the last `Err`.
pub async fn eventually_async<T, E: Debug>(
    what: &str,
    timeout: Duration,
    poll: impl FnMut() -> Result<T, E>,
) -> T {
    match wait_until_async(timeout, poll).await {
        Ok(done) => done,
        Err(seen) => fail(what, timeout, &seen),
    }
}

/// [`wait_until`] for async tests, pausing with tokio's timer.
///
/// # Errors
///
/// The last `Err` of `poll`, once `timeout` passed.
pub async fn wait_until_async<T, E>(
    timeout: Duration,
    mut poll: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut wait = Wait::new(timeout);
    loop {
        let answer = poll();
        match (&answer, wait.next()) {
            (Err(_), Some(pause)) => tokio::time::sleep(pause).await,
            _ => return answer,
        }
    }
}

/// Text seen by a poll (a page, a process's output), shown as it is in [`eventually`]'s
/// message rather than as a quoted string with its newlines escaped.
pub struct Text(pub String);

impl Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[track_caller]
fn fail(what: &str, timeout: Duration, seen: &dyn Debug) -> ! {
    panic!("waited {timeout:?} for {what}; last seen: {seen:#?}")
}

/// The deadline and the next pause.
struct Wait {
    deadline: Instant,
    pause: Duration,
}

impl Wait {
    fn new(timeout: Duration) -> Wait {
        Wait {
            deadline: Instant::now() + timeout,
            pause: FIRST,
        }
    }

    /// The pause before the next poll (the last one at the deadline), or `None` once the
    /// deadline passed.
    fn next(&mut self) -> Option<Duration> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() {
            return None;
        }
        let pause = self.pause.min(left);
        self.pause = (self.pause * 2).min(LONGEST);
        Some(pause)
    }
}
