//! obs installed, dropped and installed again in one process, as a test suite or a server that
//! restarts its exporters does, in the order `benches/spans.rs`'s `init()` cases took (issue
//! 27): no exporter, then OTLP sampling nothing, then OTLP sampling everything. Each phase's
//! spans go to its own exporter or nowhere; the last one's must arrive, under `init()`'s
//! global subscriber and under one copy of that subscriber kept across the installs.

mod otlp_receiver;

use obs_runtime::{Builder, LogFormat, ObsGuard, Sampler, TracesExporter};
use otlp_receiver::Receiver;

#[obs_runtime::traced]
fn reinstalled(phase: u32) -> u32 {
    phase
}

/// The three installs, each running `phase` between its install and its drop; `builder`
/// adds what the test needs.
fn three_installs(receiver: &Receiver, builder: fn() -> Builder, phase: impl Fn(u32)) {
    let modes = [
        (TracesExporter::None, Sampler::AlwaysOn),
        (TracesExporter::Otlp, Sampler::AlwaysOff),
        (TracesExporter::Otlp, Sampler::AlwaysOn),
    ];
    for (n, (exporter, sampler)) in (1..).zip(modes) {
        let guard: ObsGuard = builder()
            .env(|_| None)
            .without_server()
            .without_recorder()
            .log_format(LogFormat::Text)
            .traces_exporter(exporter)
            .sampler(sampler)
            .otlp_endpoint(receiver.endpoint())
            .install()
            .expect("installs");
        phase(n);
        drop(guard);
    }
}

fn phases_exported(receiver: &Receiver) -> Vec<String> {
    receiver
        .spans()
        .into_iter()
        .filter(|s| s.name == "reinstalled")
        .map(|s| s.name)
        .collect()
}

/// First one dispatch of `init()`'s subscriber kept across the installs (the bench's first
/// shape; the installs' own threads are outside it), then `init()`'s global subscriber,
/// installed by the first install of that round and kept by the later ones. In this order,
/// in one test: while the kept dispatch is the process's only one, tracing-core rebuilds
/// callsite interest from the rebuilding thread's default dispatcher alone (see
/// docs/design.md, "Installed again"); once the global one exists, it never is.
#[test]
fn installs_after_a_dropped_guard_export_under_a_kept_subscriber_and_under_the_global_one() {
    let receiver = Receiver::http();
    let dispatch = obs_runtime::__private::init_subscriber(LogFormat::Text);
    three_installs(
        &receiver,
        || Builder::new().without_subscriber(),
        |n| {
            tracing::dispatcher::with_default(&dispatch, || {
                reinstalled(n);
            });
        },
    );
    assert_eq!(
        phases_exported(&receiver),
        ["reinstalled"],
        "under the kept dispatch: the third phase's span only"
    );
    drop(dispatch);

    let receiver = Receiver::http();
    three_installs(&receiver, Builder::new, |n| {
        reinstalled(n);
    });
    assert_eq!(
        phases_exported(&receiver),
        ["reinstalled"],
        "under the global subscriber: the third phase's span only"
    );
}
