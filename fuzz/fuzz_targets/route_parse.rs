//! `dcs_proxy::route::parse` on any UTF-8 path and optional query: never panics.
//! For targets hyper can actually deliver (they parse as an `http` path-and-query),
//! what it returns keeps the router's promises: redirects stay on this host under
//! `/github/` and are valid header values, the stripped prefix is exactly
//! `/github/<owner>/<repo>`, and the rest is an absolute path.
#![no_main]

use std::str::FromStr;

use dcs_proxy::route::{parse, Route};
use http::uri::PathAndQuery;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;

fn check(path: &str, query: Option<&str>) {
    match parse(path, query) {
        Ok(Route::Redirect(location)) => {
            assert!(location.starts_with("/github/"), "{location:?}");
            assert!(!location.starts_with("//"), "{location:?}");
            assert!(HeaderValue::from_str(&location).is_ok(), "{location:?}");
        }
        Ok(Route::Workspace { repo, prefix, rest }) => {
            assert_eq!(prefix, format!("/github/{repo}"));
            assert!(rest.starts_with('/'), "{rest:?}");
            assert!(
                path.starts_with(&format!("{prefix}/")),
                "{path:?} vs {prefix:?}"
            );
        }
        Ok(Route::Instance {
            id,
            prefix,
            rest,
            query: q,
        }) => {
            assert_eq!(prefix, format!("/instances/{id}"));
            assert!(dcs_model::InstanceId::parse(id.as_str()).is_ok(), "{id:?}");
            assert!(rest.as_deref().is_none_or(|r| r.starts_with('/')), "{rest:?}");
            assert_eq!(
                format!("{prefix}{}", rest.as_deref().unwrap_or("")),
                path,
                "nothing of the path is lost"
            );
            assert_eq!(q.as_deref(), query);
        }
        Ok(Route::Api) => assert!(dcs_proxy::route::is_api(path), "{path:?}"),
        Ok(Route::Home) => assert_eq!(path, "/"),
        Ok(Route::HomeScript) => assert_eq!(path, dcs_proxy::home::SCRIPT_PATH),
        Ok(_) | Err(_) => {}
    }
}

fuzz_target!(|input: (&str, Option<&str>)| {
    let (path, query) = input;
    // Anything at all: must not panic.
    let _ = parse(path, query);
    // What a real request line can carry: must also keep the promises above.
    let target = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    if let Ok(pq) = PathAndQuery::from_str(&target) {
        if pq.path().starts_with('/') {
            check(pq.path(), pq.query());
        }
    }
});
