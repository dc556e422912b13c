//! 6. `#[cfg]` on a parameter; raw identifiers; `_` and `_x` parameters.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

#[traced]
#[counted]
#[timed]
#[in_flight]
fn cfg_param(#[cfg(not(test))] gone: u8, #[cfg(test)] kept: u8, plain: u8) -> u8 {
    kept + plain
}

#[in_flight]
#[traced]
#[timed]
#[counted]
fn r#match(r#type: &str, r#fn: usize) -> usize {
    r#type.len() + r#fn
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn underscores(_: u8, _unused: &str, used: u8) -> u8 {
    used
}

#[test]
fn cfg_raw_identifiers_and_underscores() {
    setup();
    assert_eq!(cfg_param(1, 2), 3);
    assert_eq!(r#match("abc", 1), 4);
    assert_eq!(underscores(1, "x", 3), 3);
    assert_calls("cfg_param", &[("ok", 1)]);
    assert_calls("match", &[("ok", 1)]);
    assert_calls("underscores", &[("ok", 1)]);
}
