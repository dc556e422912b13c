//! Soak: does obs keep its promises for minutes of traffic?
//!
//! For `SOAK_SECS` seconds (default 600), four threads call a mix of instrumented functions
//! (sync and async; labels from the call, one of them past the series limit; spans sampled at
//! 10 %), a scraper fetches `/metrics` over loopback every 100 ms, and the exporter sends
//! OTLP/HTTP to a receiver in this process that refuses connections a third of the time. It
//! prints RSS every minute, then the figures the targets are about:
//!
//! - RSS after the first minute grows by less than 1 MiB;
//! - calls made = calls counted on the page, per function;
//! - spans the receiver decoded = `obs_spans_exported_total`, and every finished span is
//!   exported or dropped with a reason;
//! - scrape p99 under 50 ms.
//!
//! `SOAK_SECS=120 cargo bench -p obs-soak --bench soak`. Loopback only, bounded in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use obs_runtime::{OtlpProtocol, Sampler, TracesExporter, counted, timed, traced};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// The receiver is up this long, then down half as long: down a third of the time.
const UP: Duration = Duration::from_secs(20);
const DOWN: Duration = Duration::from_secs(10);
const SCRAPE_EVERY: Duration = Duration::from_millis(100);
const WORKERS: usize = 4;
/// Calls of one round of a worker; it sleeps 1 ms between rounds, so the soak is steady
/// traffic (about 50,000 calls a second in all), not a saturation test.
const ROUND: u64 = 16;

#[counted]
#[timed]
fn checksum(n: u64) -> u64 {
    n.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(7)
}

#[counted]
#[traced]
async fn fetch(n: u64) -> Result<u64, String> {
    if n.is_multiple_of(10) {
        Err(format!("miss {n}"))
    } else {
        Ok(n)
    }
}

#[counted]
#[traced]
fn handle(n: u64) -> u64 {
    checksum(n) ^ n
}

#[counted(labels(tenant = tenant))]
fn by_tenant(tenant: u64) {
    std::hint::black_box(tenant);
}

/// A new label value on every call: past the series limit, counted under `__overflow__`.
#[counted(labels(request = request))]
fn by_request(request: u64) {
    std::hint::black_box(request);
}

/// The functions on the page, in the order of the calls counted per function.
const FUNCTIONS: [&str; 5] = ["checksum", "fetch", "handle", "by_tenant", "by_request"];

fn main() {
    let secs: u64 =
        std::env::var("SOAK_SECS").map_or(600, |s| s.parse().expect("SOAK_SECS: seconds"));
    let run_for = Duration::from_secs(secs);

    let receiver = Receiver::start();
    let obs = obs_runtime::Builder::new()
        .service_name("soak")
        .port(0)
        .traces_exporter(TracesExporter::Otlp)
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .otlp_endpoint(format!("http://{}", receiver.addr))
        .sampler(Sampler::ParentBasedTraceIdRatio(0.1))
        .flush_timeout(Duration::from_secs(10))
        .install()
        .expect("obs installs");
    let addr = obs.local_addr().expect("serving");
    println!(
        "soak: {secs} s, /metrics at {addr}, OTLP receiver at {}",
        receiver.addr
    );

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let stop = stop.clone();
            thread::spawn(move || work(w as u64, &stop))
        })
        .collect();
    let scraper = {
        let stop = stop.clone();
        thread::spawn(move || scrape_loop(addr, &stop))
    };

    let start = Instant::now();
    let mut rss = Vec::new();
    while start.elapsed() < run_for {
        let up = start.elapsed().as_secs() % (UP + DOWN).as_secs() < UP.as_secs();
        receiver.set_up(up);
        thread::sleep(Duration::from_millis(200));
        let minute = start.elapsed().as_secs() / 60;
        if minute as usize >= rss.len() {
            let kib = rss_kib();
            println!("t={:>4}s rss={kib} KiB", start.elapsed().as_secs());
            rss.push(kib);
        }
    }
    receiver.set_up(true);
    stop.store(true, Relaxed);
    let mut made = [0u64; FUNCTIONS.len()];
    for worker in workers {
        let calls = worker.join().expect("worker");
        for (total, n) in made.iter_mut().zip(calls) {
            *total += n;
        }
    }
    let latencies = scraper.join().expect("scraper");
    let rss_end = rss_kib();
    println!(
        "t={:>4}s rss={rss_end} KiB (end)",
        start.elapsed().as_secs()
    );

    // What the page says before the exporter stops, then after it flushed.
    let page = obs_runtime::render();
    drop(obs);
    let flushed = obs_runtime::render();
    thread::sleep(Duration::from_millis(200));

    report(&Report {
        made,
        page: &page,
        flushed: &flushed,
        rss,
        rss_end,
        latencies,
        received: receiver.spans.load(Relaxed),
        requests: receiver.requests.load(Relaxed),
    });
}

/// One worker: rounds of calls until told to stop; returns the calls made per function.
fn work(worker: u64, stop: &AtomicBool) -> [u64; FUNCTIONS.len()] {
    let mut made = [0u64; FUNCTIONS.len()];
    let mut n = worker << 48;
    while !stop.load(Relaxed) {
        for _ in 0..ROUND / 4 {
            n += 1;
            std::hint::black_box(checksum(n));
            let _ = std::hint::black_box(futures_executor::block_on(fetch(n)));
            std::hint::black_box(handle(n));
            by_tenant(n % 20);
            // `handle` calls `checksum` too.
            made[0] += 2;
            made[1..4].iter_mut().for_each(|m| *m += 1);
        }
        by_request(n);
        made[4] += 1;
        thread::sleep(Duration::from_millis(1));
    }
    made
}

/// Scrapes `/metrics` every 100 ms until told to stop; returns each scrape's latency.
fn scrape_loop(addr: SocketAddr, stop: &AtomicBool) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while !stop.load(Relaxed) {
        let start = Instant::now();
        let page = http_get(addr, "/metrics");
        latencies.push(start.elapsed());
        assert!(
            page.starts_with("HTTP/1.1 200"),
            "scrape failed: {}",
            &page[..page.len().min(200)]
        );
        thread::sleep(SCRAPE_EVERY.saturating_sub(start.elapsed()));
    }
    latencies
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the page");
    response
}

/// Resident set size of this process, from `/proc/self/status`.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// An OTLP/HTTP receiver on loopback: `POST /v1/traces`, protobuf, spans counted. Down, it
/// closes its listener (connections are refused) and the connections it has.
struct Receiver {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    spans: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("address");
        listener.set_nonblocking(true).expect("nonblocking");
        let receiver = Receiver {
            addr,
            up: Arc::new(AtomicBool::new(true)),
            spans: Arc::new(AtomicU64::new(0)),
            requests: Arc::new(AtomicU64::new(0)),
        };
        let (up, spans, requests) = (
            receiver.up.clone(),
            receiver.spans.clone(),
            receiver.requests.clone(),
        );
        thread::spawn(move || accept_loop(listener, addr, &up, &spans, &requests));
        receiver
    }

    fn set_up(&self, up: bool) {
        if self.up.swap(up, Relaxed) != up {
            println!("receiver {}", if up { "up" } else { "down" });
        }
    }
}

/// Accepts while up; while down, holds no listener, so the exporter's connect is refused.
fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    up: &Arc<AtomicBool>,
    spans: &Arc<AtomicU64>,
    requests: &Arc<AtomicU64>,
) {
    let mut listener = Some(listener);
    loop {
        match (&listener, up.load(Relaxed)) {
            (Some(l), true) => match l.accept() {
                Ok((stream, _)) => {
                    let (up, spans, requests) = (up.clone(), spans.clone(), requests.clone());
                    thread::spawn(move || serve(stream, &up, &spans, &requests));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("receiver accept: {e}"),
            },
            (Some(_), false) => listener = None,
            (None, true) => {
                let l = TcpListener::bind(addr).expect("rebind the receiver");
                l.set_nonblocking(true).expect("nonblocking");
                listener = Some(l);
            }
            (None, false) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// One connection: requests until the client closes it or the receiver goes down.
fn serve(stream: TcpStream, up: &AtomicBool, spans: &AtomicU64, requests: &AtomicU64) {
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    while up.load(Relaxed) {
        let mut head = Vec::new();
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if head.is_empty() && line.is_empty() {
                        if !up.load(Relaxed) {
                            return;
                        }
                        continue;
                    }
                    return;
                }
                Err(_) => return,
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
            head.push(line);
        }
        let request_line = head.first().cloned().unwrap_or_default();
        let length = length.expect("the exporter sends Content-Length");
        let mut body = vec![0; length];
        reader
            .get_mut()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        reader
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let status = if request_line.starts_with("POST /v1/traces ") {
            let request =
                ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
            let n: usize = request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            spans.fetch_add(n as u64, Relaxed);
            requests.fetch_add(1, Relaxed);
            "200 OK"
        } else {
            "404 Not Found"
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

struct Report<'a> {
    made: [u64; FUNCTIONS.len()],
    page: &'a str,
    flushed: &'a str,
    rss: Vec<u64>,
    rss_end: u64,
    latencies: Vec<Duration>,
    received: u64,
    requests: u64,
}

/// The sum of every series of `family` whose labels contain `filter`.
fn sum(page: &str, family: &str, filter: &str) -> u64 {
    page.lines()
        .filter(|l| {
            l.starts_with(family) && l[family.len()..].starts_with('{') && l.contains(filter)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn report(r: &Report<'_>) {
    println!("\n== calls made against calls counted on the page");
    let mut exact = true;
    for (function, made) in FUNCTIONS.iter().zip(r.made) {
        let counted = sum(
            r.page,
            "function_calls_total",
            &format!("function=\"{function}\""),
        );
        exact &= counted == made;
        println!("{function:<11} made {made:>10} counted {counted:>10}");
    }
    let overflow = sum(r.page, "function_calls_total", "request=\"__overflow__\"");
    println!("by_request under __overflow__: {overflow}");

    println!("\n== spans");
    let exported = r
        .flushed
        .lines()
        .find_map(|l| l.strip_prefix("obs_spans_exported_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let dropped: Vec<(&str, u64)> = ["export_failed", "queue_full", "shutdown"]
        .into_iter()
        .map(|reason| {
            (
                reason,
                sum(
                    r.flushed,
                    "obs_spans_dropped_total",
                    &format!("reason=\"{reason}\""),
                ),
            )
        })
        .collect();
    let dropped_total: u64 = dropped.iter().map(|(_, n)| n).sum();
    let traced_calls = r.made[1] + r.made[2];
    println!(
        "traced calls {traced_calls}, sampled at 10 %: about {}",
        traced_calls / 10
    );
    println!(
        "receiver decoded {} spans in {} requests",
        r.received, r.requests
    );
    println!("obs_spans_exported_total {exported}");
    for (reason, n) in &dropped {
        println!("obs_spans_dropped_total{{reason=\"{reason}\"}} {n}");
    }
    println!("exported + dropped {}", exported + dropped_total);

    println!("\n== memory");
    let after_first_minute = r.rss.get(1).copied().unwrap_or(r.rss_end);
    let growth = i128::from(r.rss_end) - i128::from(after_first_minute);
    println!("rss per minute (KiB): {:?}, end {}", r.rss, r.rss_end);
    println!("growth after the first minute: {growth} KiB");

    println!("\n== scrape latency over {} scrapes", r.latencies.len());
    let mut sorted = r.latencies.clone();
    sorted.sort();
    let pct = |p: usize| {
        sorted
            .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(pct(50)),
        ms(pct(90)),
        ms(pct(99)),
        ms(sorted.last().copied().unwrap_or_default())
    );

    println!("\n== targets");
    println!("counts exact: {}", verdict(exact));
    println!(
        "every span accounted for (received = exported): {}",
        verdict(r.received == exported)
    );
    println!(
        "rss growth after the first minute < 1 MiB: {}",
        verdict(growth < 1024)
    );
    println!(
        "scrape p99 < 50 ms: {}",
        verdict(pct(99) < Duration::from_millis(50))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}
