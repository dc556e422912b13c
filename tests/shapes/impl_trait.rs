//! 3. `impl Trait` arguments; returning `impl Iterator + 'a`, a closure, `Result<impl Trait, E>`.

use std::fmt::Display;

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

#[traced]
#[counted]
#[timed]
#[in_flight]
fn apply_all(items: impl IntoIterator<Item = u32>, f: impl Fn(u32) -> u32) -> u32 {
    items.into_iter().map(f).sum()
}

#[in_flight]
#[counted]
#[traced]
#[timed]
fn evens<'a>(values: &'a [u32]) -> impl Iterator<Item = &'a u32> + 'a {
    values.iter().filter(|v| *v % 2 == 0)
}

#[timed]
#[counted]
#[in_flight]
#[traced]
fn adder(n: u32) -> impl Fn(u32) -> u32 {
    move |x| x + n
}

#[counted]
#[in_flight]
#[timed]
#[traced]
fn parse_display(s: &str) -> Result<impl Display + use<>, String> {
    s.parse::<u32>().map_err(|e| e.to_string())
}

#[test]
fn impl_trait_arguments_and_returns() {
    setup();
    assert_eq!(apply_all([1, 2], |x| x * 10), 30);
    assert_eq!(evens(&[1, 2, 3, 4]).copied().collect::<Vec<_>>(), [2, 4]);
    let add2 = adder(2);
    assert_eq!(add2(3), 5);
    assert_eq!(
        parse_display("12").map(|d| d.to_string()),
        Ok("12".to_owned())
    );
    assert!(parse_display("x").is_err());
    assert_calls("apply_all", &[("ok", 1)]);
    assert_calls("evens", &[("ok", 1)]);
    assert_calls("adder", &[("ok", 1)]);
    assert_calls("parse_display", &[("ok", 1), ("error", 1)]);
}
