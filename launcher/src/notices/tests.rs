//! Notices: the list, its JSON, the banner markup and the script's path.

use http_body_util::BodyExt;

use super::*;

#[test]
fn a_notice_with_the_same_id_replaces_the_old_one_and_clear_removes_it() {
    let notices = Notices::default();
    notices.set(Notice::warning(CHECKOUT, "first"));
    notices.set(Notice {
        id: "idle".into(),
        level: Level::Error,
        text: "stopping in 5 minutes".into(),
        actions: vec![Action {
            label: "Keep working".into(),
            method: "POST".into(),
            href: "_dcs/keep-alive".into(),
            open: false,
            reload: false,
        }],
    });
    notices.set(Notice::warning(CHECKOUT, "second"));
    let list = notices.list();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].id.as_str(), list[0].text.as_str()),
        (CHECKOUT, "second")
    );
    notices.clear("idle");
    assert_eq!(notices.list().len(), 1);
}

#[tokio::test]
async fn the_list_is_json_with_actions_only_when_there_are_some() {
    let res = respond(&[
        Notice::warning(CHECKOUT, "updates are not fetched"),
        Notice {
            id: "idle".into(),
            level: Level::Info,
            text: "t".into(),
            actions: vec![Action {
                label: "Stop now".into(),
                method: "POST".into(),
                href: "_dcs/stop".into(),
                open: false,
                reload: false,
            }],
        },
    ]);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    let body = res.into_body().collect().await.expect("body").to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"notices": [
            {"id": "checkout", "level": "warning", "text": "updates are not fetched"},
            {"id": "idle", "level": "info", "text": "t",
             "actions": [{"label": "Stop now", "method": "POST", "href": "_dcs/stop"}]},
        ]})
    );
    // A reload button says so; the script reloads the page for it.
    let reload = serde_json::to_value(Action::reload("Reload")).expect("json");
    assert_eq!(
        reload,
        serde_json::json!({"label": "Reload", "method": "GET", "href": "./", "reload": true})
    );
    assert!(SCRIPT.contains("if (a.reload) { dismiss(n); location.reload(); return; }"));
}

#[test]
fn the_banner_escapes_its_text_and_is_empty_without_notices() {
    assert_eq!(banner_html(&[]), "");
    let html = banner_html(&[Notice::warning("x\"", "<script>alert(1)</script> & co")]);
    assert!(html.starts_with("<div id=\"dcs-notices\">"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        "{html}"
    );
    assert!(html.contains("data-id=\"x&quot;\""), "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");
}

#[test]
fn the_script_is_reached_relative_to_the_page_at_any_depth() {
    assert_eq!(root_from("/"), "./");
    assert_eq!(root_from("/index.html"), "./");
    assert_eq!(root_from("/a/b"), "../");
    assert_eq!(root_from("/_dcs/files/"), "../../");
    assert_eq!(root_from("/_dcs/files/sub/dir/"), "../../../../");
    assert_eq!(
        script_tag("../../"),
        "<script src=\"../../_dcs/notice.js\" defer></script>"
    );
    // An IDE document says which run of the IDE served it.
    assert_eq!(
        ide_script_tag("./", "1764800000000-3"),
        "<script src=\"./_dcs/notice.js\" data-ide-run=\"1764800000000-3\" defer></script>"
    );
}

#[test]
fn the_script_uses_no_inner_html_and_no_other_origin() {
    assert!(!SCRIPT.contains("innerHTML"), "Trusted Types forbid it");
    assert!(!SCRIPT.contains("http://") && !SCRIPT.contains("https://"));
    assert!(SCRIPT.contains("new URL('notices', here)"));
    // The banner part runs no timer; the idle part's timers send only requests
    // marked as background (never use, never a wake), or beacons of input.
    let (banner, idle) = (include_str!("notice.js"), include_str!("idle.js"));
    assert!(!banner.contains("setInterval") && !banner.contains("setTimeout"));
    assert!(banner.contains("'X-DCS-Background': '1'"));
    let fetches: Vec<&str> = idle.split("fetch(").skip(1).collect();
    assert_eq!(fetches.len(), 3, "the poll, the beacon and Stop now");
    assert!(fetches[0].starts_with("ACTIVITY, {"), "the beacon");
    assert!(fetches[1].starts_with("IDLE, {") && fetches[1][..120].contains("...BACKGROUND"));
    assert!(fetches[2].starts_with("STOP, {"), "Stop now");
    assert!(idle.contains("const BACKGROUND = { 'X-DCS-Background': '1' };"));
}

#[test]
fn the_idle_part_reports_input_polls_in_the_background_and_offers_resume() {
    for needle in [
        "addEventListener('keydown'",
        "addEventListener('pointerdown'",
        "addEventListener('wheel'",
        "addEventListener('focus'",
        "THROTTLE_MS = 30_000",
        "This workspace stops in ",
        ": nobody has used it for ",
        "'Keep working'",
        "'Stop now'",
        "send('keep-working')",
        "without use. Your files are saved.",
        "'Resume'",
        "location.reload()",
    ] {
        assert!(SCRIPT.contains(needle), "{needle}");
    }
}

#[test]
fn the_idle_part_says_when_the_sign_in_expired_and_follows_no_redirect() {
    let idle = include_str!("idle.js");
    for needle in [
        // The edge's "not signed in" (a 401 saying so) covers the page and ends polling.
        "r.status === 401 && body && body.sign_in === true) showSignedOut()",
        "'Your sign-in expired. Sign in again to keep working here; '",
        "'Sign in again'",
        // An ingress's redirect to its sign-in is seen, not followed, and asked twice.
        "if (again && again.type === 'opaqueredirect') showSignedOut();",
    ] {
        assert!(idle.contains(needle), "{needle}");
    }
    // Every request of the page (the poll, the beacon, Stop now) follows no redirect.
    let fetches: Vec<&str> = idle.split("fetch(").skip(1).collect();
    for f in &fetches {
        let call = &f[..f.find("});").expect("a fetch's options")];
        assert!(call.contains("redirect: 'manual'"), "{call}");
    }
}
