//! 8. Early `return`, `?`, `let … else`, recursion, nested fns and `macro_rules!`, inner attributes.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

#[derive(Debug, PartialEq)]
enum ParseError {
    Negative,
    Odd(i64),
    Bad(std::num::ParseIntError),
}

impl From<std::num::ParseIntError> for ParseError {
    fn from(e: std::num::ParseIntError) -> Self {
        ParseError::Bad(e)
    }
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn half_of(s: &str) -> Result<i64, ParseError> {
    let n: i64 = s.trim().parse()?; // `?` converts with `From`
    if n < 0 {
        return Err(ParseError::Negative);
    }
    let Some(half) = (n % 2 == 0).then_some(n / 2) else {
        return Err(ParseError::Odd(n));
    };
    Ok(half)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn first_char_code(s: &str) -> Option<u32> {
    let c = s.chars().next()?;
    Some(u32::from(c))
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn boxed_error(s: &str) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    Ok(s.parse()?)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn collected(n: u8) -> Vec<u8> {
    (0..n).collect()
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn into_string(s: &str) -> String {
    s.into()
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn fib(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    fib(n - 1) + fib(n - 2)
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn with_items(n: u32) -> u32 {
    #![allow(clippy::items_after_statements)]
    let start = n;
    fn double(x: u32) -> u32 {
        x * 2
    }
    macro_rules! triple {
        ($e:expr) => {
            $e * 3
        };
    }
    const OFFSET: u32 = 1;
    struct Local(u32);
    impl Local {
        fn get(&self) -> u32 {
            self.0
        }
    }
    triple!(double(start)) + OFFSET + Local(0).get()
}

#[test]
fn bodies_return_try_let_else_recursion_items() {
    setup();
    assert_eq!(half_of("8"), Ok(4));
    assert_eq!(half_of("-2"), Err(ParseError::Negative));
    assert_eq!(half_of("3"), Err(ParseError::Odd(3)));
    assert!(matches!(half_of("x"), Err(ParseError::Bad(_))));
    assert_eq!(first_char_code("A"), Some(65));
    assert_eq!(first_char_code(""), None); // `None` is a value, not an error
    assert_eq!(boxed_error("7").ok(), Some(7));
    assert!(boxed_error("700").is_err());
    assert_eq!(collected(3), [0, 1, 2]);
    assert_eq!(into_string("s"), "s");
    assert_eq!(fib(5), 5); // 15 calls
    assert_eq!(with_items(2), 13);
    assert_calls("half_of", &[("ok", 1), ("error", 3)]);
    assert_calls("first_char_code", &[("ok", 2)]);
    assert_calls("boxed_error", &[("ok", 1), ("error", 1)]);
    assert_calls("collected", &[("ok", 1)]);
    assert_calls("into_string", &[("ok", 1)]);
    assert_calls("fib", &[("ok", 15)]);
    assert_calls("with_items", &[("ok", 1)]);
}
