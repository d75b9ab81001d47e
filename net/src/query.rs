//! Taking a credential out of a query string (an access link's token, a preview
//! ticket) so that what is forwarded or redirected to never carries it.

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
