//! Scrape credentials: bearer token or HTTP basic auth, compared in constant time.

/// Credentials a scraper must present for `/metrics` and `/obs/*`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No credentials needed.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic <base64(user:password)>`, kept encoded.
    Basic(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(..)",
            Auth::Basic(_) => "Basic(..)",
        })
    }
}

impl Auth {
    /// `user:password` for basic auth.
    pub(crate) fn basic(user_password: &str) -> Auth {
        Auth::Basic(base64(user_password.as_bytes()))
    }

    pub(super) fn allows(&self, authorization: Option<&str>) -> bool {
        let (scheme, expected) = match self {
            Auth::None => return true,
            Auth::Bearer(token) => ("Bearer", token),
            Auth::Basic(encoded) => ("Basic", encoded),
        };
        let Some(given) = authorization.map(str::trim) else {
            return false;
        };
        let Some((given_scheme, given_value)) = given.split_once(' ') else {
            return false;
        };
        given_scheme.eq_ignore_ascii_case(scheme)
            && constant_time_eq(given_value.trim().as_bytes(), expected.as_bytes())
    }

    pub(super) fn challenge(&self) -> &'static str {
        match self {
            Auth::Basic(_) => "Basic realm=\"obs\"",
            _ => "Bearer realm=\"obs\"",
        }
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was
/// right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn auth_checks_scheme_and_secret() {
        let bearer = Auth::Bearer("s3cret".into());
        assert!(bearer.allows(Some("Bearer s3cret")));
        assert!(bearer.allows(Some("bearer s3cret")));
        assert!(!bearer.allows(Some("Bearer s3cre")));
        assert!(!bearer.allows(Some("Bearer s3cret2")));
        assert!(!bearer.allows(Some("Basic s3cret")));
        assert!(!bearer.allows(None));
        let basic = Auth::basic("prom:pa ss");
        assert!(basic.allows(Some("Basic cHJvbTpwYSBzcw==")));
        assert!(!basic.allows(Some("Basic cHJvbTpwYXNz")));
        assert!(Auth::None.allows(None));
        assert_eq!(format!("{bearer:?}"), "Bearer(..)");
    }
}
