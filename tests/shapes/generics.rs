//! 2. Generics, bounds, `where`, const generics, lifetimes.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

#[counted]
#[traced]
#[timed]
#[in_flight]
fn largest<T: PartialOrd + Copy, I>(items: I) -> Option<T>
where
    I: IntoIterator<Item = T>,
{
    let mut best = None;
    for item in items {
        if best.is_none_or(|b| item > b) {
            best = Some(item);
        }
    }
    best
}

#[traced]
#[in_flight]
#[counted]
#[timed]
fn sum_array<T, const N: usize>(values: [T; N]) -> T
where
    T: Copy + Default + std::ops::Add<Output = T>,
{
    values.iter().fold(T::default(), |acc, v| acc + *v)
}

#[counted]
#[timed]
#[in_flight]
#[traced]
fn first_n<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    bytes
        .get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("fewer than {N} bytes"))
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn longest<'a, 'b: 'a>(x: &'a str, y: &'b str) -> &'a str {
    if x.len() >= y.len() { x } else { y }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or(s)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn chars_of(s: &str) -> std::str::Chars<'_> {
    s.chars()
}

#[test]
fn generics_const_generics_and_lifetimes() {
    setup();
    assert_eq!(largest([3, 9, 2]), Some(9));
    assert_eq!(largest(vec!["b", "a"]), Some("b"));
    assert_eq!(largest(Vec::<f64>::new()), None);
    assert_eq!(sum_array([1, 2, 3]), 6);
    assert!((sum_array([0.5f64, 0.25]) - 0.75).abs() < f64::EPSILON);
    assert_eq!(first_n::<2>(b"abc"), Ok(*b"ab"));
    assert_eq!(first_n::<4>(b"abc"), Err("fewer than 4 bytes".to_owned()));
    let long = String::from("longer");
    assert_eq!(longest(&long, "short"), "longer");
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(chars_of("ab").count(), 2);
    // One site per fn, whatever the type arguments.
    assert_calls("largest", &[("ok", 3)]);
    assert_calls("sum_array", &[("ok", 2)]);
    assert_calls("first_n", &[("ok", 1), ("error", 1)]);
    assert_calls("longest", &[("ok", 1)]);
    assert_calls("first_word", &[("ok", 1)]);
    assert_calls("chars_of", &[("ok", 1)]);
}
