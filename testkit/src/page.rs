//! The one reader of the Prometheus text exposition format (0.0.4) the tests use.
//!
//! [`Page::parse`] reads every line of a `/metrics` page or panics naming the first it cannot:
//! a sample `name{key="value",…} value [timestamp]`, a `# HELP name text`, a `# TYPE name
//! kind`, another comment, or a blank line. On the way it rejects what the format forbids and
//! a hand-rolled `split` would let through: a bad name, an unknown escape, a label given twice,
//! the same series twice, a second `HELP` or `TYPE` for a name, a `TYPE` after its samples.
//!
//! The lookups then say what a test asserts: [`Page::value`] of one series, its labels given
//! in the order the page renders them (so the order is checked too); [`Page::series`] for every
//! series that has some labels, in any order; [`Page::sum`] over those.

use std::collections::HashSet;
use std::fmt;

/// A parsed page. Displays as the text it was parsed from, for assertion messages.
#[derive(Debug, Clone)]
pub struct Page {
    text: String,
    families: Vec<Family>,
    samples: Vec<Sample>,
}

/// What the `# HELP` and `# TYPE` lines say about one metric name.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name, as the `HELP` or `TYPE` line writes it.
    pub name: String,
    /// The help text, unescaped.
    pub help: Option<String>,
    /// `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    pub kind: Option<String>,
    /// The line (from 1) of its first `HELP` or `TYPE`.
    pub line: usize,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The name as written, suffix included: `function_duration_seconds_bucket`.
    pub name: String,
    /// The labels in the order the page renders them, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value, read as a float.
    pub value: f64,
    /// The value as written, e.g. `3`, `0.25` or `+Inf`.
    pub text: String,
    /// The timestamp in milliseconds, when the line has one.
    pub timestamp: Option<i64>,
    /// The line (from 1).
    pub line: usize,
}

/// Why a page does not parse: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The line (from 1).
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl Page {
    /// Parses `text`.
    ///
    /// # Panics
    ///
    /// With the first line that is not in the format, and why.
    #[track_caller]
    pub fn parse(text: &str) -> Page {
        Page::try_parse(text).unwrap_or_else(|e| {
            let line = text.lines().nth(e.line - 1).unwrap_or("");
            panic!("not the exposition format, {e}\n{line}")
        })
    }

    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// The first line that is not in the format, and why.
    pub fn try_parse(text: &str) -> Result<Page, ParseError> {
        let mut families: Vec<Family> = Vec::new();
        let mut samples: Vec<Sample> = Vec::new();
        let mut seen: HashSet<(String, Vec<(String, String)>)> = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let at = i + 1;
            let fail = |message: String| ParseError { line: at, message };
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                check_metric_name(name).map_err(fail)?;
                let help = unescape_help(help).map_err(fail)?;
                let family = family_entry(&mut families, name, at);
                if family.help.replace(help).is_some() {
                    return Err(fail(format!("a second HELP for {name}")));
                }
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| fail("TYPE without a kind".to_owned()))?;
                check_metric_name(name).map_err(fail)?;
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(fail(format!("unknown TYPE {kind:?} for {name}")));
                }
                if let Some(sample) = samples.iter().find(|s| of_family(&s.name, name)) {
                    return Err(fail(format!(
                        "TYPE of {name} after its sample on line {}",
                        sample.line
                    )));
                }
                let family = family_entry(&mut families, name, at);
                if family.kind.replace(kind.to_owned()).is_some() {
                    return Err(fail(format!("a second TYPE for {name}")));
                }
            } else if line.starts_with('#') {
                // Another comment: allowed, and nothing to read.
            } else {
                let sample = parse_sample(line, at).map_err(fail)?;
                if !seen.insert((sample.name.clone(), sample.labels.clone())) {
                    return Err(fail(format!("the series {line:?} is on the page twice")));
                }
                samples.push(sample);
            }
        }
        Ok(Page {
            text: text.to_owned(),
            families,
            samples,
        })
    }

    /// The text the page was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every sample, in page order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Every family with a `HELP` or a `TYPE`, in page order.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// The family `name` (without a sample suffix such as `_bucket`).
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The `# TYPE` of `name`.
    pub fn kind(&self, name: &str) -> Option<&str> {
        self.family(name)?.kind.as_deref()
    }

    /// The sample `name` whose labels are exactly `labels`, in this order.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels_are(labels))
    }

    /// The value of `name{labels}`: its labels exactly `labels`, in this order.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.get(name, labels).map(|s| s.value)
    }

    /// The value of `series`, written as the page writes it: `name` or `name{key="value",…}`,
    /// its labels exactly these, in this order.
    ///
    /// # Panics
    ///
    /// If `series` itself is not in the format.
    #[track_caller]
    pub fn value_of(&self, series: &str) -> Option<f64> {
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("no closing brace in {series:?}"));
                let labels = parse_labels(labels).unwrap_or_else(|e| panic!("{series:?}: {e}"));
                (name, labels)
            }
            None => (series, Vec::new()),
        };
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.value(name, &labels)
    }

    /// Every sample `name` that has all of `labels`, in any order, among others.
    pub fn series<'p: 'q, 'q>(
        &'p self,
        name: &'q str,
        labels: &'q [(&'q str, &'q str)],
    ) -> impl Iterator<Item = &'p Sample> + 'q {
        self.samples
            .iter()
            .filter(move |s| s.name == name && s.has(labels))
    }

    /// The sum of the values of [`Page::series`].
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series(name, labels).map(|s| s.value).sum()
    }
}

impl fmt::Display for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Sample {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The labels as `(&str, &str)`, in page order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether it has every label of `want`, in any order.
    pub fn has(&self, want: &[(&str, &str)]) -> bool {
        want.iter().all(|(k, v)| self.label(k) == Some(*v))
    }

    /// Whether its labels are exactly `want`, in this order.
    pub fn labels_are(&self, want: &[(&str, &str)]) -> bool {
        self.labels.len() == want.len() && self.pairs().eq(want.iter().copied())
    }

    /// The value as a count.
    ///
    /// # Panics
    ///
    /// Unless it is written as a whole number.
    #[track_caller]
    pub fn count(&self) -> u64 {
        self.text
            .parse()
            .unwrap_or_else(|_| panic!("line {}: {} is not a count", self.line, self.text))
    }

    /// The value as a whole number that may be negative (a gauge).
    ///
    /// # Panics
    ///
    /// Unless it is written as a whole number.
    #[track_caller]
    pub fn integer(&self) -> i64 {
        self.text
            .parse()
            .unwrap_or_else(|_| panic!("line {}: {} is not an integer", self.line, self.text))
    }
}

/// `key="value",…` as rendered between the braces, values unescaped (`\\`, `\"`, `\n`).
///
/// # Errors
///
/// What is not a label: a bad name, an unknown escape, an unclosed value, a name twice.
pub fn parse_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("not key=\"value\": {rest:?}"))?;
        check_label_name(key)?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("no closing quote for {key}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => {
                        return Err(format!(
                            "unknown escape \\{} in {key}",
                            other.map_or(String::new(), |(_, c)| c.to_string())
                        ));
                    }
                },
                Some((_, '\n')) => return Err(format!("a raw newline in {key}")),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _)| k == key) {
            return Err(format!("label {key} given twice"));
        }
        labels.push((key.to_owned(), value));
        rest = &after[end + 1..];
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None if rest.is_empty() => {}
            None => return Err(format!("no comma after {key}: {rest:?}")),
        }
    }
    Ok(labels)
}

/// `name{labels} value [timestamp]`, single spaces as obs renders it.
fn parse_sample(line: &str, at: usize) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let (labels, rest) = if line[name_end..].starts_with('{') {
        let close = closing_brace(&line[name_end + 1..])
            .ok_or_else(|| format!("no closing brace: {line:?}"))?;
        let inside = &line[name_end + 1..name_end + 1 + close];
        (parse_labels(inside)?, &line[name_end + 1 + close + 1..])
    } else {
        (Vec::new(), &line[name_end..])
    };
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value: {line:?}"))?;
    let (text, timestamp) = match rest.split_once(' ') {
        Some((value, ts)) => {
            let ts = ts.parse().map_err(|_| format!("bad timestamp {ts:?}"))?;
            (value, Some(ts))
        }
        None => (rest, None),
    };
    let value = parse_value(text)?;
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
        text: text.to_owned(),
        timestamp,
        line: at,
    })
}

/// The index of the `}` that closes the labels, skipping quoted values.
fn closing_brace(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// A float as Go's `ParseFloat` reads it, which is what Prometheus uses.
fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) =>
        {
            text.parse().map_err(|_| format!("not a number: {text:?}"))
        }
        _ => Err(format!("not a number: {text:?}")),
    }
}

/// `# HELP` text: `\\` and `\n` are its only escapes.
fn unescape_help(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => return Err(format!("unknown escape in HELP: \\{other:?}")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok {
        Ok(())
    } else {
        Err(format!("not a metric name: {name:?}"))
    }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("not a label name: {name:?}"))
    }
}

/// Whether a sample named `sample` belongs to family `family`.
fn of_family(sample: &str, family: &str) -> bool {
    sample
        .strip_prefix(family)
        .is_some_and(|suffix| ["", "_bucket", "_count", "_sum"].contains(&suffix))
}

fn family_entry<'a>(families: &'a mut Vec<Family>, name: &str, line: usize) -> &'a mut Family {
    if let Some(at) = families.iter().position(|f| f.name == name) {
        return &mut families[at];
    }
    families.push(Family {
        name: name.to_owned(),
        help: None,
        kind: None,
        line,
    });
    families.last_mut().expect("just pushed")
}
