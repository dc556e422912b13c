//! A body's inner attributes (`#![allow(..)]`) still apply after the attributes expand: on a
//! wrapped fn, on a wrapped method, and on a `const fn` method an impl-level attribute leaves
//! as written. Any of them lost turns the unused variable below into an error.
#![deny(warnings)]

use obs_runtime::{counted, timed};

#[counted]
fn wrapped() {
    #![allow(unused_variables)]
    let unused = 1;
}

struct Shop;

#[counted]
#[timed]
impl Shop {
    fn method(&self) {
        #![allow(unused_variables)]
        let unused = 1;
    }

    const fn left_alone() -> u8 {
        #![allow(unused_variables)]
        let unused = 1;
        2
    }
}

fn main() {
    wrapped();
    Shop.method();
    assert_eq!(Shop::left_alone(), 2);
}
