// Fully qualified attributes stack with bare ones, in any order, and expand once together.

#![deny(warnings)]

use obs_runtime::{counted, exclude, traced};

#[obs_runtime::timed]
#[counted]
fn qualified_first() -> u8 {
    1
}

#[counted]
#[obs_runtime::timed(buckets = [0.25, 1.0])]
#[obs_runtime::in_flight(name = "jobs_in_flight")]
fn bare_first() -> u8 {
    2
}

#[traced(skip(secret), fields(attempt = 1))]
#[obs_runtime::counted(name = "logins_total", help = "Logins.", labels(method = "password"))]
fn login(user: &str, secret: &str) -> Result<(), String> {
    if secret.is_empty() { Err(format!("no password for {user}")) } else { Ok(()) }
}

struct Store;

// On an impl block: a method's own attribute stacks with the block's, and an imported
// `#[exclude]` leaves a method out (and keeps the import used).
#[counted]
impl Store {
    #[obs_runtime::timed]
    fn get(&self) -> u8 {
        3
    }

    #[exclude]
    fn len(&self) -> usize {
        0
    }
}

fn main() {
    assert_eq!(Store.get(), 3);
    assert_eq!(Store.len(), 0);
    assert_eq!(qualified_first(), 1);
    assert_eq!(bare_first(), 2);
    assert!(login("ann", "x").is_ok());
    let page = obs_runtime::render();
    assert!(page.contains("function_duration_seconds_bucket{function=\"qualified_first\""));
    assert!(page.contains("jobs_in_flight{function=\"bare_first\""));
    assert!(page.contains("logins_total{function=\"login\""));
    assert!(page.contains("function_duration_seconds_count{function=\"Store::get\""));
    assert!(!page.contains("Store::len"));
}
