//! 12. Other attributes, in any order.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

/// Doc before.
#[must_use]
#[counted]
#[inline]
/// Doc in between.
#[timed]
#[in_flight]
#[traced]
/// Doc after.
fn decorated(x: u8) -> u8 {
    x + 1
}

#[inline(always)]
#[traced]
#[cold]
#[counted]
#[expect(unused_variables, reason = "the body declares one on purpose")]
#[timed]
#[in_flight]
fn expects_a_lint(x: u8) -> u8 {
    let unused = x;
    x
}

#[test]
fn other_attributes_in_any_order() {
    setup();
    assert_eq!(decorated(1), 2);
    assert_eq!(expects_a_lint(3), 3);
    assert_calls("decorated", &[("ok", 1)]);
    assert_calls("expects_a_lint", &[("ok", 1)]);
}
