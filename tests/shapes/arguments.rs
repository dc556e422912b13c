//! 1. No args, many args, args that are not `Debug`.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

/// Not `Debug`: `#[traced]` must leave it out, not fail to compile.
struct Opaque(u32);

#[traced]
#[counted]
#[timed]
#[in_flight]
fn no_args() -> u8 {
    7
}

#[in_flight]
#[timed]
#[counted]
#[traced]
#[expect(
    clippy::too_many_arguments,
    reason = "many arguments is the shape under test"
)]
fn many_args(
    a: u8,
    b: u16,
    c: u32,
    d: &str,
    e: String,
    f: Vec<u8>,
    g: Option<char>,
    h: (u8, u8),
) -> u64 {
    let owned = e + d;
    u64::from(a)
        + u64::from(b)
        + u64::from(c)
        + owned.len() as u64
        + f.into_iter().map(u64::from).sum::<u64>()
        + u64::from(g.is_some())
        + u64::from(h.0)
        + u64::from(h.1)
}

#[timed]
#[traced]
#[in_flight]
#[counted]
fn not_debug(by_value: Opaque, by_ref: &Opaque, mut by_mut: Opaque) -> u32 {
    by_mut.0 += 1;
    by_value.0 + by_ref.0 + by_mut.0
}

#[test]
fn arguments_none_many_and_not_debug() {
    setup();
    assert_eq!(no_args(), 7);
    assert_eq!(no_args(), 7);
    assert_eq!(
        many_args(1, 2, 3, "de", "e".to_owned(), vec![4, 5], Some('g'), (6, 7)),
        32
    );
    assert_eq!(not_debug(Opaque(1), &Opaque(2), Opaque(3)), 7);
    assert_calls("no_args", &[("ok", 2)]);
    assert_calls("many_args", &[("ok", 1)]);
    assert_calls("not_debug", &[("ok", 1)]);
}
