//! Label values from the call: arbitrary `Display` output through the escaper of the page.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The family the labelled function records into.
const FAMILY: &str = "fuzz_label_calls_total";

/// Calls made to [`record`] in this process.
static CALLS: AtomicU64 = AtomicU64::new(0);

#[obs_runtime::counted(name = "fuzz_label_calls_total", labels(v = value))]
fn record(value: String) {
    drop(value);
}

/// Arbitrary text as the value of a label from the call, then a render of the page parsed
/// back: the series of that value is on the page with the value unescaped equal to the
/// input, or (past the series limit) the value counts under `__overflow__`; and the family's
/// counts add up to every call made, exactly.
///
/// Series are never freed, so a long run checks the round trip for the first
/// [`obs_runtime::series_limit`] distinct values (1,000 by default) and the overflow
/// accounting for the rest.
pub fn labels(data: &[u8]) {
    let value = String::from_utf8_lossy(data).into_owned();
    record(value.clone());
    let calls = CALLS.fetch_add(1, Relaxed) + 1;

    let page = obs_runtime::render();
    let mut total = 0;
    let mut found = false;
    let mut overflow = false;
    for line in page.split('\n') {
        let Some(rest) = line.strip_prefix(FAMILY).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let (labels, count) = parse_series(rest).unwrap_or_else(|| panic!("bad line {line:?}"));
        let v = labels
            .iter()
            .find(|(key, _)| key == "v")
            .map(|(_, v)| v.as_str());
        found |= v == Some(value.as_str());
        overflow |= v == Some(obs_runtime::OVERFLOW);
        total += count;
    }
    assert!(
        found || overflow,
        "the series of {value:?} is not on the page:\n{page}"
    );
    assert_eq!(total, calls, "the family's counts add up to every call");
}

/// Parses `key="value",…} count` (what follows the family name and `{`) into the unescaped
/// labels and the count, as a Prometheus scraper reads them.
fn parse_series(mut rest: &str) -> Option<(Vec<(String, String)>, u64)> {
    let mut labels = Vec::new();
    loop {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    _ => return None,
                },
                (_, '\n') => return None,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.to_owned(), value));
        rest = &after[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else {
            let count = rest.strip_prefix("} ")?;
            return Some((labels, count.parse().ok()?));
        }
    }
}
