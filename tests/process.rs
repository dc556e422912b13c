//! The process's own metrics, under the names every Prometheus client library uses: on the
//! page once `init()` ran, with values that make sense, and promtool-clean.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::Page;

#[test]
fn process_metrics_are_on_the_page_once_init_ran() {
    assert!(
        !obs_runtime::render().contains("process_cpu_seconds_total"),
        "render() alone adds nothing it was not asked for"
    );
    let obs = obs_runtime::Builder::new()
        .port(0)
        .env(|_| None)
        .install()
        .unwrap();
    let page = Page::parse(&common::request(obs.local_addr().unwrap(), "GET", "/metrics").body);
    if let Some((clean, report)) = common::promtool_check_metrics(page.text()) {
        assert!(clean, "promtool check metrics:\n{report}\n{page}");
    }
    if !cfg!(target_os = "linux") {
        return;
    }
    for (name, kind) in [
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            page.text().contains(&format!("# TYPE {name} {kind}\n")),
            "{name}: {page}"
        );
        assert_eq!(page.kind(name), Some(kind), "{name}");
    }
    let value = |name: &str| page.value(name, &[]).unwrap();
    assert!(value("process_cpu_seconds_total") >= 0.0);
    let resident = value("process_resident_memory_bytes");
    assert!(resident > 1e6, "{resident}");
    assert!(value("process_virtual_memory_bytes") >= resident);
    // The test's own descriptors, the listener's and the client's connection at least.
    let open = value("process_open_fds");
    assert!(open >= 4.0, "{open}");
    assert!(
        page.value("process_max_fds", &[])
            .is_none_or(|max| max >= open),
        "the soft limit, when there is one"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value("process_start_time_seconds");
    assert!(
        started <= now + 1.0 && started > now - 3600.0,
        "started {started}, now {now}"
    );
}
