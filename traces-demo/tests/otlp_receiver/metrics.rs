//! The receiver's metrics service: `MetricsService/Export` over gRPC and `/v1/metrics` over
//! HTTP, each request kept whole (delta points are compared push by push).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, number_data_point};
use prost::Message as _;

use super::{Attr, attrs, hex};

/// Every accepted metrics request, in order of arrival.
pub type Store = Arc<Mutex<Vec<ExportMetricsServiceRequest>>>;

#[derive(Clone)]
struct Service(Store);

#[tonic::async_trait]
impl MetricsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The gRPC service, storing into `store`.
pub fn service(store: &Store) -> MetricsServiceServer<impl MetricsService> {
    MetricsServiceServer::new(Service(Arc::clone(store)))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
}

/// Answers an OTLP/HTTP `/v1/metrics` request: the next of `script` (a status line and
/// headers), else `200 OK`; `400 Bad Request` for a body that does not decode. Stored when
/// answered 2xx.
pub fn answer(
    store: &Store,
    script: &Mutex<std::collections::VecDeque<String>>,
    body: &[u8],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let decoded = ExportMetricsServiceRequest::decode(body).ok();
    let scripted = script.lock().unwrap().pop_front();
    let status = match (&decoded, scripted) {
        (None, _) => "400 Bad Request".to_owned(),
        (Some(_), Some(answer)) => answer,
        (Some(_), None) => "200 OK".to_owned(),
    };
    if let (Some(request), true) = (decoded, status.starts_with('2')) {
        store.lock().unwrap().push(request);
    }
    let response = ExportMetricsServiceResponse {
        partial_success: None,
    }
    .encode_to_vec();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
        response.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(&response)?;
    out.flush()
}

/// One data point, flattened: the metric it belongs to and what it says.
#[derive(Clone, Debug)]
pub struct Point {
    pub name: String,
    pub unit: String,
    pub description: String,
    /// `sum`, `gauge`, `histogram`, `exponential_histogram`.
    pub kind: &'static str,
    pub monotonic: bool,
    /// 1 delta, 2 cumulative, 0 for a gauge.
    pub temporality: i32,
    pub attributes: BTreeMap<String, Attr>,
    pub start_unix_nanos: u64,
    pub unix_nanos: u64,
    /// A number's value (ints as floats), a histogram's sum.
    pub value: f64,
    /// A histogram's count, bounds and per-bucket counts (`+Inf` last).
    pub count: u64,
    pub bounds: Vec<f64>,
    pub buckets: Vec<u64>,
    /// An exponential histogram's scale, zero count, offset and bucket counts.
    pub scale: i32,
    pub zero_count: u64,
    pub offset: i32,
    /// `(trace id, span id, value)` of each exemplar, hex.
    pub exemplars: Vec<(String, String, f64)>,
}

fn exemplars(list: &[Exemplar]) -> Vec<(String, String, f64)> {
    use opentelemetry_proto::tonic::metrics::v1::exemplar::Value;
    list.iter()
        .map(|e| {
            #[allow(clippy::cast_precision_loss)]
            let value = match e.value {
                Some(Value::AsDouble(d)) => d,
                Some(Value::AsInt(i)) => i as f64,
                None => f64::NAN,
            };
            (hex(&e.trace_id), hex(&e.span_id), value)
        })
        .collect()
}

/// The points of one request, with the `service.name` of its resource.
pub fn points(request: &ExportMetricsServiceRequest) -> (String, Vec<Point>) {
    let mut out = Vec::new();
    let mut service = String::new();
    for rm in &request.resource_metrics {
        let (resource, _) = attrs(rm.resource.as_ref().map_or(&[][..], |r| &r.attributes));
        if let Some(name) = resource.get("service.name").and_then(Attr::str) {
            name.clone_into(&mut service);
        }
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                let base = Point {
                    name: metric.name.clone(),
                    unit: metric.unit.clone(),
                    description: metric.description.clone(),
                    kind: "",
                    monotonic: false,
                    temporality: 0,
                    attributes: BTreeMap::new(),
                    start_unix_nanos: 0,
                    unix_nanos: 0,
                    value: 0.0,
                    count: 0,
                    bounds: Vec::new(),
                    buckets: Vec::new(),
                    scale: 0,
                    zero_count: 0,
                    offset: 0,
                    exemplars: Vec::new(),
                };
                flatten(metric.data.as_ref(), &base, &mut out);
            }
        }
    }
    (service, out)
}

fn flatten(data: Option<&Data>, base: &Point, out: &mut Vec<Point>) {
    use number_data_point::Value;
    #[allow(clippy::cast_precision_loss)]
    let number = |v: Option<&Value>| match v {
        Some(Value::AsDouble(d)) => *d,
        Some(Value::AsInt(i)) => *i as f64,
        None => f64::NAN,
    };
    match data {
        Some(Data::Sum(sum)) => {
            for p in &sum.data_points {
                out.push(Point {
                    kind: "sum",
                    monotonic: sum.is_monotonic,
                    temporality: sum.aggregation_temporality,
                    attributes: attrs(&p.attributes).0,
                    start_unix_nanos: p.start_time_unix_nano,
                    unix_nanos: p.time_unix_nano,
                    value: number(p.value.as_ref()),
                    exemplars: exemplars(&p.exemplars),
                    ..base.clone()
                });
            }
        }
        Some(Data::Gauge(gauge)) => {
            for p in &gauge.data_points {
                out.push(Point {
                    kind: "gauge",
                    attributes: attrs(&p.attributes).0,
                    start_unix_nanos: p.start_time_unix_nano,
                    unix_nanos: p.time_unix_nano,
                    value: number(p.value.as_ref()),
                    ..base.clone()
                });
            }
        }
        Some(Data::Histogram(h)) => {
            for p in &h.data_points {
                out.push(Point {
                    kind: "histogram",
                    temporality: h.aggregation_temporality,
                    attributes: attrs(&p.attributes).0,
                    start_unix_nanos: p.start_time_unix_nano,
                    unix_nanos: p.time_unix_nano,
                    value: p.sum.unwrap_or(f64::NAN),
                    count: p.count,
                    bounds: p.explicit_bounds.clone(),
                    buckets: p.bucket_counts.clone(),
                    exemplars: exemplars(&p.exemplars),
                    ..base.clone()
                });
            }
        }
        Some(Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                let positive = p.positive.clone().unwrap_or_default();
                out.push(Point {
                    kind: "exponential_histogram",
                    temporality: h.aggregation_temporality,
                    attributes: attrs(&p.attributes).0,
                    start_unix_nanos: p.start_time_unix_nano,
                    unix_nanos: p.time_unix_nano,
                    value: p.sum.unwrap_or(f64::NAN),
                    count: p.count,
                    scale: p.scale,
                    zero_count: p.zero_count,
                    offset: positive.offset,
                    buckets: positive.bucket_counts,
                    exemplars: exemplars(&p.exemplars),
                    ..base.clone()
                });
            }
        }
        Some(Data::Summary(_)) | None => {}
    }
}
