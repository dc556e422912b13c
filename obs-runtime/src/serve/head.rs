//! The request head: read within a deadline and a size limit, then parsed. Never panics,
//! whatever the bytes (fuzzed: `fuzz/fuzz_targets/http_head.rs`).

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The most a request line plus headers may take.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its whole request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// What a request asked for, as far as this server cares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) authorization: Option<&'a str>,
}

/// Why a request head could not be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    Malformed,
    TooLarge,
    TooSlow,
}

/// Parses the request line and the `Authorization` header of `head` (everything up to the
/// blank line). Never panics, whatever the bytes.
pub(crate) fn parse_head(head: &[u8]) -> Result<Request<'_>, BadRequest> {
    let text = std::str::from_utf8(head).map_err(|_| BadRequest::Malformed)?;
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or(BadRequest::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed);
    };
    if method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !version.starts_with("HTTP/1.")
    {
        return Err(BadRequest::Malformed);
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    if !path.starts_with('/') {
        return Err(BadRequest::Malformed);
    }
    let mut authorization = None;
    for header in lines {
        let (name, value) = header.split_once(':').ok_or(BadRequest::Malformed)?;
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.trim());
        }
    }
    Ok(Request {
        method,
        path,
        authorization,
    })
}

/// Reads until the end of the head: at most [`MAX_HEAD`] bytes within [`HEAD_TIMEOUT`].
pub(crate) fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, BadRequest> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BadRequest::TooSlow);
        }
        let _ = stream.set_read_timeout(Some(left));
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(BadRequest::Malformed),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(BadRequest::TooSlow);
            }
            Err(_) => return Err(BadRequest::Malformed),
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(BadRequest::TooLarge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(method: &'a str, path: &'a str, authorization: Option<&'a str>) -> Request<'a> {
        Request {
            method,
            path,
            authorization,
        }
    }

    #[test]
    fn parses_request_lines() {
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a"),
            Ok(req("GET", "/metrics", None))
        );
        assert_eq!(parse_head(b"HEAD / HTTP/1.0"), Ok(req("HEAD", "/", None)));
        assert_eq!(
            parse_head(b"GET /metrics HTTP/1.1\r\nauthorization:  Bearer x \r\nHost: a"),
            Ok(req("GET", "/metrics", Some("Bearer x")))
        );
        for bad in [
            &b"GET /metrics"[..],
            b"get /metrics HTTP/1.1",
            b"GET metrics HTTP/1.1",
            b"GET /metrics SPDY/3",
            b"\xff\xfe",
            b"GET  /metrics HTTP/1.1",
            b"GET /metrics HTTP/1.1\r\nno colon here",
            b"",
        ] {
            assert_eq!(
                parse_head(bad),
                Err(BadRequest::Malformed),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
