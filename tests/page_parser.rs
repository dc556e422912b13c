//! The tests' exposition-format parser (`tests/common/page.rs`) reads what it should and
//! refuses what the format forbids, so a test that passes through it reads the page right.

mod common;

use common::{Page, parse_labels};

const PAGE: &str = "\
# HELP function_calls_total Calls, by status.\\nSecond line \\\\ backslash.
# TYPE function_calls_total counter
function_calls_total{function=\"a\\\"b\",module=\"m\",status=\"ok\"} 3
function_calls_total{function=\"a\\\"b\",module=\"m\",status=\"error\"} 0
function_calls_total{module=\"m\",function=\"c\",status=\"ok\"} 2
# A comment that is neither HELP nor TYPE.

# TYPE function_duration_seconds histogram
function_duration_seconds_bucket{function=\"a\",le=\"0.25\"} 1
function_duration_seconds_bucket{function=\"a\",le=\"+Inf\"} 2
function_duration_seconds_sum{function=\"a\"} 0.000125
function_duration_seconds_count{function=\"a\"} 2
queue_depth -4 1700000000000
";

#[test]
fn samples_families_and_values() {
    let page = Page::parse(PAGE);
    assert_eq!(page.samples().len(), 8);
    assert_eq!(page.to_string(), PAGE, "displays as its text");
    let family = page.family("function_calls_total").unwrap();
    assert_eq!(
        family.help.as_deref(),
        Some("Calls, by status.\nSecond line \\ backslash.")
    );
    assert_eq!(family.kind.as_deref(), Some("counter"));
    assert_eq!(family.line, 1);
    assert_eq!(page.kind("function_duration_seconds"), Some("histogram"));
    assert_eq!(page.family("function_duration_seconds").unwrap().help, None);
    assert_eq!(page.kind("queue_depth"), None);

    let first = &page.samples()[0];
    assert_eq!(first.name, "function_calls_total");
    assert_eq!(
        first.pairs().collect::<Vec<_>>(),
        [("function", "a\"b"), ("module", "m"), ("status", "ok")]
    );
    assert_eq!(
        (first.value, first.text.as_str(), first.line),
        (3.0, "3", 3)
    );
    assert_eq!(first.count(), 3);

    let inf = page
        .get(
            "function_duration_seconds_bucket",
            &[("function", "a"), ("le", "+Inf")],
        )
        .unwrap();
    assert_eq!(inf.label("le"), Some("+Inf"));
    assert_eq!(
        page.value("function_duration_seconds_sum", &[("function", "a")]),
        Some(0.000_125)
    );
    let depth = page.get("queue_depth", &[]).unwrap();
    assert_eq!(
        (depth.integer(), depth.timestamp),
        (-4, Some(1_700_000_000_000))
    );
}

#[test]
fn value_wants_every_label_in_page_order_and_series_any_subset() {
    let page = Page::parse(PAGE);
    let calls = "function_calls_total";
    assert_eq!(
        page.value(
            calls,
            &[("function", "c"), ("module", "m"), ("status", "ok")]
        ),
        None,
        "the page renders module first for c"
    );
    assert_eq!(
        page.value(
            calls,
            &[("module", "m"), ("function", "c"), ("status", "ok")]
        ),
        Some(2.0)
    );
    assert_eq!(
        page.value(calls, &[("function", "a\"b"), ("module", "m")]),
        None,
        "a label left out is another series"
    );
    assert_eq!(page.series(calls, &[("module", "m")]).count(), 3);
    assert_eq!(
        page.series(calls, &[("status", "ok"), ("module", "m")])
            .count(),
        2
    );
    assert!((page.sum(calls, &[("module", "m")]) - 5.0).abs() < f64::EPSILON);
    assert!(page.sum(calls, &[("module", "other")]).abs() < f64::EPSILON);
    assert_eq!(
        page.series("function_calls", &[]).count(),
        0,
        "names match whole"
    );
}

#[test]
fn label_values_are_unescaped() {
    assert_eq!(
        parse_labels(concat!(
            r#"path="a\"quoted\"\\path\nwith a newline","#,
            "b=\"caf\u{e9}\","
        ))
        .unwrap(),
        [
            (
                "path".to_owned(),
                "a\"quoted\"\\path\nwith a newline".to_owned()
            ),
            ("b".to_owned(), "caf\u{e9}".to_owned()),
        ]
    );
    assert_eq!(parse_labels("").unwrap(), []);
    let page = Page::parse("x{a=\"}\",b=\"{ \\\"}\"} 1\n");
    assert_eq!(page.value("x", &[("a", "}"), ("b", "{ \"}")]), Some(1.0));
}

#[test]
fn counts_are_whole_numbers() {
    let page = Page::parse("x 1.5\ny 2\n");
    assert_eq!(page.get("y", &[]).unwrap().count(), 2);
    let half = page.get("x", &[]).unwrap().clone();
    assert!(std::panic::catch_unwind(move || half.count()).is_err());
}

#[test]
fn what_the_format_forbids_is_refused_with_its_line() {
    for (text, line, says) in [
        ("x{a=\"1\"}\n", 1, "no space before the value"),
        ("ok 1\nx{a=\"1\"} one\n", 2, "not a number"),
        ("x{a=\"1\" 1\n", 1, "no closing brace"),
        ("x{a=1} 1\n", 1, "not key=\"value\""),
        ("x{a=\"\\t\"} 1\n", 1, "unknown escape"),
        ("x{a=\"1\",a=\"2\"} 1\n", 1, "given twice"),
        ("x{a=\"1\"b=\"2\"} 1\n", 1, "no comma"),
        ("x{a-b=\"1\"} 1\n", 1, "not a label name"),
        ("9x 1\n", 1, "not a metric name"),
        ("x 1\nx 2\n", 2, "on the page twice"),
        ("# HELP x a\n# HELP x b\n", 2, "a second HELP"),
        ("# TYPE x counter\n# TYPE x gauge\n", 2, "a second TYPE"),
        ("# TYPE x kind\n", 1, "unknown TYPE"),
        ("x_count 1\n# TYPE x histogram\n", 2, "after its sample"),
        ("x 1 soon\n", 1, "bad timestamp"),
        ("x  1\n", 1, "not a number"),
    ] {
        let err = Page::try_parse(text).expect_err(text);
        assert_eq!(err.line, line, "{text:?}: {err}");
        assert!(err.message.contains(says), "{text:?}: {err}");
    }
    assert!(std::panic::catch_unwind(|| Page::parse("x{\n")).is_err());
}

#[test]
fn a_page_obs_renders_parses() {
    #[obs_runtime::counted(labels(tier = "free"))]
    fn parsed() {}
    parsed();
    let page = Page::parse(&obs_runtime::render());
    let ok = [
        ("function", "parsed"),
        ("module", "page_parser"),
        ("tier", "free"),
        ("status", "ok"),
    ];
    assert_eq!(page.value("function_calls_total", &ok), Some(1.0), "{page}");
    assert_eq!(page.kind("function_calls_total"), Some("counter"));
}
