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
        policy: "p1".into(),
    }
}

/// The nonce of the browser the tests redeem in.
const NONCE: &str = "browser-nonce";

fn state() -> String {
    bind(NONCE)
}

fn keys() -> Keys {
    Keys::new(Secret::new(vec![7u8; 32]))
}

const TTL: Duration = Duration::from_secs(120);

#[test]
fn a_ticket_opens_its_host_once() {
    let k = keys();
    let g = grant("9998-ws-a");
    let t = k.ticket(&g, TTL, &state()).expect("ticket");
    assert_eq!(k.redeem(&t, "9998-ws-a", [NONCE]).expect("redeemed"), g);
    assert_eq!(k.redeem(&t, "9998-ws-a", [NONCE]), Err(Refusal::Used));
    let t2 = k.ticket(&g, TTL, &state()).expect("ticket");
    assert_ne!(t, t2, "each ticket has its own id");
    assert_eq!(k.redeem(&t2, "9998-ws-b", [NONCE]), Err(Refusal::OtherHost));
    assert!(
        k.redeem(&t2, "9998-ws-a", [NONCE]).is_ok(),
        "refused elsewhere, unspent here"
    );
}

#[test]
fn a_ticket_opens_only_in_the_browser_it_was_made_for() {
    let k = keys();
    let g = grant("9998-ws-a");
    let t = k.ticket(&g, TTL, &state()).expect("ticket");
    for nonces in [vec![], vec!["another-browser"], vec![state().as_str()]] {
        assert_eq!(
            k.redeem(&t, "9998-ws-a", nonces.iter().copied()),
            Err(Refusal::Unbound),
            "{nonces:?}"
        );
    }
    assert_eq!(
        k.redeem(&t, "9998-ws-a", ["another-browser", NONCE]),
        Ok(g.clone()),
        "unspent by the refusals; any of the browser's nonces"
    );
    assert!(is_state(&state()) && !is_state(NONCE) && !is_state(&state().to_uppercase()));
    let unbound = k
        .sign(&Claims {
            jti: Some("j".into()),
            ..Claims::new(TICKET, &g, now(), TTL)
        })
        .expect("ticket");
    assert_eq!(
        k.redeem(&unbound, "9998-ws-a", [NONCE]),
        Err(Refusal::Invalid)
    );
    assert_ne!(nonce().expect("nonce"), nonce().expect("nonce"));
}

#[test]
fn a_lead_opens_nothing_and_nothing_else_is_a_lead() {
    let k = keys();
    let g = grant("9998-ws-a");
    let lead = k.lead(&g, TTL).expect("lead");
    assert_eq!(k.follow(&lead, "9998-ws-a"), Ok(g.clone()));
    assert_eq!(k.follow(&lead, "9998-ws-b"), Err(Refusal::OtherHost));
    assert_eq!(k.redeem(&lead, "9998-ws-a", [NONCE]), Err(Refusal::Invalid));
    assert_eq!(k.check_session(&lead, "9998-ws-a"), Err(Refusal::Invalid));
    let ticket = k.ticket(&g, TTL, &state()).expect("ticket");
    let cookie = k.session(&g, TTL).expect("cookie");
    for other in [ticket, cookie] {
        assert_eq!(k.follow(&other, "9998-ws-a"), Err(Refusal::Invalid));
    }
}

#[test]
fn expired_tickets_and_cookies_are_refused_but_say_where_to_go_back() {
    let k = keys();
    let g = grant("9998-ws-a");
    let old = k
        .sign(&Claims {
            jti: Some("j".into()),
            state: Some(state()),
            ..Claims::new(TICKET, &g, now() - 600, TTL)
        })
        .expect("ticket");
    assert_eq!(
        k.redeem(&old, "9998-ws-a", [NONCE]),
        Err(Refusal::Expired(Box::new(g.clone())))
    );
    let old = k
        .sign(&Claims::new(SESSION, &g, now() - 7200, TTL))
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
    assert_eq!(
        k.redeem(&cookie, "9998-ws-a", [NONCE]),
        Err(Refusal::Invalid)
    );
    let ticket = k.ticket(&g, TTL, &state()).expect("ticket");
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
        let t = k.ticket(&mallory, TTL, &state()).expect("ticket");
        k.redeem(&t, "9998-ws-m", [NONCE]).expect("redeemed");
    }
    let t = k.ticket(&mallory, TTL, &state()).expect("ticket");
    assert_eq!(k.redeem(&t, "9998-ws-m", [NONCE]), Err(Refusal::Busy));
    // Everyone else still opens previews.
    let g = grant("9998-ws-a");
    let t = k.ticket(&g, TTL, &state()).expect("ticket");
    assert_eq!(k.redeem(&t, "9998-ws-a", [NONCE]).expect("redeemed"), g);
    // Mallory's expire: her share is free again (seen as if later).
    k.used
        .lock()
        .expect("lock")
        .forget_expired(now() + TTL.as_secs() + 1);
    let t = k.ticket(&mallory, TTL, &state()).expect("ticket");
    assert!(k.redeem(&t, "9998-ws-m", [NONCE]).is_ok());
}
