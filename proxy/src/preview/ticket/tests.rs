//! Tickets and session cookies: what opens a preview host, and everything that must not.

use dcs_model::{RepoRef, UserId};

use super::*;

fn grant(host: &str) -> Grant {
    let user = UserId::new("alice").expect("user");
    Grant {
        host: host.into(),
        key: WorkspaceKey::new(user, RepoRef::new("acme", "hello").expect("repo")),
        port: 9998,
        back: "http://127.0.0.1:8080/github/acme/hello/ports/9998".into(),
        who: Who {
            sub: "alice".into(),
            name: "Alice".into(),
            email: Some("alice@example.com".into()),
            groups: vec!["dev".into()],
        },
    }
}

fn keys() -> Keys {
    Keys::new(Secret::new(vec![7u8; 32]))
}

const TTL: Duration = Duration::from_secs(120);

#[test]
fn a_ticket_opens_its_host_once() {
    let k = keys();
    let g = grant("9998-ws-a");
    let t = k.ticket(&g, TTL).expect("ticket");
    assert_eq!(k.redeem(&t, "9998-ws-a").expect("redeemed"), g);
    assert_eq!(k.redeem(&t, "9998-ws-a"), Err(Refusal::Used));
    let t2 = k.ticket(&g, TTL).expect("ticket");
    assert_ne!(t, t2, "each ticket has its own id");
    assert_eq!(k.redeem(&t2, "9998-ws-b"), Err(Refusal::OtherHost));
    assert!(
        k.redeem(&t2, "9998-ws-a").is_ok(),
        "refused elsewhere, unspent here"
    );
}

#[test]
fn expired_tickets_and_cookies_are_refused_but_say_where_to_go_back() {
    let k = keys();
    let g = grant("9998-ws-a");
    let old = k
        .sign(TICKET, &g, now() - 600, TTL, Some("j".into()))
        .expect("ticket");
    assert_eq!(
        k.redeem(&old, "9998-ws-a"),
        Err(Refusal::Expired(Box::new(g.clone())))
    );
    let old = k
        .sign(SESSION, &g, now() - 7200, TTL, None)
        .expect("cookie");
    match k.check_session(&old, "9998-ws-a") {
        Err(Refusal::Expired(back)) => assert_eq!(back.back, g.back),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cookie_is_not_a_ticket_nor_a_ticket_a_cookie() {
    let k = keys();
    let g = grant("9998-ws-a");
    let cookie = k.session(&g, TTL).expect("cookie");
    assert_eq!(k.check_session(&cookie, "9998-ws-a").expect("ok"), g);
    assert_eq!(k.redeem(&cookie, "9998-ws-a"), Err(Refusal::Invalid));
    let ticket = k.ticket(&g, TTL).expect("ticket");
    assert_eq!(k.check_session(&ticket, "9998-ws-a"), Err(Refusal::Invalid));
    assert_eq!(
        k.check_session(&cookie, "9998-ws-b"),
        Err(Refusal::OtherHost)
    );
}

#[test]
fn only_this_key_signs() {
    let g = grant("9998-ws-a");
    let other = Keys::new(Secret::new(vec![8u8; 32]));
    let forged = other.session(&g, TTL).expect("cookie");
    assert_eq!(
        keys().check_session(&forged, "9998-ws-a"),
        Err(Refusal::Invalid)
    );
    let good = keys().session(&g, TTL).expect("cookie");
    let mut parts: Vec<&str> = good.split('.').collect();
    let body = parts[1].replace('A', "B");
    parts[1] = &body;
    assert_eq!(
        keys().check_session(&parts.join("."), "9998-ws-a"),
        Err(Refusal::Invalid),
        "tampered claims"
    );
    let none = format!(
        "eyJhbGciOiJub25lIn0.{}.",
        good.split('.').nth(1).unwrap_or("")
    );
    assert_eq!(
        keys().check_session(&none, "9998-ws-a"),
        Err(Refusal::Invalid)
    );
    for junk in ["", "a.b.c", "not a token"] {
        assert_eq!(
            keys().check_session(junk, "9998-ws-a"),
            Err(Refusal::Invalid)
        );
    }
    assert_eq!(format!("{:?}", keys()), "Keys(<redacted>)");
}

#[test]
fn the_identity_survives_the_round_trip_and_large_group_lists_are_dropped() {
    let id = Identity {
        email: Some("a@example.com".into()),
        groups: vec!["dev".into(), "ops".into()],
        ..Identity::from_user(UserId::new("alice").expect("user"))
    };
    let back = Who::of(&id).identity().expect("identity");
    assert_eq!(
        (back.user, back.groups),
        (id.user.clone(), id.groups.clone())
    );
    let many = Identity {
        groups: (0..500).map(|i| format!("group-{i}")).collect(),
        ..id
    };
    assert!(Who::of(&many).groups.is_empty());
}

#[test]
fn one_caller_redeeming_in_a_loop_fills_only_their_own_share() {
    let k = keys();
    let mallory = {
        let mut g = grant("9998-ws-m");
        g.who.sub = "mallory".into();
        g
    };
    for _ in 0..MAX_USED_PER_USER {
        let t = k.ticket(&mallory, TTL).expect("ticket");
        k.redeem(&t, "9998-ws-m").expect("redeemed");
    }
    let t = k.ticket(&mallory, TTL).expect("ticket");
    assert_eq!(k.redeem(&t, "9998-ws-m"), Err(Refusal::Busy));
    // Everyone else still opens previews.
    let g = grant("9998-ws-a");
    let t = k.ticket(&g, TTL).expect("ticket");
    assert_eq!(k.redeem(&t, "9998-ws-a").expect("redeemed"), g);
    // Mallory's expire: her share is free again (seen as if later).
    k.used
        .lock()
        .expect("lock")
        .forget_expired(now() + TTL.as_secs() + 1);
    let t = k.ticket(&mallory, TTL).expect("ticket");
    assert!(k.redeem(&t, "9998-ws-m").is_ok());
}
