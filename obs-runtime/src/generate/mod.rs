//! Files generated from the catalog: Prometheus rules and a Grafana dashboard, both written
//! with the same PromQL.

pub mod dashboard;
mod promql;
pub mod rules;
