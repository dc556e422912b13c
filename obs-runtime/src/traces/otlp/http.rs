//! OTLP/HTTP with protobuf: `POST /v1/traces` over plain HTTP/1.1, on the worker's thread.
//!
//! obs sends only to `http://` endpoints (a local collector or agent), one request at a time,
//! so a blocking client on std's `TcpStream` is enough: no async runtime, no HTTP crate. The
//! connection is kept between batches while the collector keeps it open.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Where and how to `POST`.
pub(crate) struct HttpClient {
    /// `host:port`, as the URL gives it (also the `Host` header).
    authority: String,
    path: String,
    /// Extra header lines, `Name: value\r\n` each.
    headers: String,
    conn: Option<BufReader<TcpStream>>,
}

impl HttpClient {
    /// A client for `url` (`http://host[:port]/path`, checked by the settings), sending
    /// `headers` with every request.
    pub(crate) fn new(url: &str, headers: &[(String, String)]) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let mut lines = String::new();
        for (key, value) in headers {
            lines.push_str(key);
            lines.push_str(": ");
            lines.push_str(value);
            lines.push_str("\r\n");
        }
        Ok(HttpClient {
            authority,
            path: path.to_owned(),
            headers: lines,
            conn: None,
        })
    }

    /// `POST`s `body`; `Ok` on a 2xx answer within `timeout`.
    pub(crate) fn post(&mut self, body: &[u8], timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        // A kept connection the collector closed meanwhile fails at once: retry once on a
        // new one.
        let reused = self.conn.is_some();
        match self.try_post(body, deadline) {
            Err(e) if reused && Instant::now() < deadline => {
                self.conn = None;
                self.try_post(body, deadline).map_err(|_| e)
            }
            other => other,
        }
    }

    fn try_post(&mut self, body: &[u8], deadline: Instant) -> Result<(), String> {
        let result = self.exchange(body, deadline);
        if !matches!(result, Ok(true)) {
            self.conn = None;
        }
        result.map(|_| ())
    }

    fn left(deadline: Instant) -> Result<Duration, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err("no answer within the timeout".into())
        } else {
            Ok(left)
        }
    }

    /// One request and its answer; `Ok(keep)` says whether the connection stays usable.
    fn exchange(&mut self, body: &[u8], deadline: Instant) -> Result<bool, String> {
        if self.conn.is_none() {
            let addr = self
                .authority
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {}: {e}", self.authority))?
                .next()
                .ok_or_else(|| format!("{} resolves to no address", self.authority))?;
            let stream = TcpStream::connect_timeout(&addr, Self::left(deadline)?)
                .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
            let _ = stream.set_nodelay(true);
            self.conn = Some(BufReader::new(stream));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err("no connection".into());
        };
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\n\
             Content-Length: {}\r\n{}\r\n",
            self.path,
            self.authority,
            body.len(),
            self.headers
        );
        let stream = conn.get_mut();
        stream
            .set_write_timeout(Some(Self::left(deadline)?))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .and_then(|()| stream.flush())
            .map_err(|e| format!("cannot send: {e}"))?;
        read_answer(conn, deadline)
    }
}

/// Reads the status line, the headers and the body; `Ok(keep)` on a 2xx status.
fn read_answer(conn: &mut BufReader<TcpStream>, deadline: Instant) -> Result<bool, String> {
    let mut line = String::new();
    let next_line = |conn: &mut BufReader<TcpStream>, line: &mut String| {
        line.clear();
        conn.get_mut()
            .set_read_timeout(Some(HttpClient::left(deadline)?))
            .map_err(|e| e.to_string())?;
        // A head line longer than this is not an OTLP collector's.
        let n = conn
            .by_ref()
            .take(8 * 1024)
            .read_line(line)
            .map_err(|e| format!("no answer: {e}"))?;
        if n == 0 {
            return Err("the collector closed the connection".to_owned());
        }
        Ok(())
    };
    next_line(conn, &mut line)?;
    let code: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", line.trim_end()))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep = true;
    loop {
        next_line(conn, &mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<u64>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                keep = !value.eq_ignore_ascii_case("close");
            }
        }
    }
    // The body (a status message at most) is read and dropped, so the connection can serve
    // the next request.
    let mut sink = std::io::sink();
    if chunked {
        loop {
            next_line(conn, &mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| "a bad chunk size".to_owned())?;
            std::io::copy(&mut conn.by_ref().take(size + 2), &mut sink)
                .map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        std::io::copy(&mut conn.by_ref().take(n), &mut sink).map_err(|e| e.to_string())?;
    } else {
        keep = false;
    }
    if (200..300).contains(&code) {
        Ok(keep)
    } else {
        Err(format!("the collector answered HTTP {code}"))
    }
}
