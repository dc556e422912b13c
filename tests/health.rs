//! Health probes over HTTP: passing, failing, hanging and panicking checks.

mod common;

use std::time::{Duration, Instant};

use obs_runtime::Builder;
use obs_runtime::health::{self, Probe};

#[test]
fn probes_answer_200_or_503_with_each_check_listed() {
    let obs = Builder::new().port(0).env(|_| None).install().unwrap();
    let addr = obs.local_addr().unwrap();

    // No check registered: alive.
    let live = common::request(addr, "GET", "/health/live");
    assert_eq!(live.status_line, "HTTP/1.1 200 OK");
    assert_eq!(live.header("Content-Type"), Some("application/json"));
    assert_eq!(live.body, r#"{"status":"pass","checks":[]}"#);

    health::add_check(Probe::Startup, "migrations", Duration::from_secs(1), || {
        Ok::<(), String>(())
    });
    let startup = common::request(addr, "GET", "/health/startup");
    assert_eq!(startup.status_line, "HTTP/1.1 200 OK");
    assert!(
        startup
            .body
            .starts_with(r#"{"status":"pass","checks":[{"name":"migrations","status":"pass","#),
        "{}",
        startup.body
    );

    health::add_check(Probe::Ready, "db", Duration::from_secs(1), || {
        Ok::<(), String>(())
    });
    health::add_check(Probe::Ready, "cache", Duration::from_secs(1), || {
        Err("connection refused")
    });
    health::add_check(Probe::Ready, "search", Duration::from_millis(200), || {
        std::thread::sleep(Duration::from_secs(30));
        Ok::<(), String>(())
    });
    health::add_check(
        Probe::Ready,
        "flaky",
        Duration::from_secs(1),
        || -> Result<(), String> { panic!("index out of range") },
    );
    let started = Instant::now();
    let ready = common::request(addr, "GET", "/health/ready");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a hanging check held the probe"
    );
    assert_eq!(ready.status_line, "HTTP/1.1 503 Service Unavailable");
    let body = &ready.body;
    assert!(
        body.starts_with(r#"{"status":"fail","checks":[{"name":"db","status":"pass","#),
        "{body}"
    );
    assert!(
        body.contains(r#"{"name":"cache","status":"fail","error":"connection refused","#),
        "{body}"
    );
    assert!(
        body.contains(r#"{"name":"search","status":"fail","error":"timed out after 200ms","#),
        "{body}"
    );
    assert!(
        body.contains(r#"{"name":"flaky","status":"fail","error":"panicked: index out of range","#),
        "{body}"
    );

    // The hanging check is not started again while it hangs; the server still serves.
    let again = common::request(addr, "GET", "/health/ready");
    assert!(again.body.contains(r#""name":"search","status":"fail","error":"still running from an earlier probe that timed out""#), "{}", again.body);
    assert_eq!(
        common::request(addr, "GET", "/metrics").status_line,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        common::request(addr, "POST", "/health/live").status_line,
        "HTTP/1.1 405 Method Not Allowed"
    );

    // Fix what failed: ready again.
    for name in ["cache", "search", "flaky"] {
        assert!(health::remove_check(Probe::Ready, name));
    }
    assert_eq!(
        common::request(addr, "GET", "/health/ready").status_line,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(common::request(addr, "HEAD", "/health/ready").body, "");
}
