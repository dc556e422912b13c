//! `url.full` as the semantic conventions ask it written: without the credentials a URL may
//! carry, so a span exported to a tracing backend does not leak them.

use core::fmt;

/// Query parameters whose values are secrets, as the conventions list them (signed URLs of
/// AWS, Azure and Google Cloud).
const SECRET_PARAMS: [&str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// A URL displayed with its user and password replaced by `REDACTED:REDACTED`, and the values
/// of [`SECRET_PARAMS`] by `REDACTED`. Formatted only when a subscriber records the field.
pub(super) struct Redacted<'a>(pub(super) &'a dyn fmt::Display);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0.to_string();
        f.write_str(&redact(&url))
    }
}

/// `url` without its credentials; the URL as it is when it has none.
fn redact(url: &str) -> std::borrow::Cow<'_, str> {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::new();
    let mut changed = false;
    // `scheme://user:pass@host/…`: the userinfo ends at the last `@` before the path.
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let authority_end = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |i| authority_start + i);
    match before_query[authority_start..authority_end].rfind('@') {
        Some(at) => {
            out.push_str(&before_query[..authority_start]);
            out.push_str("REDACTED:REDACTED");
            out.push_str(&before_query[authority_start + at..]);
            changed = true;
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((key, _)) if SECRET_PARAMS.contains(&key) => {
                    out.push_str(key);
                    out.push_str("=REDACTED");
                    changed = true;
                }
                _ => out.push_str(pair),
            }
        }
    }
    if changed { out.into() } else { url.into() }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credentials_and_signatures_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact("https://user:pa%40ss@api.example:8443/items?id=7"),
            "https://REDACTED:REDACTED@api.example:8443/items?id=7"
        );
        assert_eq!(
            redact("https://bucket.s3/o?AWSAccessKeyId=AK&Expires=9&Signature=abc"),
            "https://bucket.s3/o?AWSAccessKeyId=REDACTED&Expires=9&Signature=REDACTED"
        );
        assert_eq!(
            redact("http://127.0.0.1:80/a@b?sig=1&x"),
            "http://127.0.0.1:80/a@b?sig=REDACTED&x"
        );
        assert_eq!(redact("/orders/7?page=2"), "/orders/7?page=2");
        assert_eq!(redact("http://h/"), "http://h/");
    }
}
