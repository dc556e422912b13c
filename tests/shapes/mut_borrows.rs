//! 9. Returning a borrow of a `&mut` argument.

use obs_runtime::{counted, in_flight, timed, traced};

use crate::destructuring::Point;
use crate::harness::{assert_calls, setup};

#[traced]
#[counted]
#[timed]
#[in_flight]
fn bump(x: &mut u8) -> &mut u8 {
    *x += 1;
    x
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn field_of(p: &mut Point) -> &mut i32 {
    &mut p.x
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn slot(values: &mut [u8], i: usize) -> Result<&mut u8, String> {
    values.get_mut(i).ok_or_else(|| format!("no slot {i}"))
}

#[traced]
#[counted]
#[timed]
#[in_flight]
fn longest_mut<'a>(a: &'a mut String, b: &'a mut String) -> &'a mut String {
    if a.len() >= b.len() { a } else { b }
}

#[test]
fn borrows_of_mut_arguments() {
    setup();
    let mut x = 1;
    *bump(&mut x) += 10;
    assert_eq!(x, 12);
    let mut p = Point { x: 1, y: 2, z: 3 };
    *field_of(&mut p) = 9;
    assert_eq!(p.x, 9);
    let mut values = [0, 0];
    *slot(&mut values, 1).unwrap() = 5;
    assert_eq!(values, [0, 5]);
    assert!(slot(&mut values, 2).is_err());
    let (mut a, mut b) = ("ab".to_owned(), "c".to_owned());
    longest_mut(&mut a, &mut b).push('!');
    assert_eq!(a, "ab!");
    assert_calls("bump", &[("ok", 1)]);
    assert_calls("field_of", &[("ok", 1)]);
    assert_calls("slot", &[("ok", 1), ("error", 1)]);
    assert_calls("longest_mut", &[("ok", 1)]);
}
