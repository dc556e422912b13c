//! Metrics: the per-function sites the attributes expand into, their guards, labels from the
//! call, the catalog of every instrumented function, the `metrics` facade's recorder and the
//! process's own metrics. Each part adds its series to the page through the exposition
//! writer.

pub mod catalog;
mod custom;
mod exemplar;
mod facade;
pub(crate) mod family;
pub(crate) mod guard;
pub(crate) mod labelled;
mod meta;
pub(crate) mod native;
mod process;
pub(crate) mod reading;
mod series_map;
mod shard;
pub(crate) mod site;

pub use facade::ObsRecorder;
pub(crate) use facade::{BucketMatch, install as install_recorder};
pub use labelled::{OVERFLOW, series_limit, set_series_limit};
pub use meta::FnMeta;
pub use native::{DEFAULT_SCHEMA, MAX_SCHEMA, MIN_SCHEMA};
pub(crate) use process::{
    enable as enable_process_metrics, start_unix_nanos as process_start_unix_nanos,
};
pub use site::DEFAULT_BUCKETS;

use crate::exposition::Collector;

/// Adds every metric series to the page: the attribute sites first, then the facade's, then
/// the process's.
pub(crate) fn collect(out: &mut Collector) {
    for site in site::all_sites() {
        site.collect(out);
    }
    family::collect(out);
    facade::collect(out);
    process::collect(out);
}
