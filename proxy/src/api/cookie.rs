//! The instance cookie that a `?tkn=` link is exchanged for, and taking `tkn` out
//! of a query string.

use http::header::HeaderMap;
use percent_encoding::percent_decode_str;

/// Name of the instance cookie. It is scoped to `Path=/instances/<id>/`, so a
/// browser sends each instance only its own.
pub const COOKIE_NAME: &str = "dcs_instance_token";

/// The query parameter carrying an access token in a link.
pub const TOKEN_PARAM: &str = "tkn";

/// `Set-Cookie` value for instance `prefix` (`/instances/<id>`): HttpOnly,
/// SameSite=Lax, `Path=<prefix>/`, Secure when served over https. A session cookie.
pub fn set_cookie(prefix: &str, token: &str, secure: bool) -> String {
    let mut v = format!("{COOKIE_NAME}={token}; Path={prefix}/; HttpOnly; SameSite=Lax");
    if secure {
        v.push_str("; Secure");
    }
    v
}

/// Every value of the instance cookie in the request's `Cookie` headers.
pub fn values(headers: &HeaderMap) -> Vec<&str> {
    dcs_net::cookies::pairs(headers)
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == COOKIE_NAME).then(|| value.trim().trim_matches('"'))
        })
        .collect()
}

/// Whether a cookie named `name` is the instance cookie.
pub fn is_instance_cookie_name(name: &str) -> bool {
    name == COOKIE_NAME
}

/// Splits `query` into the (decoded) value of `tkn`, if any, and the rest of
/// the query with every `tkn` removed (`None` when nothing is left). Other
/// parameters keep their order and spelling.
pub fn take_token(query: Option<&str>) -> (Option<String>, Option<String>) {
    let (token, rest) = dcs_net::query::take(query, TOKEN_PARAM);
    let token = token.map(|t| percent_decode_str(t).decode_utf8_lossy().into_owned());
    (token, rest)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_cookie_is_http_only_lax_and_scoped_to_the_instance() {
        let c = set_cookie("/instances/inst-1", "abc", false);
        assert_eq!(
            c,
            "dcs_instance_token=abc; Path=/instances/inst-1/; HttpOnly; SameSite=Lax"
        );
        assert!(set_cookie("/instances/inst-1", "abc", true).ends_with("; Secure"));
    }

    #[test]
    fn cookie_values_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("a=1; dcs_instance_token=t1"),
        );
        h.append(
            "cookie",
            HeaderValue::from_static("dcs_instance_token=\"t2\"; b=2"),
        );
        assert_eq!(values(&h), ["t1", "t2"]);
        assert!(is_instance_cookie_name(dcs_net::cookies::name(
            " dcs_instance_token=x"
        )));
        assert!(!is_instance_cookie_name(dcs_net::cookies::name(
            "dcs_instance_tokenx=x"
        )));
        assert!(values(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn tkn_is_taken_out_and_the_rest_kept() {
        assert_eq!(take_token(None), (None, None));
        assert_eq!(take_token(Some("tkn=abc")), (Some("abc".into()), None));
        assert_eq!(
            take_token(Some("a=1&tkn=ab%63&b=2&tkn=zz")),
            (Some("abc".into()), Some("a=1&b=2".into()))
        );
        assert_eq!(
            take_token(Some("folder=/x&tknx=1")),
            (None, Some("folder=/x&tknx=1".into()))
        );
        assert_eq!(take_token(Some("tkn")), (Some(String::new()), None));
    }
}
