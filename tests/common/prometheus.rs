//! A real Prometheus server on loopback, for the tests that scrape an example with it: started
//! on a free port with a temporary directory, killed when dropped, queried over its HTTP API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The Prometheus binary (Debian's `prometheus` package), or `None` with a notice outside CI.
pub fn binary() -> Option<PathBuf> {
    let found = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        super::missing(
            "prometheus",
            "apt-get install prometheus",
            "no prometheus server found",
        );
    }
    found
}

/// Debian trixie's Prometheus 2.53 (`OBS_PROMETHEUS_NATIVE`, which `.ci/run` sets), the first
/// release here with `scrape_classic_histograms`, or `None` with a notice outside CI.
pub fn native_binary() -> Option<PathBuf> {
    obs_testkit::trixie("OBS_PROMETHEUS_NATIVE", "prometheus")
}

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts `binary` scraping `target` every second, with `flags` added, and waits (at most a
    /// minute) until it is ready. `name` names its temporary directory.
    pub fn start(binary: &Path, name: &str, target: &str, flags: &[&str]) -> Prometheus {
        Self::start_with_rules(binary, name, target, flags, None)
    }

    /// As [`start`](Self::start), evaluating the rules file `rules` (YAML) every second.
    pub fn start_with_rules(
        binary: &Path,
        name: &str,
        target: &str,
        flags: &[&str],
        rules: Option<&str>,
    ) -> Prometheus {
        Self::start_scraping(binary, name, target, flags, rules, "")
    }

    /// As [`start_with_rules`](Self::start_with_rules), with `scrape` (YAML lines, indented
    /// as the job's keys: `    scrape_classic_histograms: true\n`) added to the scrape job.
    pub fn start_scraping(
        binary: &Path,
        name: &str,
        target: &str,
        flags: &[&str],
        rules: Option<&str>,
        scrape: &str,
    ) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("obs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']\n{scrape}"
        );
        if let Some(rules) = rules {
            std::fs::write(dir.join("rules.yml"), rules).unwrap();
            config.push_str("rule_files:\n  - rules.yml\n");
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log"))
            .map_or_else(|_| Stdio::null(), Stdio::from);
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus { child, addr, dir };
        wait_for("Prometheus to be ready", Duration::from_secs(60), || {
            get(addr, "/-/ready").is_some_and(|(code, _)| code == 200)
        });
        prometheus
    }

    /// `GET path` of its API, as JSON; panics unless it answers 200.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let (code, body) = get(self.addr, path).expect("Prometheus answers");
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// An instant query: the vector's samples as `(labels, value)`.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let json = self.api(&format!("/api/v1/query?query={}", encode(promql)));
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metric"].clone(),
                    r["value"][1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over HTTP/1.0, so the body is neither chunked nor kept alive.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// Percent-encodes a query parameter.
pub fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `done` until it holds; panics after `timeout` (obs-testkit's `eventually`).
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    super::eventually(
        what,
        timeout,
        || if done() { Ok(()) } else { Err("not yet") },
    );
}

/// obs installed on a free port, scraped every second by `binary` with native histograms on
/// and obs's generated rules loaded, `scrape` added to the job (see
/// [`Prometheus::start_scraping`]); returned once `native` (a native histogram's selector)
/// has its first sample, before any call, so that `rate()` sees the calls that follow arrive.
pub fn scraping_native(
    binary: &Path,
    name: &str,
    scrape: &str,
    native: &str,
) -> (obs_runtime::ObsGuard, Prometheus) {
    let obs = obs_runtime::Builder::new()
        .port(0)
        .without_subscriber()
        .install()
        .unwrap();
    let addr = obs.local_addr().unwrap();
    let prometheus = Prometheus::start_scraping(
        binary,
        name,
        &addr.to_string(),
        &["--enable-feature=native-histograms"],
        Some(&obs_runtime::rules::rules_yaml()),
        scrape,
    );
    wait_for("a first native sample", Duration::from_secs(60), || {
        !prometheus
            .query(&format!("histogram_count({native})"))
            .is_empty()
    });
    (obs, prometheus)
}
