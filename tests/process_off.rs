//! `Builder::without_process_metrics`: the `process_*` series stay off the page. A test binary
//! of its own: once an install has put them on, they stay for the process.

mod common;

#[test]
fn without_process_metrics_leaves_them_off_the_page() {
    let obs = obs_runtime::Builder::new()
        .port(0)
        .env(|_| None)
        .without_process_metrics()
        .install()
        .unwrap();
    let response = common::request(obs.local_addr().unwrap(), "GET", "/metrics");
    assert!(
        response.status_line.contains(" 200 "),
        "{}",
        response.status_line
    );
    assert!(
        !response.body.contains("process_"),
        "no process_* series asked for:\n{}",
        response.body
    );
}
