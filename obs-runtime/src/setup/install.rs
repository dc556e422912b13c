//! What `Builder::install` does: resolve every setting, start the exporter and the server,
//! install the subscriber and the recorder.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::env::{invalid, parse_filter};
use crate::error::Error;
use crate::logs::LogFormat;
use crate::metrics::BucketMatch;
use crate::serve::{Auth, MetricsServer};
use crate::setup::subscriber::LogConfig;
use crate::setup::{Builder, DEFAULT_HOST, DEFAULT_PORT, ObsGuard};
use crate::traces::TraceConfig;
use crate::traces::propagation::Propagator;

impl Builder {
    /// The propagators (`OTEL_PROPAGATORS`) and the baggage keys copied into server spans
    /// (`OBS_BAGGAGE_ATTRIBUTES`).
    fn propagation(&self) -> Result<(Vec<Propagator>, Vec<String>), Error> {
        let propagators = match (&self.propagators, self.var("OTEL_PROPAGATORS")) {
            (Some(list), _) => list.clone(),
            (None, None) => vec![Propagator::TraceContext, Propagator::Baggage],
            (None, Some(value)) => crate::traces::propagation::parse_propagators(&value)
                .map_err(|reason| invalid("OTEL_PROPAGATORS", &value, reason))?,
        };
        let keys = match (&self.baggage_attributes, self.var("OBS_BAGGAGE_ATTRIBUTES")) {
            (Some(keys), _) => crate::traces::propagation::parse_attribute_keys(&keys.join(","))
                .map_err(|reason| crate::env::setting("baggage_attributes", keys, reason))?,
            (None, None) => Vec::new(),
            (None, Some(value)) => crate::traces::propagation::parse_attribute_keys(&value)
                .map_err(|reason| invalid("OBS_BAGGAGE_ATTRIBUTES", &value, reason))?,
        };
        Ok((propagators, keys))
    }

    /// Validates the settings, starts the trace exporter, installs the `tracing` subscriber
    /// and the `metrics` recorder, and starts the server.
    ///
    /// # Errors
    /// - [`Error::InvalidEnv`]: a variable does not parse (a port that is not a number from 0
    ///   to 65535, say); the message names it.
    /// - [`Error::InvalidSetting`], [`Error::InvalidBuckets`]: a value set in code is unusable.
    /// - [`Error::InvalidAddress`], [`Error::Bind`]: the address cannot be resolved or bound,
    ///   typically because the port is taken.
    /// - [`Error::SubscriberTaken`]: another global `tracing` subscriber is installed.
    /// - [`Error::RecorderTaken`]: another `metrics` recorder is installed.
    /// - [`Error::Exporter`], [`Error::Thread`].
    ///
    /// Nothing is left half-installed on error, except a subscriber or a recorder installed
    /// before the server failed to bind: they keep working, so no span or facade call is
    /// lost.
    pub fn install(self) -> Result<ObsGuard, Error> {
        for (matcher, bounds) in &self.buckets {
            check_buckets(matcher, bounds)?;
        }
        let service_name = self
            .service_name
            .clone()
            .or_else(|| self.var("OTEL_SERVICE_NAME"));
        let port = match self.port {
            Some(port) => port,
            None => match self.var("OTEL_EXPORTER_PROMETHEUS_PORT") {
                None => DEFAULT_PORT,
                Some(value) => value.trim().parse().map_err(|_| Error::InvalidEnv {
                    var: "OTEL_EXPORTER_PROMETHEUS_PORT",
                    value: value.clone(),
                    reason: "expected a port number from 0 to 65535".into(),
                })?,
            },
        };
        let host = self
            .host
            .clone()
            .or_else(|| self.var("OTEL_EXPORTER_PROMETHEUS_HOST"))
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let trace_url = self.resolve_trace_url()?;
        let traces = TraceConfig::resolve(&self.traces, &|v| self.var(v), service_name.clone())?;
        let (serve_metrics, push) = self.metrics_export(&traces)?;
        let addr = if self.serve && serve_metrics {
            Some(resolve(&host, port)?)
        } else {
            None
        };
        let auth = match self.auth.clone() {
            Some(auth) => auth,
            None => self.auth_from_env()?,
        };
        let (propagators, baggage_attributes) = self.propagation()?;
        let logs_export = crate::logs::LogsConfig::resolve(
            &self.logs_export,
            &self.traces.transport,
            &|v| self.var(v),
            traces.flush_timeout,
        )?;
        let logs = if self.subscriber {
            Some(LogConfig {
                export: logs_export.exporter,
                ..self.log_config()?
            })
        } else {
            None
        };

        for (var, generate) in EXPORTS {
            if let Some(path) = self.var(var) {
                std::fs::write(&path, generate()).map_err(|source| Error::Export {
                    var,
                    path,
                    source,
                })?;
            }
        }
        let trace_guard = crate::traces::start_exporter(&traces)?;
        if let Some(logs) = &logs {
            super::subscriber::install_global(logs, traces.filter.clone())?;
        }
        if let Some(limit) = self.series_limit_setting()? {
            crate::metrics::set_series_limit(limit);
        }
        let native = native_histograms(self.native, |v| self.var(v))?;
        crate::metrics::native::set_program_schema(
            native.then_some(crate::metrics::DEFAULT_SCHEMA),
        );
        if self.recorder {
            crate::metrics::install_recorder(self.buckets)?;
        }
        if self.process {
            crate::metrics::enable_process_metrics();
        }
        crate::traces::propagation::set_propagators(&propagators);
        crate::traces::propagation::set_baggage_attributes(&baggage_attributes);
        if let Some(guard) = &trace_guard {
            guard.activate();
        }
        let logs_guard = crate::logs::start_exporter(&logs_export, &traces)?;
        crate::page::set_service_name(service_name);
        let metrics = super::metrics_export::start_push(push)?;
        let server = addr
            .map(|addr| MetricsServer::start(addr, auth))
            .transpose()?;
        let sampler = server.as_ref().map(|_| live_page(trace_url)).transpose()?;
        Ok(ObsGuard {
            server,
            sampler,
            traces: trace_guard,
            logs: logs_guard,
            metrics,
            installed: std::time::Instant::now(),
            spans_before: {
                let (exported, dropped) = crate::traces::span_totals();
                exported + dropped
            },
        })
    }
}

impl Builder {
    /// `Builder::series_limit`, else `OBS_SERIES_LIMIT`, else nothing to set.
    fn series_limit_setting(&self) -> Result<Option<usize>, Error> {
        if let Some(limit) = self.series_limit {
            return Ok(Some(limit));
        }
        self.var("OBS_SERIES_LIMIT")
            .map(|value| {
                value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::InvalidEnv {
                        var: "OBS_SERIES_LIMIT",
                        value: value.clone(),
                        reason: "expected a positive whole number, e.g. 1000".into(),
                    })
            })
            .transpose()
    }
}

/// Makes the text of a generated file.
type Generator = fn() -> String;

/// Files written at install when their variable names a path.
const EXPORTS: [(&str, Generator); 2] = [
    ("OBS_EXPORT_RULES", crate::generate::rules::rules_yaml),
    (
        "OBS_EXPORT_DASHBOARD",
        crate::generate::dashboard::dashboard_json,
    ),
];
impl Builder {
    /// The live page's link to a trace backend (`OBS_TRACE_URL`).
    fn resolve_trace_url(&self) -> Result<Option<String>, Error> {
        Ok(match (&self.trace_url, self.var("OBS_TRACE_URL")) {
            (Some(url), _) => {
                Some(
                    crate::live::check_trace_url(url).map_err(|reason| Error::InvalidSetting {
                        setting: "Builder::trace_url",
                        value: format!("{url:?}"),
                        reason,
                    })?,
                )
            }
            (None, Some(value)) => Some(
                crate::live::check_trace_url(&value)
                    .map_err(|reason| invalid("OBS_TRACE_URL", &value, reason))?,
            ),
            (None, None) => None,
        })
    }

    fn log_config(&self) -> Result<LogConfig, Error> {
        let format = match self.log_format {
            Some(format) => format,
            None => match self.var("OBS_LOG_FORMAT") {
                None => LogFormat::Text,
                Some(value) => LogFormat::parse(&value).ok_or_else(|| Error::InvalidEnv {
                    var: "OBS_LOG_FORMAT",
                    value: value.clone(),
                    reason: "expected text, json or off".into(),
                })?,
            },
        };
        let filter = match &self.log_filter {
            Some(filter) => parse_filter(filter).map_err(|reason| Error::InvalidSetting {
                setting: "Builder::log_filter",
                value: format!("{filter:?}"),
                reason,
            })?,
            None => match self.var("RUST_LOG") {
                None => parse_filter("info").unwrap_or_default(),
                Some(value) => parse_filter(&value).map_err(|reason| Error::InvalidEnv {
                    var: "RUST_LOG",
                    value: value.clone(),
                    reason,
                })?,
            },
        };
        Ok(LogConfig {
            format,
            filter,
            export: crate::logs::LogsExporter::None, // set by `install`
        })
    }
    fn auth_from_env(&self) -> Result<Auth, Error> {
        let token = self.var("OBS_SCRAPE_BEARER_TOKEN");
        let basic = self.var("OBS_SCRAPE_BASIC_AUTH");
        match (token, basic) {
            (Some(_), Some(_)) => Err(Error::InvalidEnv {
                var: "OBS_SCRAPE_BASIC_AUTH",
                value: "<hidden>".into(),
                reason: "OBS_SCRAPE_BEARER_TOKEN is set too: set one of the two".into(),
            }),
            (Some(token), None) => Ok(Auth::Bearer(token.trim().to_owned())),
            (None, Some(pair)) if pair.contains(':') => Ok(Auth::basic(pair.trim())),
            (None, Some(_)) => Err(Error::InvalidEnv {
                var: "OBS_SCRAPE_BASIC_AUTH",
                value: "<hidden>".into(),
                reason: "expected user:password".into(),
            }),
            (None, None) => Ok(Auth::None),
        }
    }
}

/// Starts what the live page needs when it is served: its sampler, the traces kept.
fn live_page(trace_url: Option<String>) -> Result<crate::live::SamplerGuard, Error> {
    crate::live::set_trace_url(trace_url);
    crate::traces::recent::enable();
    crate::live::start_sampler()
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Error> {
    // `[::1]` and `::1` both mean IPv6 loopback.
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (bare, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::InvalidAddress {
            host: host.to_owned(),
            port,
        })
}

fn check_buckets(matcher: &BucketMatch, bounds: &[f64]) -> Result<(), Error> {
    let name = match matcher {
        BucketMatch::Exact(n) | BucketMatch::Prefix(n) => n.clone(),
    };
    let fail = |reason: String| {
        Err(Error::InvalidBuckets {
            name: name.clone(),
            reason,
        })
    };
    if bounds.is_empty() {
        return fail("give at least one bound".into());
    }
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return fail(format!("{b} is not finite; +Inf is always added for you"));
    }
    let decreasing = bounds.windows(2).find_map(|w| match *w {
        [a, b] if a >= b => Some((a, b)),
        _ => None,
    });
    if let Some((a, b)) = decreasing {
        return fail(format!(
            "bounds must be strictly increasing: {b} follows {a}"
        ));
    }
    Ok(())
}

/// `Builder::native_histograms`, else `OBS_NATIVE_HISTOGRAMS`, else off.
fn native_histograms(
    set: Option<bool>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<bool, Error> {
    if let Some(on) = set {
        return Ok(on);
    }
    let Some(value) = var("OBS_NATIVE_HISTOGRAMS") else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::InvalidEnv {
            var: "OBS_NATIVE_HISTOGRAMS",
            value,
            reason: "expected `true` or `false`".into(),
        }),
    }
}
