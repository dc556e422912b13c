//! What each path answers: the page, the health probes, the generated files.

use std::io::{self, Write};
use std::net::TcpStream;

use super::auth::Auth;
use super::head::{PageFormat, Request, page_format};
use super::health::Probe;
use crate::exposition::{CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE};
use crate::page::{render, render_openmetrics, render_protobuf};

pub(super) fn route(stream: &mut TcpStream, req: &Request<'_>, auth: &Auth) -> io::Result<()> {
    let head_only = req.method == "HEAD";
    let probe = Probe::from_path(req.path);
    let generated = match req.path {
        "/obs/rules.yml" => Some("application/yaml"),
        "/obs/dashboard.json" => Some("application/json"),
        _ => None,
    };
    let live = live_route(req.path);
    if req.path != "/metrics" && probe.is_none() && generated.is_none() && live.is_none() {
        let body = b"not found: try /obs/, /metrics, /health/live, /health/ready, /health/startup, /obs/rules.yml or /obs/dashboard.json\n";
        return respond(stream, "404 Not Found", "text/plain", &[], body, !head_only);
    }
    if req.method != "GET" && !head_only {
        let allow = [("Allow", "GET, HEAD")];
        return respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            &allow,
            b"only GET and HEAD\n",
            true,
        );
    }
    if let Some(probe) = probe {
        let report = super::health::run(probe);
        let status = if report.healthy() {
            "200 OK"
        } else {
            "503 Service Unavailable"
        };
        return respond(
            stream,
            status,
            "application/json",
            &[],
            report.to_json().as_bytes(),
            !head_only,
        );
    }
    if !auth.allows(req.authorization) {
        let challenge = [("WWW-Authenticate", auth.challenge())];
        return respond(
            stream,
            "401 Unauthorized",
            "text/plain",
            &challenge,
            b"credentials needed\n",
            !head_only,
        );
    }
    if let Some(content_type) = generated {
        let body = if req.path == "/obs/rules.yml" {
            crate::generate::rules::rules_yaml()
        } else {
            crate::generate::dashboard::dashboard_json()
        };
        return respond(
            stream,
            "200 OK",
            content_type,
            &[],
            body.as_bytes(),
            !head_only,
        );
    }
    if let Some(live) = live {
        return serve_live(stream, &live, req.query, head_only);
    }
    // Only a scraper that asks for OpenMetrics or protobuf gets it: every other one, today's page.
    let (page, content_type) = match req.accept.map_or(PageFormat::Text, page_format) {
        PageFormat::Protobuf => (render_protobuf(), PROTOBUF_CONTENT_TYPE),
        PageFormat::OpenMetrics => (render_openmetrics().into_bytes(), OPENMETRICS_CONTENT_TYPE),
        PageFormat::Text => (render().into_bytes(), CONTENT_TYPE),
    };
    respond(stream, "200 OK", content_type, &[], &page, !head_only)
}

const HTML: &str = "text/html; charset=utf-8";

/// A path of the live page.
enum Live<'a> {
    Page,
    Json,
    Trace(&'a str),
}

fn live_route(path: &str) -> Option<Live<'_>> {
    match path {
        "/obs" | "/obs/" => Some(Live::Page),
        "/obs/functions.json" => Some(Live::Json),
        _ => path.strip_prefix("/obs/trace/").map(Live::Trace),
    }
}

/// Answers a path of the live page.
fn serve_live(
    stream: &mut TcpStream,
    live: &Live<'_>,
    query: Option<&str>,
    head_only: bool,
) -> io::Result<()> {
    let (status, content_type, body) = match *live {
        Live::Page => ("200 OK", HTML, crate::live::page(query)),
        Live::Json => ("200 OK", "application/json", crate::live::functions_json()),
        Live::Trace(id) => match crate::live::trace_page(id) {
            Some(page) => ("200 OK", HTML, page),
            None => (
                "404 Not Found",
                "text/plain",
                "no such trace here: the page keeps the latest failed and the slowest \
                 traces only\n"
                    .into(),
            ),
        },
    };
    // The page holds what the program says: no other site may frame it.
    let headers = [
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        (
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    ];
    respond(
        stream,
        status,
        content_type,
        &headers,
        body.as_bytes(),
        !head_only,
    )
}

pub(super) fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}
