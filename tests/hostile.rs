//! The `/metrics` server under hostile clients, driven with raw sockets: garbage, huge heads,
//! a thousand idle connections, clients that trickle a byte at a time, half-closed sockets.
//! Meanwhile a well-behaved scraper still gets whole pages and the application's own
//! instrumented calls go on, counted exactly.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use obs_runtime::{Builder, counted};

fn serve() -> (obs_runtime::ObsGuard, SocketAddr) {
    let obs = Builder::new()
        .port(0)
        .env(|_| None)
        .install()
        .expect("init");
    let addr = obs.local_addr().unwrap();
    (obs, addr)
}

/// A scrape must come back whole: a 200 whose body has the length announced and ends a line.
fn scrape_ok(addr: SocketAddr) {
    let response = common::request(addr, "GET", "/metrics");
    assert_eq!(response.status_line, "HTTP/1.1 200 OK");
    let length: usize = response.header("Content-Length").unwrap().parse().unwrap();
    assert_eq!(response.body.len(), length);
    assert!(response.body.ends_with('\n'));
}

#[counted]
fn app_work(i: u64) -> u64 {
    i.wrapping_mul(31)
}

#[test]
fn garbage_and_oversized_heads_get_errors_and_the_server_goes_on() {
    let (_obs, addr) = serve();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..50 {
        let len = 1 + (round * 37) % 3000;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect();
        let mut stream = TcpStream::connect(addr).unwrap();
        let _ = stream.write_all(&bytes);
        let _ = stream.write_all(b"\r\n\r\n");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 431"),
            "{answer:?}"
        );
    }
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
        "y".repeat(1 << 20)
    );
    assert!(
        common::raw(addr, huge.as_bytes())
            .status_line
            .starts_with("HTTP/1.1 431")
    );
    scrape_ok(addr);
}

#[test]
fn a_thousand_idle_connections_do_not_lock_out_the_scraper() {
    let (_obs, addr) = serve();
    let idle: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(idle.len() >= 900, "only {} connections opened", idle.len());
    let started = Instant::now();
    for _ in 0..5 {
        scrape_ok(addr);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "scrapes waited behind idle connections"
    );
    drop(idle);
}

#[test]
fn tricklers_are_cut_off_and_scrapes_go_on() {
    let (_obs, addr) = serve();
    let stop = Arc::new(AtomicBool::new(false));
    let tricklers: Vec<_> = (0..20)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let started = Instant::now();
                for b in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().cycle() {
                    if stop.load(Ordering::Relaxed) || stream.write_all(&[*b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                    if started.elapsed() > Duration::from_secs(25) {
                        break;
                    }
                }
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                (started.elapsed(), answer)
            })
        })
        .collect();
    for _ in 0..10 {
        scrape_ok(addr);
        std::thread::sleep(Duration::from_millis(100));
    }
    for trickler in tricklers {
        let (took, answer) = trickler.join().unwrap();
        assert!(
            took < Duration::from_secs(20),
            "a trickler held its connection {took:?}"
        );
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn half_closed_and_vanishing_clients_are_harmless() {
    let (_obs, addr) = serve();
    for i in 0..50 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(&b"GET /metrics HTTP/1.1\r\nHost"[..(i % 25)])
            .unwrap();
        if i % 2 == 0 {
            stream.shutdown(Shutdown::Write).unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
                "{answer:?}"
            );
        }
        // Odd rounds just drop the socket mid-request.
    }
    // A client that asks and leaves before reading the page.
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    }
    scrape_ok(addr);
}

#[test]
fn the_application_runs_on_during_an_attack() {
    let (_obs, addr) = serve();
    let stop = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(mut s) = TcpStream::connect(addr) {
                        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n");
                        let mut sink = Vec::new();
                        let _ = s.read_to_end(&mut sink);
                    }
                }
            })
        })
        .collect();
    let calls = 200_000;
    for i in 0..calls {
        std::hint::black_box(app_work(i));
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.join().unwrap();
    }
    let page = common::Page::parse(&obs_runtime::render());
    let labels = [
        ("function", "app_work"),
        ("module", "hostile"),
        ("status", "ok"),
    ];
    #[allow(clippy::cast_precision_loss)]
    let want = calls as f64;
    assert_eq!(page.value("function_calls_total", &labels), Some(want));
}

#[test]
fn scrape_auth_guards_metrics_but_not_the_probes() {
    let obs = Builder::new()
        .port(0)
        .env(|_| None)
        .scrape_bearer_token("s3cret")
        .install()
        .unwrap();
    let addr = obs.local_addr().unwrap();
    let denied = common::request(addr, "GET", "/metrics");
    assert_eq!(denied.status_line, "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        denied.header("WWW-Authenticate"),
        Some("Bearer realm=\"obs\"")
    );
    assert!(!denied.body.contains("function_calls_total"));
    let wrong = common::raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer guess\r\n\r\n",
    );
    assert_eq!(wrong.status_line, "HTTP/1.1 401 Unauthorized");
    let ok = common::raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n",
    );
    assert_eq!(ok.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        common::request(addr, "GET", "/obs/rules.yml").status_line,
        "HTTP/1.1 401 Unauthorized"
    );
    assert_eq!(
        common::request(addr, "GET", "/health/live").status_line,
        "HTTP/1.1 200 OK"
    );

    let basic = Builder::new()
        .port(0)
        .env(|var| (var == "OBS_SCRAPE_BASIC_AUTH").then(|| "prom:pa ss".to_owned()))
        .install()
        .unwrap();
    let addr = basic.local_addr().unwrap();
    assert_eq!(
        common::request(addr, "GET", "/metrics").status_line,
        "HTTP/1.1 401 Unauthorized"
    );
    let ok = common::raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nAuthorization: Basic cHJvbTpwYSBzcw==\r\n\r\n",
    );
    assert_eq!(ok.status_line, "HTTP/1.1 200 OK");

    let err = Builder::new()
        .port(0)
        .env(|var| (var == "OBS_SCRAPE_BASIC_AUTH").then(|| "no-colon".to_owned()))
        .install()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("OBS_SCRAPE_BASIC_AUTH") && message.contains("user:password"),
        "{message}"
    );
    assert!(
        !message.contains("no-colon"),
        "the secret leaked into the error: {message}"
    );
}
