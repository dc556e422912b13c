//! The live page in a real browser: headless Chromium driven by `chromedriver` (Debian's
//! `chromium` and `chromium-driver`, which `.ci/run` installs) over the W3C `WebDriver` HTTP API,
//! with a client of a few lines on std's sockets.
//!
//! It loads the quickstart's `/obs/`, reads the table from the DOM (`handle_order`'s calls and
//! error ratio agree with `/metrics`), opens a failed trace and finds its spans, takes a
//! screenshot, then loads a page of this process whose label value, span attribute and error
//! message carry a `<script>` that would set the title, and finds it did not run.
//!
//! Without chromium or chromedriver the test prints a SKIPPED line, unless `CI` is set (then
//! it fails). `OBS_UPDATE_SCREENSHOT=1` also writes the screenshot to `docs/obs-page.png`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// What a hostile program might put in its strings: run, it would set the title.
const MARKUP: &str = "<script>document.title='pwned'</script>\"'";

#[obs_runtime::traced]
#[obs_runtime::counted(labels(note = "<script>document.title='pwned'</script>\"'"))]
fn hostile(item: &str) -> Result<(), String> {
    Err(format!("{MARKUP} for {item}"))
}

/// Kills a child process when the test ends, whatever way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `/usr/bin/NAME`, or NAME on the `PATH`.
fn find(name: &str) -> Option<PathBuf> {
    let usr = Path::new("/usr/bin").join(name);
    if usr.exists() {
        return Some(usr);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    })
}

/// One `WebDriver` command: `method path` with a JSON body; the response's `value`.
fn webdriver(port: u16, method: &str, path: &str, body: &Value) -> Value {
    // A GET or DELETE carries no body.
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("chromedriver answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // ChromeDriver may keep the connection open: read the head, then Content-Length bytes.
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("a response");
        assert!(n == 1, "{method} {path}: connection closed in the head");
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).expect("a text head");
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the body");
    let body = String::from_utf8(body).expect("a text body");
    let body = body.as_str();
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {head}"));
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{method} {path}: {head}\n{value}"
    );
    value["value"].clone()
}

struct Browser {
    port: u16,
    session: String,
    _driver: Running,
    profile: PathBuf,
}

impl Browser {
    fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = common::prometheus::free_port();
        let driver = Running(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        common::eventually("chromedriver to listen", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port))
        });
        let profile =
            std::env::temp_dir().join(format!("obs-browser-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1500,1000",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let session = webdriver(port, "POST", "/session", &capabilities)["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Browser {
            port,
            session,
            _driver: driver,
            profile,
        }
    }

    fn command(&self, method: &str, path: &str, body: &Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        webdriver(self.port, method, &path, body)
    }

    fn open(&self, url: &str) {
        self.command("POST", "/url", &json!({ "url": url }));
    }

    /// Runs `script` in the page (by `WebDriver`, not the page's: the page has none).
    fn eval(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            &json!({"script": script, "args": []}),
        )
    }

    /// Polls `script` (reloading the page between tries) until it returns something truthy.
    fn wait_for(&self, url: &str, script: &str) -> Value {
        common::eventually(
            &format!("{script} on {url}"),
            Duration::from_secs(60),
            || {
                self.open(url);
                let v = self.eval(script);
                if v.is_null() || v == json!(false) || v == json!(0) {
                    Err(v)
                } else {
                    Ok(v)
                }
            },
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = std::panic::catch_unwind(|| webdriver(self.port, "DELETE", &path, &Value::Null));
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Starts the quickstart for `requests` orders on a free port, its spans kept for the page.
fn quickstart(requests: u64) -> (Running, SocketAddr) {
    let mut child = Command::new(common::example("quickstart"))
        .env("OTEL_EXPORTER_PROMETHEUS_PORT", "0")
        .env("QUICKSTART_REQUESTS", requests.to_string())
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_BSP_SCHEDULE_DELAY", "500")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the quickstart example");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first.strip_prefix("serving ").expect("the URL first");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    (running, addr)
}

/// Standard base64, as `WebDriver` sends a screenshot.
fn base64_decode(text: &str) -> Vec<u8> {
    let digit = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !matches!(c, b'=' | b'\n'))
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | u32::from(digit(*c)) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

const ROW: &str = "(name) => { const r = document.querySelector(`#functions tr[data-function=\"${name}\"]`); \
    if (!r) return null; const v = (c) => r.querySelector(`[data-col=\"${c}\"]`).dataset.value; \
    return {calls: Number(v('calls')), errors: Number(v('errors'))}; }";

#[test]
fn the_live_page_works_in_a_real_browser() {
    let (Some(chromium), Some(chromedriver)) = (find("chromium"), find("chromedriver")) else {
        common::missing(
            "chromium and chromedriver",
            "apt-get install chromium chromium-driver",
            "chromium or chromedriver not found",
        );
        return;
    };
    let (_shop, addr) = quickstart(200);
    let browser = Browser::start(&chromium, &chromedriver);

    // The workload done, the table in the DOM agrees with /metrics.
    let page = format!("http://{addr}/obs/");
    let script =
        format!("const r = ({ROW})('handle_order'); return r && r.calls === 200 ? r : null;");
    let row = browser.wait_for(&page, &script);
    let metrics = common::Page::parse(&common::request(addr, "GET", "/metrics").body);
    let calls = |status: &str| {
        let labels = [
            ("function", "handle_order"),
            ("module", "quickstart"),
            ("status", status),
        ];
        metrics
            .value("function_calls_total", &labels)
            .unwrap_or(0.0)
    };
    let total = calls("ok") + calls("error") + calls("timeout");
    assert_eq!(row["calls"].as_f64(), Some(total), "{row}");
    let ratio = row["errors"].as_f64().unwrap();
    assert!(
        (ratio - (calls("error") + calls("timeout")) / total).abs() < 1e-9,
        "{row} against {metrics}"
    );

    // A failed trace opens to its spans.
    let link = browser.wait_for(
        &page,
        "const a = document.querySelector('#failed-traces a'); return a ? a.getAttribute('href') : null;",
    );
    let link = link.as_str().unwrap();
    browser.open(&format!("http://{addr}{link}"));
    let spans = browser.eval(
        "return [...document.querySelectorAll('#spans tr.span')].map(r => \
         [r.querySelector('td').textContent, r.dataset.status]);",
    );
    assert!(
        spans
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s[0] == "handle_order" && s[1] == "error"),
        "{spans}"
    );

    // The screenshot of the page, with a few points on its charts.
    std::thread::sleep(Duration::from_secs(6));
    browser.open(&page);
    let png = base64_decode(
        browser
            .command("GET", "/screenshot", &json!(null))
            .as_str()
            .unwrap(),
    );
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("obs-page.png");
    std::fs::write(&out, &png).unwrap();
    if std::env::var_os("OBS_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/obs-page.png"),
            &png,
        )
        .unwrap();
    }

    hostile_strings_stay_text(&browser);
}

/// A page of this process whose label value, span attribute and error message carry markup.
fn hostile_strings_stay_text(browser: &Browser) {
    let obs = obs_runtime::Builder::new()
        .port(0)
        .traces_exporter(obs_runtime::TracesExporter::Console)
        .log_format(obs_runtime::LogFormat::Off)
        .env(|var| (var == "OTEL_BSP_SCHEDULE_DELAY").then(|| "100".to_owned()))
        .install()
        .expect("install");
    let _ = hostile(&format!("item {MARKUP}"));
    let page = format!("http://{}/obs/", obs.local_addr().unwrap());
    let link = browser.wait_for(
        &page,
        "const a = document.querySelector('#failed-traces a'); return a ? a.getAttribute('href') : null;",
    );
    let checks = "return {title: document.title, scripts: document.scripts.length, \
                  text: document.body.textContent};";
    let seen = browser.eval(checks);
    assert_eq!(seen["title"], "obs", "{seen}");
    assert_eq!(seen["scripts"], 0);
    assert!(
        seen["text"]
            .as_str()
            .unwrap()
            .contains(&format!("note={MARKUP}"))
    );
    browser.open(&format!(
        "http://{}{}",
        obs.local_addr().unwrap(),
        link.as_str().unwrap()
    ));
    let seen = browser.eval(checks);
    assert!(
        seen["title"].as_str().unwrap().starts_with("trace "),
        "{seen}"
    );
    assert_eq!(seen["scripts"], 0);
    let text = seen["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{MARKUP} for item {MARKUP}")),
        "the error message: {text}"
    );
    assert!(
        text.contains(&format!("item=item {MARKUP}")),
        "the attribute: {text}"
    );
}
