//! The `Builder`'s settings of where metrics go: served on `/metrics`, pushed over OTLP, both
//! or neither (`OTEL_METRICS_EXPORTER`), and how they are pushed.

use std::time::Duration;

use crate::env::{Var, exporter_list, invalid, setting};
use crate::error::Error;
use crate::export::ExportGuard;
use crate::exposition::Temporality;
use crate::otlp::Signal;
use crate::otlp::settings::{TransportConfig, TransportSettings};
use crate::page::{MetricsExporter, PushConfig};
use crate::setup::Builder;
use crate::traces::TraceConfig;

/// The pushing settings made in code; each unset one is read from the environment.
#[derive(Clone, Debug, Default)]
pub(super) struct MetricsSettings {
    exporter: Option<MetricsExporter>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    temporality: Option<Temporality>,
    endpoint: Option<String>,
}

const EXPORTER: &str = "OTEL_METRICS_EXPORTER";
const INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
const TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
const TEMPORALITY: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";

/// Metrics pushed over OTLP.
impl Builder {
    /// Where metrics go: [`MetricsExporter::Prometheus`] (the default) serves `/metrics`,
    /// [`MetricsExporter::Otlp`] pushes the same page over OTLP every
    /// [`metric_export_interval`](Builder::metric_export_interval) instead,
    /// [`MetricsExporter::PrometheusAndOtlp`] does both. Also `OTEL_METRICS_EXPORTER`
    /// (`prometheus`, `otlp`, `prometheus,otlp`, `none`). Pushing needs the `otlp` feature; it
    /// goes where the spans go (the `otlp_*` settings, `OTEL_EXPORTER_OTLP_*`), unless
    /// `OTEL_EXPORTER_OTLP_METRICS_*` or
    /// [`otlp_metrics_endpoint`](Builder::otlp_metrics_endpoint) say otherwise.
    ///
    /// ```
    /// # #[cfg(feature = "otlp")] {
    /// use obs_runtime::MetricsExporter;
    ///
    /// let obs = obs_runtime::Builder::new()
    ///     .metrics_exporter(MetricsExporter::Otlp)
    ///     .otlp_endpoint("http://127.0.0.1:4318")
    ///     .flush_timeout(std::time::Duration::from_millis(100))
    ///     .install()?;
    /// assert!(obs.local_addr().is_none()); // pushed, not served
    /// # }
    /// # Ok::<(), obs_runtime::Error>(())
    /// ```
    pub fn metrics_exporter(mut self, exporter: MetricsExporter) -> Self {
        self.metrics.exporter = Some(exporter);
        self
    }

    /// How often the page is pushed. Also `OTEL_METRIC_EXPORT_INTERVAL` (ms); default 60 s.
    pub fn metric_export_interval(mut self, interval: Duration) -> Self {
        self.metrics.interval = Some(interval);
        self
    }

    /// How long one push may take, its retries included; past it the interval's points are
    /// dropped and counted in `obs_metric_points_dropped_total`. Also
    /// `OTEL_METRIC_EXPORT_TIMEOUT` (ms); default 30 s.
    pub fn metric_export_timeout(mut self, timeout: Duration) -> Self {
        self.metrics.timeout = Some(timeout);
        self
    }

    /// Whether pushed counters and histograms count from the start or since the previous
    /// push. Also `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`,
    /// `delta`, `lowmemory`); default cumulative.
    pub fn metrics_temporality(mut self, temporality: Temporality) -> Self {
        self.metrics.temporality = Some(temporality);
        self
    }

    /// The full URL metrics are pushed to (`http://host:4318/v1/metrics`, or the gRPC
    /// endpoint), when it is not the spans'. Also `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
    pub fn otlp_metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metrics.endpoint = Some(url.into());
        self
    }

    /// Whether `/metrics` is served, and the pusher's settings if the page is pushed.
    pub(super) fn metrics_export(
        &self,
        traces: &TraceConfig,
    ) -> Result<(bool, Option<PushConfig>), Error> {
        let var: Var<'_> = &|v| self.var(v);
        let exporter = match (self.metrics.exporter, var(EXPORTER)) {
            (Some(e), _) => e,
            (None, None) => MetricsExporter::Prometheus,
            (None, Some(value)) => parse_exporter(&value)?,
        };
        if !exporter.pushes() {
            return Ok((exporter.serves(), None));
        }
        if !cfg!(feature = "otlp") {
            let why = "pushing metrics needs obs-runtime's `otlp` feature: enable it \
                       (obs-runtime = { features = [\"otlp\"] }), or use prometheus or none";
            return Err(match self.metrics.exporter {
                Some(e) => setting("Builder::metrics_exporter", e, why),
                None => invalid(EXPORTER, &var(EXPORTER).unwrap_or_default(), why),
            });
        }
        let own = TransportSettings {
            endpoint: self.metrics.endpoint.clone(),
            ..TransportSettings::default()
        };
        let transport =
            TransportConfig::resolve(Signal::Metrics, &self.traces.transport, &own, var, true)?;
        let interval = duration(self.metrics.interval, var, INTERVAL, 60_000)?;
        let timeout = duration(self.metrics.timeout, var, TIMEOUT, 30_000)?;
        let temporality = match (self.metrics.temporality, var(TEMPORALITY)) {
            (Some(t), _) => t,
            (None, None) => Temporality::Cumulative,
            (None, Some(value)) => parse_temporality(&value)?,
        };
        #[cfg(feature = "otlp")]
        let (resource, scope) = crate::traces::resource_and_scope(traces);
        #[cfg(not(feature = "otlp"))]
        let (resource, scope) = (Vec::new(), Vec::new());
        let config = PushConfig {
            transport,
            interval,
            timeout,
            temporality,
            resource,
            scope,
            flush_timeout: traces.flush_timeout,
        };
        Ok((exporter.serves(), Some(config)))
    }
}

/// Starts the pusher `config` asks for, if any.
// Without `otlp` there is never a config to start: the signature is the feature's.
#[cfg_attr(
    not(feature = "otlp"),
    allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)
)]
pub(super) fn start_push(config: Option<PushConfig>) -> Result<Option<ExportGuard>, Error> {
    #[cfg(feature = "otlp")]
    return config.map(crate::page::start_push).transpose();
    #[cfg(not(feature = "otlp"))]
    {
        debug_assert!(config.is_none(), "refused without the otlp feature");
        Ok(None)
    }
}

fn parse_exporter(value: &str) -> Result<MetricsExporter, Error> {
    exporter_list(EXPORTER, value, |names| match names {
        ["prometheus"] => Ok(MetricsExporter::Prometheus),
        ["otlp"] => Ok(MetricsExporter::Otlp),
        ["otlp", "prometheus"] => Ok(MetricsExporter::PrometheusAndOtlp),
        ["none"] => Ok(MetricsExporter::None),
        _ => Err("expected prometheus, otlp, prometheus,otlp or none"),
    })
}

fn parse_temporality(value: &str) -> Result<Temporality, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "cumulative" => Ok(Temporality::Cumulative),
        "delta" => Ok(Temporality::Delta),
        "lowmemory" => Ok(Temporality::LowMemory),
        _ => Err(invalid(
            TEMPORALITY,
            value,
            "expected cumulative, delta or lowmemory",
        )),
    }
}

/// A duration set in code, else a variable in milliseconds, above zero.
fn duration(
    code: Option<Duration>,
    var: Var<'_>,
    name: &'static str,
    default_ms: u64,
) -> Result<Duration, Error> {
    if let Some(d) = code {
        if d.is_zero() {
            let method = if name == INTERVAL {
                "Builder::metric_export_interval"
            } else {
                "Builder::metric_export_timeout"
            };
            return Err(setting(method, d, "expected a duration above zero"));
        }
        return Ok(d);
    }
    match var(name) {
        None => Ok(Duration::from_millis(default_ms)),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(invalid(
                name,
                &value,
                "expected a whole number of milliseconds above 0",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::error::Error;
    use crate::exposition::Temporality;
    use crate::page::MetricsExporter;
    use crate::setup::Builder;
    use crate::traces::TraceConfig;

    fn resolve(vars: &[(&'static str, &'static str)]) -> Result<(bool, bool), Error> {
        let vars = vars.to_vec();
        let builder = Builder::new().env(move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        });
        let traces = TraceConfig::resolve(&builder.traces, &|v| builder.var(v), None)?;
        let (serve, push) = builder.metrics_export(&traces)?;
        Ok((serve, push.is_some()))
    }

    fn env_error(vars: &[(&'static str, &'static str)]) -> String {
        match resolve(vars) {
            Err(e) => e.to_string(),
            Ok(r) => panic!("accepted {vars:?}: {r:?}"),
        }
    }

    #[test]
    fn the_exporter_variable_picks_server_push_both_or_neither() {
        assert_eq!(resolve(&[]).unwrap(), (true, false));
        assert_eq!(
            resolve(&[("OTEL_METRICS_EXPORTER", "prometheus")]).unwrap(),
            (true, false)
        );
        assert_eq!(
            resolve(&[("OTEL_METRICS_EXPORTER", "none")]).unwrap(),
            (false, false)
        );
        if cfg!(feature = "otlp") {
            assert_eq!(
                resolve(&[("OTEL_METRICS_EXPORTER", "otlp")]).unwrap(),
                (false, true)
            );
            assert_eq!(
                resolve(&[("OTEL_METRICS_EXPORTER", "prometheus, otlp")]).unwrap(),
                (true, true)
            );
        } else {
            assert!(env_error(&[("OTEL_METRICS_EXPORTER", "otlp")]).contains("`otlp` feature"));
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = env_error(&[("OTEL_METRICS_EXPORTER", "statsd")]);
        assert!(
            e.contains("OTEL_METRICS_EXPORTER") && e.contains("statsd"),
            "{e}"
        );
        if !cfg!(feature = "otlp") {
            return;
        }
        for (var, value) in [
            ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1m"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "-5"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "localhost:4318"),
        ] {
            let e = env_error(&[("OTEL_METRICS_EXPORTER", "otlp"), (var, value)]);
            assert!(e.contains(var), "{var}={value}: {e}");
        }
    }

    #[test]
    fn code_wins_over_the_environment() {
        if !cfg!(feature = "otlp") {
            return;
        }
        let builder = Builder::new()
            .env(|name| match name {
                "OTEL_METRICS_EXPORTER" => Some("none".into()),
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE" => Some("delta".into()),
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" => Some("http://env:1/v1/metrics".into()),
                _ => None,
            })
            .metrics_exporter(MetricsExporter::Otlp)
            .metric_export_interval(Duration::from_millis(250))
            .metrics_temporality(Temporality::LowMemory)
            .otlp_metrics_endpoint("http://code:4318/v1/metrics");
        let traces = TraceConfig::resolve(&builder.traces, &|v| builder.var(v), None).unwrap();
        let (serve, push) = builder.metrics_export(&traces).unwrap();
        let push = push.expect("pushed");
        assert!(!serve);
        assert_eq!(push.interval, Duration::from_millis(250));
        assert_eq!(push.timeout, Duration::from_secs(30));
        assert_eq!(push.temporality, Temporality::LowMemory);
        assert_eq!(push.transport.endpoint, "http://code:4318/v1/metrics");
        let zero = Builder::new()
            .metrics_exporter(MetricsExporter::Otlp)
            .metric_export_interval(Duration::ZERO);
        let traces = TraceConfig::resolve(&zero.traces, &|v| zero.var(v), None).unwrap();
        let e = zero.metrics_export(&traces).unwrap_err().to_string();
        assert!(e.contains("Builder::metric_export_interval"), "{e}");
    }
}
