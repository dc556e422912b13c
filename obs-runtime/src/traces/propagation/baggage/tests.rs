//! W3C Baggage: the header read and written within the specification's limits.

use super::*;

fn parse(values: &[&str]) -> Baggage {
    Baggage::parse(values)
}

#[test]
fn baggage_members_are_read_with_white_space_and_properties() {
    let b = parse(&["userId=alice, serverNode = DF%2028 ,isProduction=false;ttl=3;secret"]);
    assert_eq!(b.get("userId"), Some("alice"));
    assert_eq!(b.get("serverNode"), Some("DF 28"), "percent-decoded");
    assert_eq!(b.get("isProduction"), Some("false"));
    assert_eq!(b.properties("isProduction"), Some("ttl=3;secret"));
    assert_eq!(b.len(), 3);
}

#[test]
fn baggage_headers_are_one_list_and_a_later_key_wins() {
    let b = parse(&["a=1,b=2", "c=3,a=4"]);
    assert_eq!(
        b.iter().collect::<Vec<_>>(),
        [("b", "2"), ("c", "3"), ("a", "4")]
    );
}

#[test]
fn baggage_invalid_members_are_skipped() {
    let b = parse(&["ok=1,no-equals,bad key=2,q=\"x\",pct=%zz,=3,fine=2"]);
    assert_eq!(b.iter().collect::<Vec<_>>(), [("ok", "1"), ("fine", "2")]);
}

#[test]
fn baggage_at_most_64_members() {
    let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
    let b = parse(&[&many.join(",")]);
    assert_eq!(b.len(), 64);
    assert_eq!(b.get("k63"), Some("v"));
    assert_eq!(b.get("k64"), None);
    // And no more are written.
    let mut big = Baggage::new();
    for i in 0..70 {
        big = big.with(format!("k{i}"), "v");
    }
    assert_eq!(big.header().unwrap().split(',').count(), 64);
}

#[test]
fn baggage_at_most_8192_bytes() {
    let value = "v".repeat(1000);
    let members: Vec<String> = (0..10).map(|i| format!("k{i}={value}")).collect();
    let b = parse(&[&members.join(",")]);
    assert_eq!(b.len(), 8, "8 members of 1003 bytes fit, a ninth would not");
    let mut big = Baggage::new();
    for i in 0..10 {
        big = big.with(format!("k{i}"), value.clone());
    }
    let header = big.header().unwrap();
    assert!(header.len() <= 8192, "{}", header.len());
    assert_eq!(header.split(',').count(), 8, "whole members only");
}

#[test]
fn baggage_values_are_percent_encoded_when_written() {
    let b = Baggage::new()
        .with("tenant.id", "acme corp")
        .with("q", "a,b;c=\"d\"\\%é");
    let header = b.header().unwrap();
    assert_eq!(
        header,
        "tenant.id=acme%20corp,q=a%2Cb%3Bc=%22d%22%5C%25%C3%A9"
    );
    assert_eq!(parse(&[&header]), b, "what is written reads back the same");
}

#[test]
fn baggage_properties_are_passed_on() {
    let b = parse(&["k=v;ttl=3"]);
    assert_eq!(b.header().as_deref(), Some("k=v;ttl=3"));
}

#[test]
fn baggage_keys_that_are_not_tokens_are_not_written() {
    let b = Baggage::new().with("bad key", "1").with("good", "2");
    assert_eq!(b.header().as_deref(), Some("good=2"));
}

#[test]
fn baggage_with_replaces_and_without_removes() {
    let b = Baggage::new().with("a", "1").with("b", "2").with("a", "3");
    assert_eq!(b.iter().collect::<Vec<_>>(), [("b", "2"), ("a", "3")]);
    let b = b.without("b");
    assert_eq!(b.iter().collect::<Vec<_>>(), [("a", "3")]);
    assert!(b.without("a").is_empty());
}

#[test]
fn baggage_scopes_nest_and_end() {
    let outer = Baggage::new().with("a", "1");
    outer.in_scope(|| {
        super::super::baggage().with("b", "2").in_scope(|| {
            let now = super::super::baggage();
            assert_eq!((now.get("a"), now.get("b")), (Some("1"), Some("2")));
        });
        assert_eq!(super::super::baggage().get("b"), None);
    });
    assert!(super::super::baggage().is_empty());
    let polled =
        futures_executor::block_on(outer.instrument(async { super::super::baggage().len() }));
    assert_eq!(polled, 1);
}

#[test]
fn baggage_attribute_keys_are_tokens() {
    assert_eq!(
        parse_attribute_keys(" tenant.id, user.tier ,"),
        Ok(vec!["tenant.id".to_owned(), "user.tier".to_owned()])
    );
    let err = parse_attribute_keys("tenant id").unwrap_err();
    assert!(err.contains("tenant id"), "{err}");
}
