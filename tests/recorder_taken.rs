//! Another `metrics` recorder installed first: `init` says so instead of losing facade calls
//! silently. (Its own test binary: the global recorder is per process.)

#[test]
fn another_recorder_first_is_an_error_that_names_the_fix() {
    metrics::set_global_recorder(metrics::NoopRecorder).unwrap();
    let err = obs_runtime::Builder::new()
        .without_server()
        .env(|_| None)
        .install()
        .unwrap_err();
    assert!(matches!(err, obs_runtime::Error::RecorderTaken), "{err:?}");
    assert!(err.to_string().contains("without_recorder()"), "{err}");
    // Opting out works, and the attributes still record.
    let obs = obs_runtime::Builder::new()
        .without_server()
        .without_recorder()
        .env(|_| None)
        .install()
        .unwrap();
    drop(obs);
}
