//! Routing: what each path means, what is redirected, and what is refused.

use super::*;

fn ws(path: &str) -> (String, String, String) {
    match parse(path, None).expect("parses") {
        Route::Workspace { repo, prefix, rest } => (repo.to_string(), prefix, rest),
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn fixed_routes() {
    assert_eq!(parse("/healthz", None).expect("ok"), Route::Healthz);
    assert_eq!(parse("/readyz", None).expect("ok"), Route::Readyz);
    assert_eq!(parse("/metrics", None).expect("ok"), Route::Metrics);
    assert_eq!(parse("/", None).expect("ok"), Route::Home);
    assert_eq!(parse("/index.html", None).expect("ok"), Route::NotFound);
    assert_eq!(parse("/githubx/a/b/", None).expect("ok"), Route::NotFound);
}

#[test]
fn api_paths_are_one_route() {
    for path in ["/api", "/api/", "/api/instances", "/api/x/y"] {
        assert_eq!(parse(path, Some("a=1")).expect("ok"), Route::Api, "{path}");
    }
    assert_eq!(parse("/apix", None).expect("ok"), Route::NotFound);
    assert!(is_api("/api/../x") && parse("/api/../x", None).is_err());
}

#[test]
fn instance_paths_strip_the_prefix_and_keep_the_query_apart() {
    let id = "inst-0123456789abcdef";
    match parse(&format!("/instances/{id}/a/b%20c"), Some("tkn=x&y=1")).expect("ok") {
        Route::Instance {
            id: got,
            prefix,
            rest,
            query,
        } => {
            assert_eq!(got.as_str(), id);
            assert_eq!(prefix, format!("/instances/{id}"));
            assert_eq!(rest.as_deref(), Some("/a/b%20c"));
            assert_eq!(query.as_deref(), Some("tkn=x&y=1"));
        }
        other => panic!("{other:?}"),
    }
    match parse(&format!("/instances/{id}"), None).expect("ok") {
        Route::Instance { rest, .. } => assert_eq!(rest, None),
        other => panic!("{other:?}"),
    }
    match parse(&format!("/instances/{id}/"), None).expect("ok") {
        Route::Instance { rest, .. } => assert_eq!(rest.as_deref(), Some("/")),
        other => panic!("{other:?}"),
    }
    for nothing in [
        "/instances",
        "/instances/",
        "/instances/Inst-1/",
        "/instances/a%2Db/",
    ] {
        assert_eq!(
            parse(nothing, None).expect("ok"),
            Route::NotFound,
            "{nothing}"
        );
    }
    assert_eq!(parse("/instancesx/a/", None).expect("ok"), Route::NotFound);
    assert_eq!(
        INSTANCES_PREFIX,
        crate::runtime::INSTANCES_PREFIX,
        "routed where the runtime serves them"
    );
    assert!(parse(&format!("/instances/{id}/../x"), None).is_err());
}

#[test]
fn a_progress_push_names_exactly_one_workspace() {
    assert_eq!(
        parse("/_dcs/hop/progress/ws-1", None).expect("ok"),
        Route::ProgressPush {
            name: "ws-1".into()
        }
    );
    for nothing in [
        "/_dcs/hop/progress/",
        "/_dcs/hop/progress",
        "/_dcs/hop/progress/a/b",
        "/_dcs/hop/progress/a/",
        "/_dcs/hop/progressx/a",
    ] {
        assert_eq!(
            parse(nothing, None).expect("ok"),
            Route::NotFound,
            "{nothing}"
        );
    }
    assert!(parse("/_dcs/hop/progress/..", None).is_err());
}

#[test]
fn outpost_paths_are_one_route() {
    for path in [
        "/outpost.goauthentik.io",
        "/outpost.goauthentik.io/start",
        "/outpost.goauthentik.io/callback",
        "/outpost.goauthentik.io/sign_out",
    ] {
        assert_eq!(
            parse(path, Some("rd=x")).expect("ok"),
            Route::Outpost,
            "{path}"
        );
    }
    assert_eq!(
        parse("/outpost.goauthentik.iox/start", None).expect("ok"),
        Route::NotFound
    );
    assert!(parse("/outpost.goauthentik.io/../github/a/b/", None).is_err());
}

#[test]
fn workspace_paths_strip_the_prefix_once() {
    assert_eq!(
        ws("/github/acme/hello/"),
        ("acme/hello".into(), "/github/acme/hello".into(), "/".into())
    );
    assert_eq!(ws("/github/acme/hello/a/b%20c").2, "/a/b%20c");
    assert_eq!(
        ws("/github/acme/hello/github/acme/hello/").2,
        "/github/acme/hello/"
    );
    match parse("/github/acme/hello/x", Some("a=1&b")).expect("ok") {
        Route::Workspace { rest, .. } => assert_eq!(rest, "/x?a=1&b"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bare_repo_path_redirects_with_trailing_slash() {
    assert_eq!(
        parse("/github/acme/hello", None).expect("ok"),
        Route::Redirect("/github/acme/hello/".into())
    );
    assert_eq!(
        parse("/github/acme/hello", Some("x=1")).expect("ok"),
        Route::Redirect("/github/acme/hello/?x=1".into())
    );
}

#[test]
fn non_canonical_spellings_redirect_to_the_canonical_one() {
    assert_eq!(
        parse("/github/acme/hello.git/", None).expect("ok"),
        Route::Redirect("/github/acme/hello/".into())
    );
    assert_eq!(
        parse("/github/ac%6De/hello/x", None).expect("ok"),
        Route::Redirect("/github/acme/hello/x".into())
    );
}

#[test]
fn dot_segments_and_nuls_are_refused_raw_or_encoded_and_look_alikes_pass() {
    for path in [
        "/.",
        "/a/./b",
        "/a/../b",
        "/a/%2e/b",
        "/a/%2E%2e/b",
        "/a/.%2e/b",
        "/a/%2e./",
        "/a/b/..",
        "/a/%00/b",
        "/a/x%00y",
        "/a/\0/b",
    ] {
        assert!(check_segments(path).is_err(), "{path}");
    }
    for path in [
        "/",
        "/a//b/",
        "/a/.../b",
        "/a/%2e%2e%2e/b",
        "/a/..x/b",
        "/a/.git/b",
        "/a/%2ex/b",
        "/a/%/b",
        "/a/%2/b",
        "/a/%zz/b",
        "/github/acme/bench/_dcs/files/bench/1k.bin",
    ] {
        assert!(check_segments(path).is_ok(), "{path}");
    }
    assert!(check_segments("a/b").is_err(), "relative");
}

#[test]
fn bad_paths_are_400_with_a_message() {
    let long_owner = format!("/github/{}/r/", "a".repeat(200));
    for path in [
        "/github/..",
        "/github/a/..",
        "/github/a/b/../c",
        "/github/a/b/%2e%2E/c",
        "/github/a/b%2Fc",
        "/github/a/b%2Fc/",
        long_owner.as_str(),
        "/github/a/.git",
        "/github/a/.git/",
        "/github/a/b%00/",
        "/github/a/b/x%00y",
        "/github/%C3%A9/b/",
        "/github/a/%FF/",
        "/github",
        "/github/",
        "/github/a",
        "/github/a/",
        "/github/-a/b/",
    ] {
        match parse(path, None) {
            Err(Error::BadRequest(msg)) => assert!(!msg.is_empty(), "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
}

/// Whatever the thread parsed before, a path means the same: the memo of the last
/// workspace prefix answers only for the same bytes, and only as parsing would.
#[test]
fn what_was_parsed_before_changes_nothing() {
    let paths = [
        "/github/acme/hello/",
        "/github/acme/hello/x/y%20z",
        "/github/Acme/Hello/x",
        "/github/acme/hello.git/x",
        "/github/%61cme/hello/x",
        "/github/acme/hello",
        "/github/acme/hello//x",
        "/github/acme/hello/../x",
        "/github/acme/hello/%2e%2e/x",
        "/github/acme/hello/a%00b",
        "/github/acme/hellox/y",
        "/github/acme/hell/o",
        "/github/acme/",
        "/github/bad_owner/x/",
        "/api/x",
        "/healthz",
    ];
    let fresh = |path: &str, query: Option<&str>| {
        memo::forget();
        format!("{:?}", parse(path, query))
    };
    for before in paths {
        for path in paths {
            for query in [None, Some("a=1&b")] {
                let expected = fresh(path, query);
                memo::forget();
                let _ = parse(before, Some("q"));
                let got = format!("{:?}", parse(path, query));
                assert_eq!(got, expected, "{path} after {before}");
            }
        }
    }
}

#[test]
fn the_last_canonical_prefix_is_remembered_as_it_came() {
    memo::forget();
    assert!(memo::recall("/acme/hello/x").is_none());
    let _ = parse("/github/acme/hello.git/x", None);
    assert!(
        memo::recall("/acme/hello/x").is_none(),
        "a redirect is not kept"
    );
    let _ = parse("/github/acme/hello/x", None);
    let (repo, prefix, rest) = memo::recall("/acme/hello/y?z").expect("kept");
    assert_eq!(
        (repo.as_str(), prefix.as_str(), rest),
        ("acme/hello", "/github/acme/hello", "y?z")
    );
    assert!(
        memo::recall("/Acme/hello/x").is_none(),
        "another spelling is parsed"
    );
    assert!(memo::recall("/acme/hello").is_none());
}

#[test]
fn github_page_addresses_are_told_apart_from_the_ides_paths() {
    for page in [
        "/tree/main",
        "/tree/main/src",
        "/blob/main/README.md",
        "/pull/12",
        "/pull/12/files",
        "/pulls",
        "/issues",
        "/issues?q=is%3Aopen",
        "/issues/3",
        "/commit/0123abc",
        "/commits/main",
        "/actions",
        "/releases/tag/v1",
        "/wiki",
    ] {
        let (_, _, rest) = ws(&format!("/github/acme/hello{page}"));
        assert!(is_github_page(&rest), "{page}");
    }
    for ide in [
        "/",
        "/?folder=/w",
        "/stable-1234/static/out/vs/code/browser/workbench/workbench.js",
        "/_dcs/files/tree/x",
        "/ports/3000/tree",
        "/trees",
        "/Tree/main",
        "/x/tree",
        "/?tree=1",
    ] {
        let (_, _, rest) = ws(&format!("/github/acme/hello{ide}"));
        assert!(!is_github_page(&rest), "{ide}");
    }
}
