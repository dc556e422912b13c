use proc_macro2::TokenStream;

use super::*;

/// Parsed, then checked (`valid.rs`), as the driver runs them.
fn parse(kind: Kind, args: &str) -> syn::Result<Args> {
    let tokens = syn::parse_str::<TokenStream>(args).expect("the test input lexes");
    let args = Args::parse(kind, tokens)?;
    crate::valid::check(&args)?;
    Ok(args)
}

fn error(kind: Kind, args: &str) -> String {
    match parse(kind, args) {
        Ok(_) => panic!("#[{}({args})] was accepted", kind.name()),
        Err(e) => e
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn parses_every_documented_option() {
    let args = parse(
        Kind::Counted,
        r#"name = "jobs_total", help = "Jobs.", labels(queue = "fast", r#type = "x"), crate = ::obs_runtime,"#,
    )
    .unwrap();
    assert_eq!(args.metric.name.unwrap().value(), "jobs_total");
    assert_eq!(args.metric.help.unwrap().value(), "Jobs.");
    assert_eq!(args.metric.labels.unwrap().len(), 2);
    assert!(args.krate.is_some());

    let args = parse(Kind::Timed, "buckets = [1, 2.5, 1e1], name = \"q_seconds\"").unwrap();
    assert_eq!(args.metric.buckets.unwrap().0, vec![1.0, 2.5, 10.0]);

    let args = parse(
        Kind::Traced,
        r#"level = debug, name = "login", skip(password, r#type), fields(a = 1, b = %x)"#,
    )
    .unwrap();
    assert_eq!(args.trace.level, Some(Level::Debug));
    assert_eq!(args.trace.skip.len(), 2);
    assert!(args.trace.fields.is_some());

    let args = parse(Kind::Traced, "level = \"WARN\", skip_all").unwrap();
    assert_eq!(args.trace.level, Some(Level::Warn));
    assert!(args.trace.skip_all);

    let args = parse(Kind::Traced, "level = tracing::Level::ERROR").unwrap();
    assert_eq!(args.trace.level, Some(Level::Error));

    // As `tracing::instrument` numbers them.
    for (n, level) in [(1, Level::Trace), (3, Level::Info), (5, Level::Error)] {
        let args = parse(Kind::Traced, &format!("level = {n}")).unwrap();
        assert_eq!(args.trace.level, Some(level));
    }

    let args = parse(
        Kind::Traced,
        r#""span", target = "billing", err(Debug, level = "warn"), ret(level = 2), parent = None, follows_from = [&a], fields(empty, x.y = 1, "k k" = ?v, %z)"#,
    )
    .unwrap();
    assert!(matches!(args.trace.name, Some(SpanName::Lit(ref l)) if l.value() == "span"));
    assert!(matches!(args.trace.target, Some(syn::Expr::Lit(_))));
    let err = args.trace.err.unwrap();
    assert_eq!(
        (err.mode, err.level),
        (Some(FmtMode::Debug), Some(Level::Warn))
    );
    let ret = args.trace.ret.unwrap();
    assert_eq!(
        (ret.mode, ret.level, ret.field),
        (None, Some(Level::Debug), false)
    );
    assert!(args.trace.parent.is_some() && args.trace.follows_from.is_some());
    let fields = args.trace.fields.unwrap();
    let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["empty", "x.y", "k k", "z"]);
    assert!(fields[0].value.is_none() && fields[3].value.is_some());

    let args = parse(Kind::Traced, "name = SPAN_NAME, ret(field, Display)").unwrap();
    assert!(matches!(args.trace.name, Some(SpanName::Const(_))));
    assert!(args.trace.ret.unwrap().field);

    // As `tracing::instrument` takes them: any const expression for the name and the target,
    // and braced const expressions as field names.
    let args = parse(
        Kind::Traced,
        r#"name = names::span(), target = Targets::BILLING, fields({NAME} = 1, {Names::A} = %x, {f()}, {"lit"} = ?v)"#,
    )
    .unwrap();
    assert!(matches!(
        args.trace.name,
        Some(SpanName::Const(syn::Expr::Call(_)))
    ));
    assert!(matches!(args.trace.target, Some(syn::Expr::Path(_))));
    let fields = args.trace.fields.unwrap();
    let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["{NAME}", "{Names :: A}", "{f ()}", "{\"lit\"}"]);
    assert!(fields.iter().all(|f| f.name_expr.is_some()));
    assert!(fields[2].value.is_none() && fields[1].value.is_some());

    assert!(parse(Kind::InFlight, "").is_ok());

    let args = parse(
        Kind::Counted,
        r#"status(ok = "success", error = "failed", panic = "failed", label = "outcome")"#,
    )
    .unwrap();
    let status = args.metric.status.unwrap();
    assert_eq!(status.label(), "outcome");
    assert_eq!(
        status.values(),
        [
            "success",
            "failed",
            "failed",
            "cancelled",
            "timeout",
            "blocked"
        ]
    );
    let args = parse(
        Kind::Timed,
        r#"labels(endpoint = "/jobs"), status(label = "status_code", ok = "200", error = "500", timeout = "504")"#,
    )
    .unwrap();
    assert_eq!(args.metric.status.unwrap().label(), "status_code");
    // `ok` may take the name of a failure that is renamed too.
    assert!(parse(Kind::Counted, r#"status(ok = "error", error = "failed")"#).is_ok());
    assert!(parse(Kind::Counted, r#"status(label = "status")"#).is_ok());
}

#[test]
fn reports_every_error_of_an_attribute() {
    let message = error(
        Kind::Counted,
        r#"name = "Bad", colour = 1, labels(status = "x", a = "b", a = "c"), help = 3"#,
    );
    assert_eq!(message.lines().count(), 5, "{message}");
    assert!(message.contains("snake_case"), "{message}");
    assert!(message.contains("unknown option `colour`"), "{message}");
    assert!(message.contains("`status` is set by obs"), "{message}");
    assert!(message.contains("label `a` is given twice"), "{message}");
    assert!(message.contains("`help` takes a string"), "{message}");

    let message = error(Kind::Timed, "buckets = [x, -1, 2, 1, 2, 1e999]");
    assert_eq!(message.lines().count(), 5, "{message}");

    let message = error(
        Kind::Timed,
        r#"objective(latency = "soon", percentile = 100, success = 99)"#,
    );
    assert_eq!(message.lines().count(), 3, "{message}");
    assert!(message.contains("`soon` is not a duration"), "{message}");
    assert!(message.contains("between 0 and 100"), "{message}");
    assert!(message.contains("a success objective goes on"), "{message}");
    let message = error(Kind::Timed, r#"objective(latency = "1s" percentile = 99)"#);
    assert_eq!(message, "expected `,`");
    // Put on the wrong attribute, the objective is said to be so once, not once per part.
    let message = error(
        Kind::Counted,
        r#"objective(latency = "250ms", percentile = 99)"#,
    );
    assert_eq!(message.lines().count(), 1, "{message}");
}

/// Each `(kind, args, expected)`: the attribute is refused with a message containing
/// `expected`.
fn says(cases: &[(Kind, &str, &str)]) {
    for (kind, args, expected) in cases {
        let message = error(*kind, args);
        assert!(
            message.contains(expected),
            "#[{}({args})]: {message:?} does not contain {expected:?}",
            kind.name()
        );
    }
}

#[test]
fn says_what_to_write_about_the_options_of_tracing_instrument() {
    says(&[
        (Kind::Traced, "level = 0", "level `0` is out of range"),
        (Kind::Traced, "level = 6", "numbered 1 (trace) to 5 (error)"),
        (Kind::Traced, "level = 'a", "`level` takes a level name"),
        (Kind::Traced, "err(Foo)", "unknown `err` mode `Foo`"),
        (Kind::Traced, "err(display)", "capitalized as the trait"),
        (
            Kind::Traced,
            "err(Debug, Display)",
            "give one of `Display` and `Debug`",
        ),
        (Kind::Traced, "err(field)", "unknown `err` mode `field`"),
        (Kind::Traced, "err = true", "`err` takes no value"),
        (Kind::Traced, "err(level = 9)", "level `9` is out of range"),
        (Kind::Traced, "ret(Foo)", "write `ret`, `ret(Debug)`"),
        (Kind::Traced, "err, err", "`err` is given twice"),
        (
            Kind::Traced,
            "ret(field, level = 1)",
            "a span field has no level",
        ),
        (Kind::Traced, "target", "`target` takes a value"),
        (
            Kind::Traced,
            "target = ,",
            "`target` takes a string or a const",
        ),
        (Kind::Traced, "fields({NAME} NAME)", "expected `,`"),
        (
            Kind::Traced,
            "fields(%{NAME} = 1)",
            "a braced name is not a variable",
        ),
        (
            Kind::Traced,
            "fields({let} = 1)",
            "a braced field name takes a const",
        ),
        (Kind::Traced, "fields({A} = 1, {A})", "is given twice"),
        (Kind::Traced, "target = \"\"", "the target is empty"),
        (Kind::Traced, "parent", "`parent` takes a value"),
        (Kind::Traced, "parent = ", "`parent` takes an expression"),
        (Kind::Traced, "parent = +", "`parent` takes an expression"),
        (
            Kind::Traced,
            "follows_from = ",
            "`follows_from` takes an expression",
        ),
        (
            Kind::Traced,
            "fields(a = )",
            "takes an expression after `=`",
        ),
        (Kind::Traced, "fields(1)", "expected a field name"),
        (Kind::Traced, "fields(a, a = 1)", "field `a` is given twice"),
        (
            Kind::Traced,
            "name = 1",
            "a string or a const `&str` expression",
        ),
        (Kind::Traced, "\"a\", name = \"b\"", "`name` is given twice"),
        (Kind::Counted, "err", "option of #[traced]"),
        (Kind::Timed, "target = \"x\"", "option of #[traced]"),
        (
            Kind::Traced,
            "follow_from = [a]",
            "did you mean `follows_from`?",
        ),
    ]);
}

#[test]
fn says_what_to_write() {
    let cases: &[(Kind, &str, &str)] = &[
        (Kind::Counted, "name", "write `name = \"…\"`"),
        (Kind::Counted, "name = 1", "`name` takes a string"),
        (
            Kind::Counted,
            "name = \"a_total\" help = \"b\"",
            "expected `,` before the next option",
        ),
        (Kind::Counted, "1", "expected an option: #[counted] takes"),
        (
            Kind::Counted,
            "labels",
            "write `labels(key = \"value\", ..)`",
        ),
        (Kind::Counted, "labels(a)", "write `a = \"value\"`"),
        // `labels(a = b)` takes the value from the call; a missing value is refused.
        (Kind::Counted, "labels(a = )", "a label needs a value"),
        (Kind::Counted, "labels(\"a\" = \"b\")", "expected a label"),
        (Kind::Counted, "buckets = [1.0]", "option of #[timed]"),
        (
            Kind::Counted,
            "nmae = \"x\"",
            "unknown option `nmae`: did you mean `name`?",
        ),
        (Kind::Traced, "skipall", "did you mean `skip_all`?"),
        (Kind::Traced, "Level = \"debug\"", "did you mean `level`?"),
        (Kind::Timed, "bucket = [1]", "did you mean `buckets`?"),
        (
            Kind::Timed,
            "colour = 1",
            "unknown option `colour`: #[timed] takes",
        ),
        (Kind::Counted, "level = \"debug\"", "option of #[traced]"),
        (Kind::Traced, "help = \"x\"", "not of #[traced]"),
        (
            Kind::Counted,
            "crate",
            "write `crate = path::to::obs_runtime`",
        ),
        (
            Kind::Counted,
            "crate = \"obs_runtime\"",
            "write `crate = obs_runtime`",
        ),
        (
            Kind::Counted,
            "crate = 1",
            "`crate` takes the path of obs_runtime",
        ),
        (Kind::Timed, "buckets = 0.5", "`buckets` takes a list"),
        (Kind::Timed, "buckets", "`buckets` takes a value"),
        (Kind::Timed, "buckets = []", "`buckets` is empty"),
        (Kind::Timed, "buckets = [0]", "greater than 0"),
        (Kind::Timed, "buckets = [1, 1]", "strictly increasing"),
        (Kind::Timed, "buckets = [1e400]", "finite"),
        (Kind::Timed, "buckets = [\"1\"]", "number literals"),
        (
            Kind::Traced,
            "level = \"verbose\"",
            "unknown level `verbose`",
        ),
        (Kind::Traced, "level", "`level` takes a value"),
        (Kind::Traced, "skip", "write `skip(arg, ..)`"),
        (Kind::Traced, "skip(1)", "the names of the fn's arguments"),
        (Kind::Traced, "skip(a, a)", "`a` is skipped twice"),
        (Kind::Traced, "skip_all = true", "write `skip_all` alone"),
        (
            Kind::Traced,
            "skip_all, skip_all",
            "`skip_all` is given twice",
        ),
        (Kind::Traced, "skip(a), skip_all", "together: keep one"),
        (
            Kind::Traced,
            "fields = 1",
            "write `fields(key = value, ..)`",
        ),
        (Kind::Traced, "name = \"\"", "the span name is empty"),
        (
            Kind::Traced,
            "name = \"a\", name = \"b\"",
            "`name` is given twice",
        ),
    ];
    says(cases);
}

/// `status(..)`, wrong in every way a plan's reader may write it.
const STATUS_CASES: &[(Kind, &str, &str)] = &[
    (Kind::Counted, "status", "write `status(ok = \"success\""),
    (
        Kind::Counted,
        "status = \"x\"",
        "takes a list in parentheses",
    ),
    (Kind::Counted, "status()", "`status()` renames nothing"),
    (
        Kind::Counted,
        "status(success = \"success\")",
        "write `ok = \"success\"`",
    ),
    (
        Kind::Counted,
        "status(failed = \"x\")",
        "write `error = \"failed\"`",
    ),
    (
        Kind::Counted,
        "status(timout = \"t\")",
        "did you mean `timeout`?",
    ),
    (
        Kind::Counted,
        "status(throttled = \"t\")",
        "Status::custom(\"throttled\")",
    ),
    (Kind::Counted, "status(ok)", "write `ok = \"…\"`"),
    (Kind::Counted, "status(ok = 1)", "`ok` takes a string"),
    (
        Kind::Counted,
        "status(ok = \"\")",
        "the value of `ok` is empty",
    ),
    (
        Kind::Counted,
        "status(ok = \"a\", ok = \"b\")",
        "`ok` is given twice",
    ),
    (
        Kind::Counted,
        "status(error = \"ok\")",
        "`error` would read `ok`, as `ok` does",
    ),
    (
        Kind::Counted,
        "status(ok = \"done\", timeout = \"done\")",
        "`timeout` would read `done`",
    ),
    (
        Kind::Counted,
        "status(ok = \"timeout\")",
        "rename `timeout` too",
    ),
    (
        Kind::Counted,
        "status(label = \"function\")",
        "`function` is set by obs",
    ),
    (
        Kind::Counted,
        "status(label = \"le\")",
        "reserved by Prometheus",
    ),
    (
        Kind::Counted,
        "status(label = \"status code\")",
        "not a valid label name",
    ),
    (
        Kind::Counted,
        "labels(code = \"x\"), status(label = \"code\")",
        "`code` is already a label of this metric",
    ),
    (
        Kind::Timed,
        "status(label = \"code\", ok = \"200\"), labels(code = req.code())",
        "`code` is already a label of this metric",
    ),
    (
        Kind::Counted,
        "status(ok = \"a\"), status(ok = \"b\")",
        "`status` is given twice",
    ),
    (
        Kind::InFlight,
        "status(ok = \"a\")",
        "#[in_flight] has no status label",
    ),
    (
        Kind::Traced,
        "status(ok = \"a\")",
        "span status, whose values are fixed",
    ),
    (
        Kind::Counted,
        "statsu(ok = \"a\")",
        "did you mean `status`?",
    ),
];

#[test]
fn says_what_to_write_about_status() {
    says(STATUS_CASES);
}

/// Attribute arguments that are wrong in every way a hand can make them.
const ODD_INPUTS: &[&str] = &[
    "",
    ",",
    ",,",
    "name",
    "name =",
    "name = ",
    "= 1",
    "=",
    "1",
    "\"name\"",
    "name = \"x_total\",",
    "name = \"x_total\",,",
    "name == \"x_total\"",
    "name = \"x_total\" \"y\"",
    "name = r\"x_total\"",
    "name = b\"x_total\"",
    "name = 'c'",
    "name = \"\"",
    "name = \"_\"",
    "name = \"é_total\"",
    "name = \"__\"",
    "name = \"_total\"",
    "name = \"_seconds\"",
    "name = \"_ms\"",
    "help",
    "help = help",
    "labels",
    "labels()",
    "labels(,)",
    "labels(=)",
    "labels(a =)",
    "labels(a = \"b\",,)",
    "labels(a = \"b\" c = \"d\")",
    "labels[a = \"b\"]",
    "labels = (a = \"b\")",
    "labels(r#le = \"x\")",
    "labels(é = \"x\")",
    "labels(self = \"x\")",
    "buckets",
    "buckets =",
    "buckets = []",
    "buckets = [,]",
    "buckets = [1,,2]",
    "buckets = [1 2]",
    "buckets = [1; 3]",
    "buckets = [-]",
    "buckets = [--1]",
    "buckets = [-(-1)]",
    "buckets = [0x10, 1_000, 1e3, 2.5e-3f32, 7u8]",
    "buckets = [1e309, -1e309, 0.0, -0.0]",
    "buckets = [(1)]",
    "buckets = [{1}]",
    "buckets = [1..2]",
    "buckets = {1}",
    "crate",
    "crate =",
    "crate = ",
    "crate = ::",
    "crate = a::",
    "crate = a::b<c>",
    "crate = self",
    "crate = crate::x",
    "crate(a)",
    "self",
    "super = 1",
    "r#name = \"x\"",
    "fn",
    "::name",
    "name::x = 1",
    "#name",
    "#[name]",
    "(name = \"x\")",
    "[name]",
    "{}",
    "level",
    "level =",
    "level = ::",
    "level = a::",
    "level = \"\"",
    "level = 'a",
    "skip",
    "skip()",
    "skip(,)",
    "skip(self)",
    "skip(a b)",
    "skip(a::b)",
    "skip = a",
    "skip_all",
    "skip_all()",
    "skip_all, skip(a)",
    "fields",
    "fields()",
    "fields(a = )",
    "fields = x",
    "fields[a = 1]",
    "status",
    "status()",
    "status(,)",
    "status(=)",
    "status(ok)",
    "status(ok =)",
    "status(ok = \"\")",
    "status(ok = ok)",
    "status(ok = \"a\" error = \"b\")",
    "status(ok = \"a\",, error = \"b\")",
    "status(r#ok = \"a\")",
    "status(label)",
    "status(label = \"\")",
    "status(label = \"__x\")",
    "status[ok = \"a\"]",
    "status = (ok = \"a\")",
    "err()",
    "err(,)",
    "err(level)",
    "err(level =)",
    "ret(field, field)",
    "parent = ,",
    "fields(a.)",
    "fields(.a)",
    "fields(%)",
    "fields(a = %)",
    "\"\"",
    "\"a\" \"b\"",
    "target = \"a\" b",
];

/// Odd token streams: each gives `Ok` or `Err`, never a panic.
#[test]
fn never_panics() {
    for kind in Kind::ALL {
        for input in ODD_INPUTS {
            let tokens = syn::parse_str::<TokenStream>(input).expect("the test input lexes");
            let result = std::panic::catch_unwind(|| Args::parse(kind, tokens).is_ok());
            assert!(result.is_ok(), "#[{}({input})] panicked", kind.name());
        }
    }
}
