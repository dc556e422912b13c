//! `status(..)`: a metric whose plan says `success`/`failed`/`blocked` or `status_code` gets
//! those values and that label on the page, and the generated rules and dashboard still count
//! exactly its failures as failures, also when functions of one family disagree.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::Page;
use obs_runtime::catalog::{self, Function, StatusLabel};
use obs_runtime::{ErrorStatus, Status, counted, timed};

/// How a call of the test functions ends.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Ok,
    Fail,
    Refuse,
    Slow,
}

/// The failures of the test functions.
#[derive(Debug)]
enum Failure {
    Broken,
    Refused,
    TimedOut,
}

impl ErrorStatus for Failure {
    fn status(&self) -> Status {
        match self {
            Failure::Broken => Status::ERROR,
            Failure::Refused => Status::BLOCKED,
            Failure::TimedOut => Status::TIMEOUT,
        }
    }
}

fn run(outcome: Outcome) -> Result<(), Failure> {
    match outcome {
        Outcome::Ok => Ok(()),
        Outcome::Fail => Err(Failure::Broken),
        Outcome::Refuse => Err(Failure::Refused),
        Outcome::Slow => Err(Failure::TimedOut),
    }
}

/// A family whose functions all speak the plan's words.
mod voice {
    use super::{Failure, Outcome, counted, run, timed};

    #[counted(
        name = "voice_requests_total",
        status(
            ok = "success",
            blocked = "blocked",
            panic = "error",
            cancelled = "error"
        ),
        objective(success = 99.0)
    )]
    #[timed(
        name = "voice_request_duration_seconds",
        buckets = [0.1, 1.0],
        status(ok = "success")
    )]
    pub(super) fn request(outcome: Outcome) -> Result<(), Failure> {
        run(outcome)
    }

    #[counted(
        name = "voice_skill_executions_total",
        labels(skill_name = skill),
        status(ok = "success")
    )]
    pub(super) fn skill(skill: &str, outcome: Outcome) -> Result<(), Failure> {
        run(outcome)
    }

    /// Never called: its renamed series are on the page at zero all the same.
    #[expect(dead_code, reason = "never called, on purpose")]
    #[counted(name = "voice_idle_total", status(ok = "success", error = "failed"))]
    pub(super) fn idle() -> Result<(), String> {
        Ok(())
    }
}

/// One family, three ways of writing the status.
mod mixed {
    use super::{Failure, Outcome, counted, run};

    #[counted(name = "mixed_jobs_total")]
    pub(super) fn plain(outcome: Outcome) -> Result<(), Failure> {
        run(outcome)
    }

    #[counted(
        name = "mixed_jobs_total",
        status(ok = "succeeded", error = "failed", timeout = "failed"),
        objective(success = 99.9)
    )]
    pub(super) fn renamed(outcome: Outcome) -> Result<(), Failure> {
        run(outcome)
    }

    #[counted(
        name = "mixed_jobs_total",
        status(
            label = "status_code",
            ok = "200",
            error = "500",
            timeout = "504",
            blocked = "429"
        )
    )]
    pub(super) fn coded(outcome: Outcome) -> Result<(), Failure> {
        run(outcome)
    }
}

fn functions_in(module: &str) -> Vec<Function> {
    catalog::functions()
        .into_iter()
        .filter(|f| f.module == module)
        .collect()
}

#[test]
fn renamed_values_and_labels_are_what_the_page_says() {
    let before = Page::parse(&obs_runtime::render());
    let idle = |status: &str| {
        let labels = [
            ("function", "idle"),
            ("module", "status::voice"),
            ("status", status),
        ];
        before.value("voice_idle_total", &labels)
    };
    assert_eq!(
        idle("success"),
        Some(0.0),
        "ok and error are rendered at zero from the start, renamed: {before}"
    );
    assert_eq!(idle("failed"), Some(0.0));

    for outcome in [
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Ok,
        Outcome::Fail,
        Outcome::Refuse,
    ] {
        let _ = voice::request(outcome);
        let _ = voice::skill("weather", outcome);
    }
    for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Slow, Outcome::Slow] {
        let _ = mixed::plain(outcome);
        let _ = mixed::renamed(outcome);
        let _ = mixed::coded(outcome);
    }
    let page = Page::parse(&obs_runtime::render());
    let request = |status: &str| {
        let labels = [
            ("function", "request"),
            ("module", "status::voice"),
            ("status", status),
        ];
        page.value("voice_requests_total", &labels)
    };
    assert_eq!(request("success"), Some(3.0), "{page}");
    assert_eq!(request("error"), Some(1.0));
    assert_eq!(request("blocked"), Some(1.0));
    assert_eq!(request("ok"), None, "no `ok` once renamed");
    let skill = [
        ("function", "skill"),
        ("module", "status::voice"),
        ("skill_name", "weather"),
        ("status", "success"),
    ];
    assert_eq!(
        page.value("voice_skill_executions_total", &skill),
        Some(3.0)
    );
    let bucket = [
        ("function", "request"),
        ("module", "status::voice"),
        ("status", "success"),
        ("le", "+Inf"),
    ];
    assert_eq!(
        page.value("voice_request_duration_seconds_bucket", &bucket),
        Some(3.0)
    );

    let jobs = |function: &str, (key, value): (&str, &str)| {
        let labels = [
            ("function", function),
            ("module", "status::mixed"),
            (key, value),
        ];
        page.value("mixed_jobs_total", &labels)
    };
    assert_eq!(jobs("plain", ("status", "timeout")), Some(2.0));
    // Two failures renamed alike are one series.
    assert_eq!(jobs("renamed", ("status", "failed")), Some(3.0), "{page}");
    assert_eq!(jobs("renamed", ("status", "succeeded")), Some(1.0));
    assert_eq!(jobs("coded", ("status_code", "504")), Some(2.0));
    assert_eq!(jobs("coded", ("status_code", "200")), Some(1.0));
    assert!(
        !page
            .text()
            .contains(r#"function="coded",module="status::mixed",status="#)
    );

    if let Some((clean, report)) = common::promtool_check_metrics(page.text()) {
        assert!(clean, "promtool check metrics:\n{report}\n{page}");
    }
}

#[test]
fn the_catalog_says_how_each_metric_writes_its_status() {
    let mixed = functions_in("status::mixed");
    let status_of = |name: &str| {
        mixed
            .iter()
            .find(|f| f.function == name)
            .map(|f| f.metrics[0].status)
            .unwrap()
    };
    assert_eq!(status_of("plain"), StatusLabel::DEFAULT);
    assert_eq!(status_of("renamed").ok(), "succeeded");
    assert_eq!(status_of("renamed").value(Status::TIMEOUT), "failed");
    assert_eq!(status_of("renamed").value(Status::PANIC), "panic");
    assert_eq!(status_of("coded").name(), "status_code");
    assert_eq!(status_of("coded").value(Status::BLOCKED), "429");
    assert_eq!(
        status_of("coded").value(Status::custom("throttled")),
        "throttled"
    );
}

#[test]
fn rules_count_failures_by_each_metric_s_own_ok_value() {
    // A family that agrees: one term, on its own ok value.
    let voice = obs_runtime::rules::rules_for(&functions_in("status::voice"));
    assert!(
        voice.contains(
            r#"expr: sum by (job, function, module) (rate(voice_requests_total{status!="success"}[1h])) / sum by (job, function, module) (rate(voice_requests_total[1h]))"#
        ),
        "{voice}"
    );
    assert!(!voice.contains(r#"status!="ok""#), "{voice}");

    // A family that disagrees: a term per function outside the most common way, which `or`
    // prefers to the general one.
    let mixed = obs_runtime::rules::rules_for(&functions_in("status::mixed"));
    assert!(
        mixed.contains(
            "expr: sum by (job, function, module, status, status_code) (rate(mixed_jobs_total[5m]))"
        ),
        "{mixed}"
    );
    assert!(
        mixed.contains(r#"rate(mixed_jobs_total{function="renamed",module="status::mixed",status!="succeeded"}[5m])"#),
        "{mixed}"
    );
    assert!(
        mixed.contains(r#"rate(mixed_jobs_total{function="coded",module="status::mixed",status_code!="200"}[5m])"#),
        "{mixed}"
    );
    assert!(
        mixed.contains(
            r#" or (sum by (job, function, module) (rate(mixed_jobs_total{status!="ok"}[5m]))"#
        ),
        "{mixed}"
    );

    // promtool runs the rules on series as the page writes them: each function's error ratio is
    // its own, and the renamed function's objective alert fires on its 20 % failures.
    let dir = tempdir();
    std::fs::write(dir.join("mixed.rules.yml"), &mixed).unwrap();
    let labels = |f: &str| format!(r#"job="jobs",function="{f}",module="status::mixed""#);
    let mut test = String::from(
        "rule_files: [mixed.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (f, label, value, per_minute) in [
        ("plain", "status", "ok", 90),
        ("plain", "status", "error", 10),
        ("renamed", "status", "succeeded", 80),
        ("renamed", "status", "failed", 20),
        ("coded", "status_code", "200", 70),
        ("coded", "status_code", "500", 30),
    ] {
        let _ = writeln!(
            test,
            "      - series: 'mixed_jobs_total{{{},{label}=\"{value}\"}}'\n        values: '0+{per_minute}x120'",
            labels(f)
        );
    }
    test.push_str("    promql_expr_test:\n      - expr: round(obs:mixed_jobs:error_ratio_rate5m, 0.001)\n        eval_time: 70m\n        exp_samples:\n");
    for (f, ratio) in [("plain", "0.1"), ("renamed", "0.2"), ("coded", "0.3")] {
        let _ = writeln!(
            test,
            "          - labels: '{{{}}}'\n            value: {ratio}",
            labels(f)
        );
    }
    test.push_str(
        "    alert_rule_test:\n      - eval_time: 70m\n        alertname: ObsErrorBudgetFastBurn\n        exp_alerts:\n          - exp_labels: { severity: critical, job: jobs, function: renamed, module: \"status::mixed\" }\n            exp_annotations:\n              summary: \"status::mixed::renamed burns its error budget 14.4x too fast (1h and 5m windows)\"\n              description: \"Objective: 99.9% of calls succeed (declared in tests/status.rs). At this rate the budget of 0.1% is spent in 2.1 days of a 30-day window.\"\n",
    );
    std::fs::write(dir.join("mixed.test.yml"), &test).unwrap();
    let rules = dir.join("mixed.rules.yml");
    if let Some((ok, report)) = common::promtool(&["check", "rules", rules.to_str().unwrap()], None)
    {
        assert!(ok, "promtool check rules:\n{report}\n{mixed}");
    }
    let tests = dir.join("mixed.test.yml");
    if let Some((ok, report)) = common::promtool(&["test", "rules", tests.to_str().unwrap()], None)
    {
        assert!(ok, "promtool test rules:\n{report}\n{mixed}\n{test}");
    }
}

#[test]
fn the_dashboard_counts_failures_by_each_metric_s_own_ok_value() {
    let panels = obs_runtime::dashboard::panels_for(&functions_in("status::mixed"));
    let query = |title: &str| {
        panels
            .iter()
            .find(|p| p.title == title)
            .unwrap_or_else(|| panic!("no panel {title}"))
            .queries[0]
            .1
            .clone()
    };
    let ratio = query("Error ratio of mixed_jobs_total");
    assert!(
        ratio.contains(r#"mixed_jobs_total{job=~"$job",function=~"$function",function="coded",module="status::mixed",status_code!="200"}"#),
        "{ratio}"
    );
    assert!(ratio.contains(r#"status!="succeeded""#), "{ratio}");
    let rate = query("Rate of mixed_jobs_total");
    assert!(
        rate.starts_with("sum by (function, status, status_code) ("),
        "{rate}"
    );
    let burn = query("Objective burn rate (1h)");
    assert!(
        burn.contains(r#"function="renamed",module="status::mixed",status!="succeeded"}"#),
        "{burn}"
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("obs-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Path::new(&dir).is_dir());
    dir
}
