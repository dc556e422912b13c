//! The transport's settings, shared by every signal: endpoint, protocol, headers, timeout,
//! compression and TLS files, read from `OTEL_EXPORTER_OTLP_{SIGNAL}_*` first, then
//! `OTEL_EXPORTER_OTLP_*`, as the specification orders them: a signal's own setting (in code,
//! then its variable) over the general one (in code, then its variable).

use std::time::Duration;

use super::Signal;
use crate::env::{Var, first, invalid, millis, parse_pairs, setting};
use crate::error::Error;

/// The OTLP transport: `OTEL_EXPORTER_OTLP_PROTOCOL`, or
/// [`Builder::otlp_protocol`](crate::Builder::otlp_protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// gRPC (`grpc`), usually port 4317.
    Grpc,
    /// Protobuf over HTTP (`http/protobuf`), usually port 4318: the default, as the
    /// specification asks.
    HttpProtobuf,
}

/// How request bodies are compressed: `OTEL_EXPORTER_OTLP_COMPRESSION`, or
/// [`Builder::otlp_compression`](crate::Builder::otlp_compression).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Sent as encoded (`none`): the default.
    #[default]
    None,
    /// gzip (`gzip`): HTTP's `Content-Encoding: gzip`, gRPC's `grpc-encoding: gzip`. Spans
    /// compress several-fold, which metered backends bill by.
    Gzip,
}

/// Transport settings made in code; each unset one is read from the environment.
#[derive(Clone, Default)]
pub(crate) struct TransportSettings {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<OtlpProtocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) compression: Option<OtlpCompression>,
    pub(crate) certificate: Option<String>,
    pub(crate) client_certificate: Option<String>,
    pub(crate) client_key: Option<String>,
}

/// Header values are credentials: only their names are shown.
impl std::fmt::Debug for TransportSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TransportSettings")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("header_names", &header_names)
            .field("compression", &self.compression)
            .field("certificate", &self.certificate)
            .field("client_certificate", &self.client_certificate)
            .field("client_key", &self.client_key)
            .finish()
    }
}

/// A file the TLS set-up reads, with where its path came from (a variable or a method), so
/// an unreadable file is an error that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathSetting {
    pub(crate) source: &'static str,
    pub(crate) path: String,
}

/// The files of a TLS connection: a CA to trust instead of the system's roots, and a client
/// certificate and key for mutual TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) struct TlsFiles {
    pub(crate) ca: Option<PathSetting>,
    pub(crate) client_certificate: Option<PathSetting>,
    pub(crate) client_key: Option<PathSetting>,
}

/// Everything a client of one signal needs, validated.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct TransportConfig {
    pub(crate) signal: Signal,
    /// The full URL requests go to.
    pub(crate) endpoint: String,
    pub(crate) protocol: OtlpProtocol,
    pub(crate) headers: Vec<(String, String)>,
    /// The most one attempt may take: `OTEL_EXPORTER_OTLP_TIMEOUT`.
    pub(crate) timeout: Duration,
    pub(crate) compression: OtlpCompression,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) tls: TlsFiles,
}

/// The variables of each setting for one signal: the signal's own, then the general one.
struct Names {
    endpoint: [&'static str; 2],
    protocol: [&'static str; 2],
    headers: [&'static str; 2],
    timeout: [&'static str; 2],
    compression: [&'static str; 2],
    certificate: [&'static str; 2],
    client_certificate: [&'static str; 2],
    client_key: [&'static str; 2],
}

macro_rules! names {
    ($signal:literal) => {
        Names {
            endpoint: pair!($signal, "ENDPOINT"),
            protocol: pair!($signal, "PROTOCOL"),
            headers: pair!($signal, "HEADERS"),
            timeout: pair!($signal, "TIMEOUT"),
            compression: pair!($signal, "COMPRESSION"),
            certificate: pair!($signal, "CERTIFICATE"),
            client_certificate: pair!($signal, "CLIENT_CERTIFICATE"),
            client_key: pair!($signal, "CLIENT_KEY"),
        }
    };
}

macro_rules! pair {
    ($signal:literal, $setting:literal) => {
        [
            concat!("OTEL_EXPORTER_OTLP_", $signal, "_", $setting),
            concat!("OTEL_EXPORTER_OTLP_", $setting),
        ]
    };
}

impl Signal {
    /// The `Builder` method that sets this signal's own endpoint.
    fn endpoint_method(self) -> &'static str {
        match self {
            Signal::Traces => "Builder::otlp_traces_endpoint",
            Signal::Metrics => "Builder::otlp_metrics_endpoint",
            Signal::Logs => "Builder::logs_endpoint",
        }
    }

    /// The `Builder` method that adds a header of this signal's own.
    fn header_method(self) -> &'static str {
        match self {
            Signal::Logs => "Builder::logs_header",
            Signal::Traces | Signal::Metrics => "Builder::otlp_header",
        }
    }

    /// The variables of this signal's settings.
    fn names(self) -> &'static Names {
        const TRACES: Names = names!("TRACES");
        const METRICS: Names = names!("METRICS");
        const LOGS: Names = names!("LOGS");
        match self {
            Signal::Traces => &TRACES,
            Signal::Metrics => &METRICS,
            Signal::Logs => &LOGS,
        }
    }

    /// The signal's variable for a setting, then the general one.
    fn vars(self, pick: fn(&Names) -> [&'static str; 2]) -> [&'static str; 2] {
        pick(self.names())
    }
}

fn parse_protocol(name: &'static str, value: &str) -> Result<OtlpProtocol, Error> {
    match value.trim() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "http/json" => Err(invalid(
            name,
            value,
            "http/json is not supported: use grpc or http/protobuf",
        )),
        _ => Err(invalid(name, value, "expected grpc or http/protobuf")),
    }
}

fn parse_compression(name: &'static str, value: &str) -> Result<OtlpCompression, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(OtlpCompression::Gzip),
        "none" => Ok(OtlpCompression::None),
        _ => Err(invalid(name, value, "expected gzip or none")),
    }
}

/// A setting by the specification's precedence: the signal's own in code, the signal's own
/// variable, the general one in code, the general variable.
fn choose<T: Clone>(
    own: Option<&T>,
    general: Option<&T>,
    var: Var<'_>,
    [own_var, general_var]: [&'static str; 2],
    parse: impl Fn(&'static str, &str) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    if let Some(value) = own {
        return Ok(Some(value.clone()));
    }
    if let Some(value) = var(own_var) {
        return parse(own_var, &value).map(Some);
    }
    if let Some(value) = general {
        return Ok(Some(value.clone()));
    }
    var(general_var)
        .map(|value| parse(general_var, &value))
        .transpose()
}

impl TransportConfig {
    /// Validates the settings of `signal`, each from, in order, `own` (the signal's settings
    /// made in code), the signal's variable (`OTEL_EXPORTER_OTLP_LOGS_*`), `general` (the
    /// `Builder::otlp_*` settings), the general variable (`OTEL_EXPORTER_OTLP_*`). `check` is
    /// false when the signal is not exported over OTLP: the endpoint is then not checked.
    pub(crate) fn resolve(
        signal: Signal,
        general: &TransportSettings,
        own: &TransportSettings,
        var: Var<'_>,
        check: bool,
    ) -> Result<Self, Error> {
        let protocol = choose(
            own.protocol.as_ref(),
            general.protocol.as_ref(),
            var,
            signal.vars(|n| n.protocol),
            parse_protocol,
        )?
        .unwrap_or(OtlpProtocol::HttpProtobuf);
        let endpoint = endpoint(signal, general, own, var, protocol, check)?;
        let headers = headers(signal, general, own, var)?;
        let timeout = match first(var, &signal.vars(|n| n.timeout)) {
            None => Duration::from_secs(10),
            Some((name, _)) => millis(var, name, Duration::from_secs(10))?,
        };
        let compression = choose(
            own.compression.as_ref(),
            general.compression.as_ref(),
            var,
            signal.vars(|n| n.compression),
            parse_compression,
        )?
        .unwrap_or_default();
        let file = |pick_code: fn(&TransportSettings) -> &Option<String>,
                    method: &'static str,
                    pick: fn(&Names) -> [&'static str; 2]|
         -> Option<PathSetting> {
            let code = |path: &String| PathSetting {
                source: method,
                path: path.clone(),
            };
            let from_var = |name: &'static str| {
                var(name).map(|path| PathSetting {
                    source: name,
                    path: path.trim().to_owned(),
                })
            };
            let [own_var, general_var] = signal.vars(pick);
            pick_code(own)
                .as_ref()
                .map(code)
                .or_else(|| from_var(own_var))
                .or_else(|| pick_code(general).as_ref().map(code))
                .or_else(|| from_var(general_var))
        };
        let tls = TlsFiles {
            ca: file(
                |s| &s.certificate,
                "Builder::otlp_certificate",
                |n| n.certificate,
            ),
            client_certificate: file(
                |s| &s.client_certificate,
                "Builder::otlp_client_certificate",
                |n| n.client_certificate,
            ),
            client_key: file(
                |s| &s.client_key,
                "Builder::otlp_client_key",
                |n| n.client_key,
            ),
        };
        if check {
            check_tls(&endpoint, &tls)?;
        }
        Ok(TransportConfig {
            signal,
            endpoint,
            protocol,
            headers,
            timeout,
            compression,
            tls,
        })
    }
}

/// The headers, by name, each from the highest of: the signal's own in code, the signal's
/// variable, the general ones in code, `OTEL_EXPORTER_OTLP_HEADERS` (which the signal's
/// variable replaces whole, as the specification says).
fn headers(
    signal: Signal,
    general: &TransportSettings,
    own: &TransportSettings,
    var: Var<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let [own_var, general_var] = signal.vars(|n| n.headers);
    let parse = |name: &'static str| -> Result<Vec<(String, String)>, Error> {
        match var(name) {
            None => Ok(Vec::new()),
            // Headers carry credentials: the value is not repeated in the message.
            Some(value) => parse_pairs(&value).map_err(|why| {
                invalid(
                    name,
                    "<hidden>",
                    format!("{why}; expected key=value,key=value (values %-encoded)"),
                )
            }),
        }
    };
    let own_env = parse(own_var)?;
    let general_env = if var(own_var).is_some() {
        Vec::new()
    } else {
        parse(general_var)?
    };
    // Lowest first; each layer replaces the same names of the ones before it.
    let layers: [(&[(String, String)], &str); 4] = [
        (&general_env, general_var),
        (&general.headers, "Builder::otlp_header"),
        (&own_env, own_var),
        (&own.headers, signal.header_method()),
    ];
    let mut headers: Vec<(String, String, &str)> = Vec::new();
    for (layer, source) in layers {
        for (key, value) in layer {
            headers.retain(|(k, _, _)| !k.eq_ignore_ascii_case(key));
            headers.push((key.clone(), value.clone(), source));
        }
    }
    for (key, value, source) in &headers {
        check_header(key, value).map_err(|why| {
            if source.starts_with("Builder::") {
                setting(source, key, why)
            } else {
                invalid(source, "<hidden>", why)
            }
        })?;
    }
    Ok(headers.into_iter().map(|(k, v, _)| (k, v)).collect())
}

/// The URL requests are posted to: the signal's own in code (with a path, as it is; bare, a
/// base), then `OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT` (as it is), then
/// [`Builder::otlp_endpoint`](crate::Builder::otlp_endpoint) and `OTEL_EXPORTER_OTLP_ENDPOINT`
/// (bases: `/v1/{signal}` is added for HTTP, after their path if they have one), then the
/// protocol's default on localhost.
fn endpoint(
    signal: Signal,
    general: &TransportSettings,
    own: &TransportSettings,
    var: Var<'_>,
    protocol: OtlpProtocol,
    check: bool,
) -> Result<String, Error> {
    let http = protocol == OtlpProtocol::HttpProtobuf;
    let base = |url: &str| {
        if http {
            format!("{}{}", url.trim().trim_end_matches('/'), signal.http_path())
        } else {
            url.trim().to_owned()
        }
    };
    let [own_var, general_var] = signal.vars(|n| n.endpoint);
    // Where it came from, for the message: a variable, or a method and its value.
    let (source, given, url) = if let Some(url) = &own.endpoint {
        let has_path = url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/').contains('/'));
        let full = if has_path {
            url.trim().to_owned()
        } else {
            base(url)
        };
        (signal.endpoint_method(), url.clone(), full)
    } else if let Some(url) = var(own_var) {
        (own_var, url.clone(), url.trim().to_owned())
    } else if let Some(url) = &general.endpoint {
        ("Builder::otlp_endpoint", url.clone(), base(url))
    } else if let Some(url) = var(general_var) {
        (general_var, url.clone(), base(&url))
    } else if http {
        let url = format!("http://localhost:4318{}", signal.http_path());
        ("", url.clone(), url)
    } else {
        let url = "http://localhost:4317".to_owned();
        ("", url.clone(), url)
    };
    if !check {
        return Ok(url);
    }
    let general_source = source == "Builder::otlp_endpoint" || source == general_var;
    let signal_path = ["/v1/traces", "/v1/metrics", "/v1/logs"]
        .into_iter()
        .find(|p| given.trim().trim_end_matches('/').ends_with(p));
    let checked = match signal_path {
        // Before every signal shared it, `otlp_endpoint` took the spans' full URL: with
        // `/v1/traces` added again, it would now send everything to the wrong path.
        Some(path) if general_source && http => Err(format!(
            "this endpoint is every signal's base, to which /v1/traces, /v1/metrics and \
             /v1/logs are added, and it already ends in {path}: give the base (without {path}), \
             or set that signal's own endpoint (Builder::otlp_traces_endpoint, \
             Builder::otlp_metrics_endpoint, Builder::logs_endpoint, or \
             OTEL_EXPORTER_OTLP_{{TRACES,METRICS,LOGS}}_ENDPOINT), used as it is"
        )),
        _ => check_endpoint(&url),
    };
    checked.map_err(|why| {
        if source.starts_with("Builder::") || source.is_empty() {
            setting(source, &given, why)
        } else {
            invalid(source, &given, why)
        }
    })?;
    Ok(url)
}

/// An endpoint obs can send to: `http://host[:port][/path]`, or `https://` with the `tls`
/// feature.
fn check_endpoint(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("expected a URL such as http://localhost:4318".into());
    };
    match scheme {
        "http" => {}
        "https" if cfg!(feature = "tls") => {}
        "https" => {
            return Err(
                "https needs TLS, and obs-runtime was built without its `tls` feature: enable \
                 it (obs-runtime = { features = [\"otlp\", \"tls\"] }), or send to a local \
                 collector over http:// and let it forward over TLS"
                    .into(),
            );
        }
        _ => return Err(format!("the scheme must be http or https, not {scheme:?}")),
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err("the URL names no host".into());
    }
    #[cfg(feature = "otlp")]
    url.parse::<http::Uri>().map_err(|e| e.to_string())?;
    Ok(())
}

/// TLS files only mean something for an `https://` endpoint, and a key goes with a
/// certificate: anything else is a mistake better told at start than found in the traces.
fn check_tls(endpoint: &str, tls: &TlsFiles) -> Result<(), Error> {
    let fail = |file: &PathSetting, why: &str| {
        Err(if file.source.starts_with("Builder::") {
            setting(file.source, &file.path, why)
        } else {
            invalid(file.source, &file.path, why)
        })
    };
    let files = [&tls.ca, &tls.client_certificate, &tls.client_key];
    if let Some(file) = files.into_iter().flatten().next()
        && !endpoint.starts_with("https://")
    {
        return fail(
            file,
            &format!(
                "TLS files are used only for an https:// endpoint, and the endpoint is \
                 {endpoint}: use https://, or unset it"
            ),
        );
    }
    match (&tls.client_certificate, &tls.client_key) {
        (Some(cert), None) => fail(
            cert,
            "a client certificate needs its key: set OTEL_EXPORTER_OTLP_CLIENT_KEY too",
        ),
        (None, Some(key)) => fail(
            key,
            "a client key needs its certificate: set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE too",
        ),
        _ => Ok(()),
    }
}

fn check_header(key: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if key.is_empty() || !key.chars().all(token) {
        return Err(format!("{key:?} is not a valid header name"));
    }
    if value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(format!(
            "the value of {key:?} has characters a header cannot carry"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
