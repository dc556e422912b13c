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
    /// What follows `?` in the target, without a `#` fragment.
    pub(crate) query: Option<&'a str>,
    pub(crate) authorization: Option<&'a str>,
    /// The first `Accept` header, trimmed.
    pub(crate) accept: Option<&'a str>,
}

/// Why a request head could not be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    Malformed,
    TooLarge,
    TooSlow,
}

/// Parses the request line and the `Authorization` and `Accept` headers of `head` (everything up to the
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
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    if !path.starts_with('/') {
        return Err(BadRequest::Malformed);
    }
    let (mut authorization, mut accept) = (None, None);
    for header in lines {
        let (name, value) = header.split_once(':').ok_or(BadRequest::Malformed)?;
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.trim());
        } else if name.eq_ignore_ascii_case("accept") && accept.is_none() {
            accept = Some(value.trim());
        }
    }
    Ok(Request {
        method,
        path,
        query,
        authorization,
        accept,
    })
}

/// The most media ranges of an `Accept` header that are looked at; the rest are ignored.
const MAX_MEDIA_RANGES: usize = 32;

/// The formats of the page a scraper can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageFormat {
    /// Text format 0.0.4: the default.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// Delimited `io.prometheus.client.MetricFamily` protobuf messages.
    Protobuf,
}

/// Whether an `Accept` header prefers OpenMetrics 1.0 text to text format 0.0.4 (and to
/// protobuf): see [`page_format`]. For the tests and the fuzz targets' hooks.
#[cfg(any(test, fuzzing))]
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    page_format(accept) == PageFormat::OpenMetrics
}

/// The format an `Accept` header prefers.
///
/// Prometheus sends `application/openmetrics-text;version=1.0.0,…;q=0.75,text/plain;
/// version=0.0.4;q=0.5,*/*;q=0.1`, and with native histograms enabled puts
/// `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`
/// first. A format is chosen when it is named explicitly with a weight above 0 and at least
/// that of every format after it in this order: protobuf (only with that `proto` and
/// `encoding=delimited`), OpenMetrics (`application/openmetrics-text`, with `version=1.0.0`
/// or no version), then 0.0.4 text (`text/plain` without another version, `text/*`, `*/*`).
/// A wildcard alone, `text/plain` or a header that does not parse keep the 0.0.4 page.
pub(crate) fn page_format(accept: &str) -> PageFormat {
    let (mut protobuf, mut openmetrics, mut text) = (0u16, 0u16, 0u16);
    for range in accept.split(',').take(MAX_MEDIA_RANGES) {
        let mut params = range.split(';');
        let media = params.next().unwrap_or_default().trim();
        let (mut q, mut version, mut proto, mut encoding) = (Some(1000), None, None, None);
        for param in params {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim().trim_matches('"'));
            if key.eq_ignore_ascii_case("q") {
                q = weight(value);
            } else if key.eq_ignore_ascii_case("version") {
                version = Some(value);
            } else if key.eq_ignore_ascii_case("proto") {
                proto = Some(value);
            } else if key.eq_ignore_ascii_case("encoding") {
                encoding = Some(value);
            }
        }
        let Some(q) = q else { continue };
        if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
            if proto == Some("io.prometheus.client.MetricFamily") && encoding == Some("delimited") {
                protobuf = protobuf.max(q);
            }
        } else if media.eq_ignore_ascii_case("application/openmetrics-text") {
            if version.is_none_or(|v| v == "1.0.0") {
                openmetrics = openmetrics.max(q);
            }
        } else if (media.eq_ignore_ascii_case("text/plain") && version.is_none_or(|v| v == "0.0.4"))
            || media.eq_ignore_ascii_case("text/*")
            || media == "*/*"
        {
            text = text.max(q);
        }
    }
    if protobuf > 0 && protobuf >= openmetrics && protobuf >= text {
        PageFormat::Protobuf
    } else if openmetrics > 0 && openmetrics >= text {
        PageFormat::OpenMetrics
    } else {
        PageFormat::Text
    }
}

/// An HTTP weight (`0`, `0.5`, `1.000`) in thousandths, or `None` if it is not one.
fn weight(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in fraction
        .bytes()
        .chain(core::iter::repeat(b'0'))
        .take(3)
        .enumerate()
    {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
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
            query: None,
            authorization,
            accept: None,
        }
    }

    #[test]
    fn reads_the_first_accept_header() {
        let head = b"GET /metrics HTTP/1.1\r\nACCEPT:  text/plain \r\naccept: x/y";
        assert_eq!(parse_head(head).unwrap().accept, Some("text/plain"));
    }

    #[test]
    fn openmetrics_only_when_asked_for_first() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        for yes in [
            prometheus,
            "application/openmetrics-text; version=1.0.0",
            "application/openmetrics-text",
            "text/plain;q=0.5, application/openmetrics-text;q=0.9",
            "Application/OpenMetrics-Text; Version=\"1.0.0\"; q=1.0",
        ] {
            assert!(wants_openmetrics(yes), "{yes}");
        }
        for no in [
            "",
            "*/*",
            "text/plain",
            "text/plain; version=0.0.4",
            "application/openmetrics-text; version=0.0.1",
            "application/openmetrics-text;q=0",
            "application/openmetrics-text;q=0.5, */*",
            "application/openmetrics-text;q=2",
            "application/openmetrics-text;q=0.1234",
            "application/json",
            ";;;,,,==",
        ] {
            assert!(!wants_openmetrics(no), "{no}");
        }
    }

    #[test]
    fn protobuf_only_when_asked_for_first_with_its_parameters() {
        let native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(page_format(native), PageFormat::Protobuf);
        assert!(!wants_openmetrics(native));
        for other in [
            "application/vnd.google.protobuf",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            "application/vnd.google.protobuf;proto=other.Message;encoding=delimited",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,*/*",
        ] {
            assert_eq!(page_format(other), PageFormat::Text, "{other}");
        }
        let second = "application/openmetrics-text,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9";
        assert_eq!(page_format(second), PageFormat::OpenMetrics);
    }

    #[test]
    fn parses_request_lines() {
        assert_eq!(
            parse_head(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a"),
            Ok(Request {
                query: Some("x=1"),
                ..req("GET", "/metrics", None)
            })
        );
        assert_eq!(
            parse_head(b"GET /obs/?sort=p99&dir=desc#top HTTP/1.1"),
            Ok(Request {
                query: Some("sort=p99&dir=desc"),
                ..req("GET", "/obs/", None)
            })
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
