//! Tests of [`super`]: the page and its script as served (the list and the actions
//! are exercised in Chromium through the real proxy: `tests/tests/home.rs`).

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http_body_util::BodyExt;

use super::*;
use crate::route::{parse, Route};

async fn text(resp: Response<Body>) -> String {
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf8")
}

#[tokio::test]
async fn the_page_greets_by_name_as_text_and_loads_only_its_own_script() {
    let mut identity = Identity::from_user(dcs_model::UserId::new("alice").expect("user"));
    identity.username = "<img src=x onerror=alert(1)>".into();
    let who = Who {
        identity: &identity,
        signs_out: false,
    };
    let resp = page(StatusCode::OK, &who, None);
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    let html = text(resp).await;
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains(&format!("<script src=\"{SCRIPT_PATH}\" defer>")));
    assert!(!html.contains("id=refused"), "nothing refused: {html}");
    assert!(!html.contains("Sign out"), "nobody signs in: {html}");
}

#[tokio::test]
async fn where_people_sign_in_the_page_signs_out_at_the_outpost() {
    let identity = Identity::from_user(dcs_model::UserId::new("alice").expect("user"));
    let who = Who {
        identity: &identity,
        signs_out: true,
    };
    let html = text(page(StatusCode::OK, &who, None)).await;
    assert!(
        html.contains("<a id=sign-out href=\"/outpost.goauthentik.io/sign_out\">Sign out</a>"),
        "{html}"
    );
}

#[tokio::test]
async fn a_refused_link_stays_in_the_box_escaped_with_why() {
    let identity = Identity::from_user(dcs_model::UserId::new("alice").expect("user"));
    let who = Who {
        identity: &identity,
        signs_out: true,
    };
    let link = "\"><script>alert(1)</script>";
    let why = RepoRef::from_link(link).expect_err("refused").to_string();
    let resp = page(StatusCode::BAD_REQUEST, &who, Some((link, &why)));
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = text(resp).await;
    assert!(
        html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{html}"
    );
    assert!(
        html.contains("id=refused role=alert>Cannot open that: "),
        "{html}"
    );
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own: {html}"
    );
}

#[tokio::test]
async fn the_script_is_javascript_that_lists_from_the_api() {
    let resp = script();
    assert_eq!(
        resp.headers()[CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let js = text(resp).await;
    assert!(
        js.contains("'/api/instances'") && js.contains("'/api/me'"),
        "{js}"
    );
    // A sign-in that expired while the page is open is said, with a way back in.
    assert!(
        js.contains("body.sign_in === true") && js.contains("'Sign in again'"),
        "{js}"
    );
}

#[test]
fn the_root_and_the_script_are_the_home_routes() {
    assert_eq!(parse("/", None).expect("route"), Route::Home);
    assert_eq!(parse("/", Some("repo=a%2Fb")).expect("route"), Route::Home);
    assert_eq!(parse(SCRIPT_PATH, None).expect("route"), Route::HomeScript);
    assert_eq!(
        parse("/_dcs/other.js", None).expect("route"),
        Route::NotFound
    );
}

#[test]
fn the_box_leads_to_the_workspace_by_a_see_other() {
    let resp = see_other("/github/acme/hello/");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/github/acme/hello/");
}
