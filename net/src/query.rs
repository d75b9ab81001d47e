//! Query strings: a request target split into its path and query, and a credential
//! taken out of a query (an access link's token, a preview ticket) so that what is
//! forwarded or redirected to never carries it.

/// `target` (`path[?query]`) split at its first `?`: the path, and the query when
/// there is one (perhaps empty). A byte scan: it runs on every request's target,
/// which is short and has no `?` more often than not.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.bytes().position(|b| b == b'?') {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    }
}

/// Splits `query` into the raw (still percent-encoded) value of the first `name`
/// parameter, if any, and the rest of the query with every `name` removed (`None` when
/// nothing is left). Other parameters keep their order and spelling.
pub fn take<'q>(query: Option<&'q str>, name: &str) -> (Option<&'q str>, Option<String>) {
    let Some(query) = query else {
        return (None, None);
    };
    let mut found = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == name {
            found = found.or(Some(value));
        } else if !pair.is_empty() {
            kept.push(pair);
        }
    }
    (found, (!kept.is_empty()).then(|| kept.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_splits_at_its_first_question_mark() {
        assert_eq!(split_target("/a/b"), ("/a/b", None));
        assert_eq!(split_target("/a?x=1?y"), ("/a", Some("x=1?y")));
        assert_eq!(split_target("/a?"), ("/a", Some("")));
        assert_eq!(split_target("?q"), ("", Some("q")));
        assert_eq!(split_target(""), ("", None));
        assert_eq!(split_target("/é?ü"), ("/é", Some("ü")));
        for t in ["/a/b", "/a?x=1?y", "/a?", "?q", "", "/é?ü"] {
            assert_eq!(
                split_target(t),
                t.split_once('?').map_or((t, None), |(p, q)| (p, Some(q)))
            );
        }
    }

    #[test]
    fn the_parameter_is_taken_out_and_the_rest_kept() {
        assert_eq!(take(None, "t"), (None, None));
        assert_eq!(take(Some("t=abc"), "t"), (Some("abc"), None));
        assert_eq!(
            take(Some("a=1&t=ab%63&b=2&t=zz"), "t"),
            (Some("ab%63"), Some("a=1&b=2".into()))
        );
        assert_eq!(take(Some("tx=1&&a"), "t"), (None, Some("tx=1&a".into())));
        assert_eq!(take(Some("t"), "t"), (Some(""), None));
    }
}
