//! Aliases stand for one address each, for good, and are forgotten only unused.

use super::*;

#[test]
fn each_address_has_one_alias_and_each_alias_one_address() {
    let aliases = Aliases::default();
    let a = aliases.of("127.0.0.1:8080").expect("an alias");
    let b = aliases
        .of("ws-alice-acme-hello.dcs.svc.cluster.local:80")
        .expect("an alias");
    assert_ne!(a, b);
    assert_eq!(aliases.of("127.0.0.1:8080"), Some(a.clone()));
    assert_eq!(
        aliases.address(a.as_str()).as_deref(),
        Some("127.0.0.1:8080")
    );
    assert_eq!(
        aliases.address(b.as_str()).as_deref(),
        Some("ws-alice-acme-hello.dcs.svc.cluster.local:80")
    );
    assert!(a.as_str().len() < "127.0.0.1:8080".len());
    assert_eq!(aliases.len(), 2);
    for unknown in ["u99", "x0", "u", "", "127.0.0.1:8080", "u-1"] {
        assert_eq!(aliases.address(unknown), None, "{unknown}");
    }
}

#[test]
fn what_is_not_an_address_gets_no_alias() {
    let aliases = Aliases::default();
    for bad in ["", "a b", "host:port:x", "/path", "h/x"] {
        assert_eq!(aliases.of(bad), None, "{bad:?}");
    }
    assert!(aliases.is_empty());
}

#[test]
fn any_text_gets_an_alias_where_asked_for_and_a_checked_one_is_still_checked() {
    let aliases = Aliases::default();
    let path = "/tmp/.tmpAbC/data/run/ws-alice-hello-1f2e/launcher.sock";
    let a = aliases.of_any(path).expect("a path gets an alias");
    assert_eq!(aliases.of_any(path), Some(a.clone()), "the same one again");
    assert_eq!(aliases.address(a.as_str()).as_deref(), Some(path));
    // `of` still refuses a new address that is not an authority (each pool has a
    // table of its own: the TCP pool's holds authorities only).
    assert_eq!(aliases.of("/other/launcher.sock"), None);
    assert_eq!(aliases.len(), 1);
}

#[test]
fn unused_aliases_are_forgotten_only_beyond_the_limit_and_never_reused() {
    let aliases = Aliases::default();
    let first = aliases.of("127.0.0.1:1").expect("an alias");
    let age = |aliases: &Aliases| {
        let table = aliases.table.read().expect("lock");
        for entry in table.by_address.values() {
            entry.used.store(0, Ordering::Relaxed);
        }
    };
    for port in 2..=PRUNE_ABOVE {
        aliases.of(&format!("127.0.0.1:{port}")).expect("an alias");
    }
    assert_eq!(
        aliases.len(),
        PRUNE_ABOVE,
        "nothing forgotten below the limit"
    );
    // All of them last used at second 0 of a table whose clock now reads
    // FORGET_AFTER + 1 s.
    age(&aliases);
    let aliases = Aliases {
        epoch: Instant::now() - FORGET_AFTER - Duration::from_secs(1),
        table: RwLock::new(std::mem::take(&mut *aliases.table.write().expect("lock"))),
    };
    let kept = aliases.of("127.0.0.1:2").expect("used now");
    let fresh = aliases.of("10.0.0.1:80").expect("an alias");
    assert_eq!(aliases.len(), 2, "the unused ones are forgotten");
    assert_eq!(aliases.address(first.as_str()), None);
    assert!(aliases.address(kept.as_str()).is_some());
    // A forgotten address asked for again gets a new alias, never an old one.
    let again = aliases.of("127.0.0.1:1").expect("an alias");
    assert_ne!(again, first);
    assert_ne!(again, fresh);
    assert_eq!(
        aliases.address(again.as_str()).as_deref(),
        Some("127.0.0.1:1")
    );
}
