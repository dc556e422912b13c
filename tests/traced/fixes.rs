//! What `#[traced]` records of the arguments: typed values, destructured bindings, `self`, and
//! a field that replaces an argument.

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use obs_runtime::traced;

use super::{capture_all, field};

#[allow(clippy::too_many_arguments)]
#[traced]
fn typed(a: i32, b: u64, c: f64, d: bool, e: &str, f: String, g: &u8, h: usize, i: Option<u8>) {
    let _ = (a, b, c, d, e, f, g, h, i);
}

#[test]
fn numbers_bools_and_strings_are_recorded_as_their_types() {
    let c = capture_all(|| typed(-3, 4, 1.5, true, "x", "y".to_owned(), &5, 6, Some(7)));
    let span = &c.spans[0];
    let types: Vec<(&str, &str)> = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        .into_iter()
        .map(|k| (k, span.types[k]))
        .collect();
    assert_eq!(
        types,
        [
            ("a", "i64"),
            ("b", "u64"),
            ("c", "f64"),
            ("d", "bool"),
            ("e", "str"),
            ("f", "str"),
            ("g", "u64"),
            ("h", "u64"),
            // Other `Debug` types as before.
            ("i", "debug"),
        ]
    );
    assert_eq!(field(span, "a"), Some("-3"));
    assert_eq!(field(span, "e"), Some("x"));
    assert_eq!(field(span, "i"), Some("Some(7)"));
}

#[derive(Debug)]
struct Pair(u32, u32);

#[derive(Debug)]
struct Named {
    bar: u32,
    baz: u32,
}

#[traced]
fn tuple((a, b): (usize, usize)) -> usize {
    a + b
}

#[traced]
fn by_ref(&x: &usize) -> usize {
    x
}

#[traced(skip(b))]
fn tuple_struct(Pair(a, b): Pair) -> u32 {
    a + b
}

#[traced]
fn braced(Named { bar: a, .. }: Named) -> u32 {
    a
}

#[traced]
async fn tuple_async((a, b): (u8, u8)) -> u8 {
    a + b
}

#[test]
fn destructured_arguments_record_each_bound_name() {
    let c = capture_all(|| {
        tuple((1, 2));
        by_ref(&3);
        tuple_struct(Pair(4, 5));
        braced(Named { bar: 6, baz: 7 });
        futures_executor::block_on(tuple_async((8, 9)));
    });
    let fields = |name: &str| -> Vec<(String, String)> {
        c.span(name)
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(fields("tuple"), pairs(&[("a", "1"), ("b", "2")]));
    assert_eq!(fields("by_ref"), pairs(&[("x", "3")]));
    assert_eq!(fields("tuple_struct"), pairs(&[("a", "4")]), "b is skipped");
    assert_eq!(fields("braced"), pairs(&[("a", "6")]));
    assert_eq!(fields("tuple_async"), pairs(&[("a", "8"), ("b", "9")]));
    let _ = Named { bar: 0, baz: 0 }.baz;
}

#[derive(Debug, Clone)]
struct Account {
    id: u32,
}

impl Account {
    #[traced]
    fn by_ref(&self) -> u32 {
        self.id
    }

    #[traced]
    fn by_mut(&mut self) -> u32 {
        self.id
    }

    #[traced]
    fn by_value(self) -> u32 {
        self.id
    }

    #[traced]
    fn boxed(self: Box<Self>) -> u32 {
        self.id
    }

    #[traced]
    fn rc(self: Rc<Self>) -> u32 {
        self.id
    }

    #[traced]
    fn arc(self: Arc<Self>) -> u32 {
        self.id
    }

    #[traced]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.id
    }

    #[traced]
    async fn by_ref_async(&self) -> u32 {
        self.id
    }

    #[traced(skip(self))]
    fn skipped(&self) -> u32 {
        self.id
    }
}

#[test]
fn self_is_recorded_when_debug_for_every_receiver() {
    let c = capture_all(|| {
        let mut a = Account { id: 1 };
        a.by_ref();
        a.by_mut();
        a.clone().by_value();
        Box::new(a.clone()).boxed();
        Rc::new(a.clone()).rc();
        Arc::new(a.clone()).arc();
        Pin::new(&mut a).pinned();
        futures_executor::block_on(a.by_ref_async());
        a.skipped();
    });
    for name in [
        "by_ref",
        "by_mut",
        "by_value",
        "boxed",
        "rc",
        "arc",
        "pinned",
        "by_ref_async",
    ] {
        assert_eq!(
            field(c.span(name), "self"),
            Some("Account { id: 1 }"),
            "{name}"
        );
    }
    assert_eq!(field(c.span("skipped"), "self"), None);
}

#[traced(fields(s = s.len()))]
fn replaced(s: &str) -> usize {
    s.len()
}

#[test]
fn a_field_named_as_an_argument_replaces_its_value() {
    let c = capture_all(|| {
        replaced("abc");
    });
    let span = &c.spans[0];
    assert_eq!(field(span, "s"), Some("3"));
    assert_eq!(span.types["s"], "u64");
    // One `s`: the span's field set names it once.
    let metadata_fields = span.fields.keys().filter(|k| *k == "s").count();
    assert_eq!(metadata_fields, 1);
}
