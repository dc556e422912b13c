//! OTLP/HTTP with protobuf: `POST /v1/{signal}` over HTTP/1.1, on the worker's thread.
//!
//! One request at a time, so a blocking client on std's `TcpStream` is enough: no async
//! runtime, no HTTP crate. The connection is kept between batches while the collector keeps
//! it open. `https://` wraps the same stream in rustls (feature `tls`); nothing is ever sent
//! to an `https://` endpoint before its certificate has verified.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::response::{self, Accepted};
use super::retry::{self, Failure};
use super::settings::OtlpCompression;

/// Where and how to `POST`.
pub(crate) struct HttpClient {
    /// `host:port`, as the URL gives it (also the `Host` header).
    authority: String,
    path: String,
    /// Extra header lines, `Name: value\r\n` each.
    headers: String,
    conn: Option<BufReader<Stream>>,
    #[cfg(feature = "tls")]
    tls: Option<(
        std::sync::Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
}

/// The connection: plain, or TLS over it.
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// What the collector answered.
struct Answer {
    code: u16,
    retry_after: Option<Duration>,
    /// The body, at most [`MAX_BODY`] bytes of it.
    body: Vec<u8>,
    /// Whether the connection can serve the next request.
    keep: bool,
}

/// The most of an answer's body kept: a partial success or a status message is far shorter.
const MAX_BODY: u64 = 64 * 1024;

impl HttpClient {
    /// A client for `url` (`http://` or, with `tls`, `https://`, checked by the settings),
    /// sending `headers` with every request.
    pub(crate) fn new(
        url: &str,
        headers: &[(String, String)],
        compression: OtlpCompression,
        #[cfg(feature = "tls")] tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        let (secure, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) if cfg!(feature = "tls") => (true, rest),
            _ => return Err(format!("{url:?} is not an http:// URL")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if secure { 443 } else { 80 })
        };
        let mut lines = String::new();
        if compression == OtlpCompression::Gzip {
            lines.push_str("Content-Encoding: gzip\r\n");
        }
        for (key, value) in headers {
            lines.push_str(key);
            lines.push_str(": ");
            lines.push_str(value);
            lines.push_str("\r\n");
        }
        #[cfg(feature = "tls")]
        let tls = match (secure, tls) {
            (false, _) => None,
            (true, Some(config)) => Some((config, server_name(&authority)?)),
            // Never plaintext to an https:// endpoint.
            (true, None) => return Err("https:// needs a TLS configuration".into()),
        };
        Ok(HttpClient {
            authority,
            path: path.to_owned(),
            headers: lines,
            conn: None,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// `POST`s `body`: the collector's partial success on a 2xx answer within `timeout`.
    pub(crate) fn post(&mut self, body: &[u8], timeout: Duration) -> Result<Accepted, Failure> {
        let deadline = Instant::now() + timeout;
        // A kept connection the collector closed meanwhile fails at once: try once more on a
        // new one.
        let reused = self.conn.is_some();
        let answer = match self.try_post(body, deadline) {
            Err(e) if reused && e.kind != retry::FailureKind::Tls && Instant::now() < deadline => {
                self.conn = None;
                self.try_post(body, deadline).map_err(|_| e)?
            }
            other => other?,
        };
        if (200..300).contains(&answer.code) {
            return Ok(response::partial_success(&answer.body));
        }
        // OTLP/HTTP answers a failure with a `google.rpc.Status` whose message says why.
        let said = response::status(&answer.body)
            .0
            .map_or_else(String::new, |m| format!(": {m}"));
        let reason = format!("the collector answered HTTP {}{said}", answer.code);
        if retry::http_retryable(answer.code) {
            Err(Failure::retryable(reason, answer.retry_after))
        } else {
            Err(Failure::permanent(reason))
        }
    }

    fn try_post(&mut self, body: &[u8], deadline: Instant) -> Result<Answer, Failure> {
        let result = self.exchange(body, deadline);
        if !matches!(result, Ok(Answer { keep: true, .. })) {
            self.conn = None;
        }
        result
    }

    fn left(deadline: Instant) -> Result<Duration, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err("no answer within the timeout".into())
        } else {
            Ok(left)
        }
    }

    fn connect(&self, deadline: Instant) -> Result<Stream, Failure> {
        let no_answer = |e: String| Failure::retryable(e, None);
        let addr = self
            .authority
            .to_socket_addrs()
            .map_err(|e| no_answer(format!("cannot resolve {}: {e}", self.authority)))?
            .next()
            .ok_or_else(|| no_answer(format!("{} resolves to no address", self.authority)))?;
        let stream = TcpStream::connect_timeout(&addr, Self::left(deadline)?)
            .map_err(|e| no_answer(format!("cannot connect to {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        #[cfg(feature = "tls")]
        if let Some((config, name)) = &self.tls {
            return super::tls::handshake(config, name.clone(), stream, Self::left(deadline)?)
                .map(|s| Stream::Tls(Box::new(s)));
        }
        Ok(Stream::Plain(stream))
    }

    /// One request and its answer.
    fn exchange(&mut self, body: &[u8], deadline: Instant) -> Result<Answer, Failure> {
        if self.conn.is_none() {
            self.conn = Some(BufReader::new(self.connect(deadline)?));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::retryable("no connection", None));
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
            .tcp()
            .set_write_timeout(Some(Self::left(deadline)?))
            .map_err(|e| e.to_string())?;
        // Sent without an answer: the collector may not have seen it, so it may be sent
        // again (the specification asks for a retry when the server disconnects).
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .and_then(|()| stream.flush())
            .map_err(|e| Failure::retryable(format!("cannot send: {e}"), None))?;
        read_answer(conn, deadline).map_err(|e| Failure::retryable(e, None))
    }
}

/// The name the server's certificate must carry: the URL's host.
#[cfg(feature = "tls")]
fn server_name(authority: &str) -> Result<rustls::pki_types::ServerName<'static>, String> {
    let host = match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host:?} cannot be checked against a certificate: {e}"))
}

/// Reads the status line, the headers and the body.
fn read_answer(conn: &mut BufReader<Stream>, deadline: Instant) -> Result<Answer, String> {
    let mut line = String::new();
    let next_line = |conn: &mut BufReader<Stream>, line: &mut String| {
        line.clear();
        conn.get_ref()
            .tcp()
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
    let mut retry_after = None;
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
            } else if name.eq_ignore_ascii_case("retry-after") {
                retry_after = retry::parse_retry_after(value);
            }
        }
    }
    // The body is read to its end, so the connection can serve the next request; what is
    // past `MAX_BODY` is dropped.
    let mut body = Vec::new();
    let keep_part = |conn: &mut BufReader<Stream>, n: u64, body: &mut Vec<u8>| {
        let room = MAX_BODY.saturating_sub(body.len() as u64).min(n);
        conn.by_ref()
            .take(room)
            .read_to_end(body)
            .and_then(|_| std::io::copy(&mut conn.by_ref().take(n - room), &mut std::io::sink()))
            .map_err(|e| e.to_string())
    };
    if chunked {
        loop {
            next_line(conn, &mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| "a bad chunk size".to_owned())?;
            keep_part(conn, size, &mut body)?;
            std::io::copy(&mut conn.by_ref().take(2), &mut std::io::sink())
                .map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        keep_part(conn, n, &mut body)?;
    } else {
        keep = false;
    }
    Ok(Answer {
        code,
        retry_after,
        body,
        keep,
    })
}
