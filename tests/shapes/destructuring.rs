//! 7. Destructured parameters.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::harness::{assert_calls, setup};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub(crate) x: i32,
    pub(crate) y: i32,
    pub(crate) z: i32,
}

struct Meters(f64);

#[traced]
#[counted]
#[timed]
#[in_flight]
fn tuple_param((a, b): (i32, i32)) -> i32 {
    a * b
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn struct_param(Point { x: px, y, .. }: Point) -> i32 {
    px + y
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn tuple_struct_param(Meters(m): Meters) -> f64 {
    m * 2.0
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn ref_pattern_param(&x: &i32) -> i32 {
    x + 1
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn mut_param(mut x: i32) -> i32 {
    x *= 3;
    x
}

#[traced]
#[counted]
#[timed]
#[in_flight]
#[expect(
    clippy::toplevel_ref_arg,
    reason = "`ref` on a parameter is the shape under test"
)]
fn ref_binding_param(ref s: String) -> usize {
    s.len()
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn nested_pattern_param((Point { z, .. }, [first, .., last]): (Point, [u8; 3])) -> i32 {
    z + i32::from(first) + i32::from(last)
}

#[test]
fn destructured_parameters() {
    setup();
    let p = Point { x: 1, y: 2, z: 3 };
    assert_eq!(tuple_param((2, 5)), 10);
    assert_eq!(struct_param(p), 3);
    assert!((tuple_struct_param(Meters(1.5)) - 3.0).abs() < f64::EPSILON);
    assert_eq!(ref_pattern_param(&4), 5);
    assert_eq!(mut_param(2), 6);
    assert_eq!(ref_binding_param("four".to_owned()), 4);
    assert_eq!(nested_pattern_param((p, [1, 2, 3])), 7);
    for f in [
        "tuple_param",
        "struct_param",
        "tuple_struct_param",
        "ref_pattern_param",
        "mut_param",
        "ref_binding_param",
        "nested_pattern_param",
    ] {
        assert_calls(f, &[("ok", 1)]);
    }
}
