//! Trace export settings: the exporter, the OTLP endpoint and headers, the sampler, batching,
//! and how each is read from the `OTEL_*` and `OBS_*` variables.

use std::time::Duration;

use tracing_subscriber::filter::Targets;

use super::tail::TailSampling;
use crate::env::{Var, count, exporter_list, invalid, millis, parse_filter, parse_pairs, setting};
use crate::error::Error;
use crate::otlp::Signal;
use crate::otlp::settings::{TransportConfig, TransportSettings};

/// Where finished spans go: `OTEL_TRACES_EXPORTER`, or
/// [`Builder::traces_exporter`](crate::Builder::traces_exporter).
///
/// ```
/// let obs = obs_runtime::Builder::new()
///     .without_server()
///     .traces_exporter(obs_runtime::TracesExporter::None) // metrics and logs only
///     .install()?;
/// # Ok::<(), obs_runtime::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TracesExporter {
    /// OTLP to a collector, Jaeger, Tempo…: `otlp`, the default when obs-runtime is built
    /// with its `otlp` feature. Without the feature, asking for it is an error.
    Otlp,
    /// One line per finished span on standard output: `console`. Needs no feature and no
    /// backend.
    Console,
    /// No export: `none`, the default without the `otlp` feature.
    None,
}

/// Which traces are kept: `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG` for the ratio),
/// or [`Builder::sampler`](crate::Builder::sampler).
///
/// The decision is made once per trace, at its root, from the trace id, so every service of
/// a trace that uses a parent-based sampler keeps or drops the same traces.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Sampler {
    /// Every span: `always_on`.
    AlwaysOn,
    /// No span: `always_off`.
    AlwaysOff,
    /// This fraction of traces, from 0.0 to 1.0, chosen by trace id: `traceidratio`.
    TraceIdRatio(f64),
    /// The caller's decision when there is a parent, else every span: `parentbased_always_on`,
    /// the default.
    ParentBasedAlwaysOn,
    /// The caller's decision when there is a parent, else none: `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// The caller's decision when there is a parent, else this fraction:
    /// `parentbased_traceidratio`.
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    /// Whether a span is sampled, given its parent's decision (`None` for a root) and its
    /// trace id. The ratio test is OpenTelemetry's: the last 8 bytes of the trace id, as a
    /// big-endian number shifted right by one, below `ratio * 2^63`.
    pub(crate) fn decide(self, parent: Option<bool>, trace_id: [u8; 16]) -> bool {
        let ratio = |r: f64| {
            if r >= 1.0 {
                return true;
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let bound = (r.max(0.0) * (1u64 << 63) as f64) as u64;
            let mut low = [0u8; 8];
            low.copy_from_slice(&trace_id[8..]);
            (u64::from_be_bytes(low) >> 1) < bound
        };
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(r) => ratio(r),
            Sampler::ParentBasedAlwaysOn => parent.unwrap_or(true),
            Sampler::ParentBasedAlwaysOff => parent.unwrap_or(false),
            Sampler::ParentBasedTraceIdRatio(r) => parent.unwrap_or_else(|| ratio(r)),
        }
    }

    fn check(self) -> Result<Self, String> {
        match self {
            Sampler::TraceIdRatio(r) | Sampler::ParentBasedTraceIdRatio(r)
                if !(0.0..=1.0).contains(&r) =>
            {
                Err(format!("the ratio must be from 0.0 to 1.0, not {r}"))
            }
            other => Ok(other),
        }
    }
}

/// Trace settings made in code; each unset one is read from the environment at install.
#[derive(Clone, Default)]
pub(crate) struct TraceSettings {
    pub(crate) exporter: Option<TracesExporter>,
    /// Every signal's transport (`Builder::otlp_*`): the spans', and the metrics' and logs'
    /// where their own settings leave them unset.
    pub(crate) transport: TransportSettings,
    /// The spans' own (`Builder::otlp_traces_endpoint`), over the general ones.
    pub(crate) own_transport: TransportSettings,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) tail: Option<TailSampling>,
    pub(crate) flush_timeout: Option<Duration>,
    pub(crate) filter: Option<String>,
}

/// Header values are credentials: the transport's `Debug` shows only their names.
impl std::fmt::Debug for TraceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceSettings")
            .field("exporter", &self.exporter)
            .field("transport", &self.transport)
            .field("own_transport", &self.own_transport)
            .field("resource", &self.resource)
            .field("sampler", &self.sampler)
            .field("tail", &self.tail)
            .field("flush_timeout", &self.flush_timeout)
            .field("filter", &self.filter)
            .finish()
    }
}

/// The default time [`ObsGuard`](crate::ObsGuard)'s drop waits for pending spans.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Batching of the worker: the `OTEL_BSP_*` variables.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Batching {
    pub(crate) max_queue: usize,
    pub(crate) max_batch: usize,
    pub(crate) delay: Duration,
    pub(crate) export_timeout: Duration,
}

/// Everything a pipeline needs, validated.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct TraceConfig {
    pub(crate) exporter: TracesExporter,
    /// Where and how spans are sent.
    pub(crate) transport: TransportConfig,
    pub(crate) service_name: String,
    /// Resource attributes other than `service.name`.
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) sampler: Sampler,
    /// Tail sampling's rules, when it is on.
    pub(crate) tail: Option<TailSampling>,
    pub(crate) batch: Batching,
    pub(crate) flush_timeout: Duration,
    pub(crate) filter: Targets,
}

fn parse_exporter(name: &'static str, value: &str) -> Result<TracesExporter, Error> {
    exporter_list(name, value, |names| match names {
        ["otlp"] => Ok(TracesExporter::Otlp),
        ["console" | "logging"] => Ok(TracesExporter::Console),
        ["none"] => Ok(TracesExporter::None),
        [_, _, ..] => Err("obs exports to one place at a time: otlp, console or none"),
        _ => Err("expected otlp, console or none"),
    })
}

fn parse_sampler(var: Var<'_>) -> Result<Sampler, Error> {
    const NAME: &str = "OTEL_TRACES_SAMPLER";
    const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
    let Some(value) = var(NAME) else {
        return Ok(Sampler::ParentBasedAlwaysOn);
    };
    let ratio = || -> Result<f64, Error> {
        match var(ARG) {
            None => Ok(1.0),
            Some(arg) => match arg.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(invalid(ARG, &arg, "expected a ratio from 0.0 to 1.0")),
            },
        }
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "always_on" => Ok(Sampler::AlwaysOn),
        "always_off" => Ok(Sampler::AlwaysOff),
        "traceidratio" => Ok(Sampler::TraceIdRatio(ratio()?)),
        "parentbased_always_on" => Ok(Sampler::ParentBasedAlwaysOn),
        "parentbased_always_off" => Ok(Sampler::ParentBasedAlwaysOff),
        "parentbased_traceidratio" => Ok(Sampler::ParentBasedTraceIdRatio(ratio()?)),
        _ => Err(invalid(
            NAME,
            &value,
            "expected always_on, always_off, traceidratio, parentbased_always_on, \
             parentbased_always_off or parentbased_traceidratio",
        )),
    }
}

/// `unknown_service:<executable name>`, the specification's default service name.
fn unknown_service() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("unknown_service:{exe}")
}

impl TraceConfig {
    /// Validates `settings`, reading every unset one from `var`.
    pub(crate) fn resolve(
        settings: &TraceSettings,
        var: Var<'_>,
        service_name: Option<String>,
    ) -> Result<Self, Error> {
        let disabled =
            var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let exporter = match settings.exporter {
            Some(exporter) => exporter,
            None if disabled => TracesExporter::None,
            None => match var("OTEL_TRACES_EXPORTER") {
                Some(value) => parse_exporter("OTEL_TRACES_EXPORTER", &value)?,
                None if cfg!(feature = "otlp") => TracesExporter::Otlp,
                None => TracesExporter::None,
            },
        };
        if exporter == TracesExporter::Otlp && !cfg!(feature = "otlp") {
            let why = "obs-runtime was built without its `otlp` feature: enable it \
                       (obs-runtime = { features = [\"otlp\"] }), or use console or none";
            return Err(match settings.exporter {
                Some(e) => setting("Builder::traces_exporter", e, why),
                None => invalid(
                    "OTEL_TRACES_EXPORTER",
                    &var("OTEL_TRACES_EXPORTER").unwrap_or_default(),
                    why,
                ),
            });
        }

        let transport = TransportConfig::resolve(
            Signal::Traces,
            &settings.transport,
            &settings.own_transport,
            var,
            exporter == TracesExporter::Otlp,
        )?;
        let (service_name, resource) = Self::resource(settings, var, service_name)?;
        let tail = match settings.tail {
            Some(t) => Some(
                t.check()
                    .map_err(|why| setting("Builder::tail_sampling", t, why))?,
            ),
            None => var("OBS_TRACES_TAIL")
                .map(|list| {
                    list.parse()
                        .map_err(|why| invalid("OBS_TRACES_TAIL", &list, why))
                })
                .transpose()?,
        };
        let sampler = match settings.sampler {
            Some(s) => s
                .check()
                .map_err(|why| setting("Builder::sampler", s, why))?,
            // Tail sampling's ratio is decided at a trace's start, as `traceidratio` does: those
            // traces are sampled from their root, and the caller's decision is kept.
            None if var("OTEL_TRACES_SAMPLER").is_none()
                && let Some(tail) = tail =>
            {
                Sampler::ParentBasedTraceIdRatio(tail.ratio)
            }
            None => parse_sampler(var)?,
        };
        let batch = Batching {
            max_queue: count(var, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)?,
            max_batch: count(var, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?,
            delay: millis(var, "OTEL_BSP_SCHEDULE_DELAY", Duration::from_secs(5))?,
            export_timeout: millis(var, "OTEL_BSP_EXPORT_TIMEOUT", Duration::from_secs(30))?,
        };
        let filter = match &settings.filter {
            Some(f) => parse_filter(f).map_err(|why| setting("Builder::traces_filter", f, why))?,
            None => match var("OBS_TRACES_FILTER") {
                None => parse_filter("info").unwrap_or_default(),
                Some(f) => parse_filter(&f).map_err(|why| invalid("OBS_TRACES_FILTER", &f, why))?,
            },
        };
        Ok(TraceConfig {
            exporter,
            transport,
            service_name,
            resource,
            sampler,
            tail,
            batch: Batching {
                max_batch: batch.max_batch.min(batch.max_queue),
                ..batch
            },
            flush_timeout: settings.flush_timeout.unwrap_or(DEFAULT_FLUSH_TIMEOUT),
            filter,
        })
    }

    /// The service name and the other resource attributes.
    fn resource(
        settings: &TraceSettings,
        var: Var<'_>,
        service_name: Option<String>,
    ) -> Result<(String, Vec<(String, String)>), Error> {
        let mut resource = match var("OTEL_RESOURCE_ATTRIBUTES") {
            None => Vec::new(),
            Some(value) => parse_pairs(&value).map_err(|why| {
                invalid(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    &value,
                    format!("{why}; expected key=value,key=value (values %-encoded)"),
                )
            })?,
        };
        for (key, value) in &settings.resource {
            resource.retain(|(k, _)| k != key);
            resource.push((key.clone(), value.clone()));
        }
        let from_attributes = resource
            .iter()
            .rev()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.clone());
        resource.retain(|(k, _)| k != "service.name");
        let service_name = service_name
            .or(from_attributes)
            .unwrap_or_else(unknown_service);

        Ok((service_name, resource))
    }
}

#[cfg(test)]
mod tests;
