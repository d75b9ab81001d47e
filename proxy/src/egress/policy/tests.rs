use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an IP address")
}

#[test]
fn every_special_range_is_refused_with_its_class_and_public_addresses_pass() {
    let table: &[(&str, Class)] = &[
        ("0.0.0.0", Class::Unspecified),
        ("0.1.2.3", Class::ThisNetwork),
        ("10.20.30.40", Class::Private),
        ("172.16.0.1", Class::Private),
        ("172.31.255.255", Class::Private),
        ("192.168.1.1", Class::Private),
        ("100.64.0.1", Class::Shared),
        ("100.127.255.254", Class::Shared),
        ("127.0.0.1", Class::Loopback),
        ("127.255.0.9", Class::Loopback),
        ("169.254.169.254", Class::LinkLocal),
        ("192.0.0.8", Class::Reserved),
        ("192.0.2.10", Class::Documentation),
        ("198.51.100.7", Class::Documentation),
        ("203.0.113.99", Class::Documentation),
        ("192.88.99.1", Class::Reserved),
        ("198.18.0.1", Class::Benchmarking),
        ("198.19.255.255", Class::Benchmarking),
        ("224.0.0.251", Class::Multicast),
        ("239.255.255.250", Class::Multicast),
        ("240.0.0.1", Class::Reserved),
        ("255.255.255.255", Class::Broadcast),
        ("::", Class::Unspecified),
        ("::1", Class::Loopback),
        ("fc00::1", Class::UniqueLocal),
        ("fd12:3456::1", Class::UniqueLocal),
        ("fe80::1", Class::LinkLocal),
        ("fec0::1", Class::SiteLocal),
        ("ff02::1", Class::Multicast),
        ("2001:db8::1", Class::Documentation),
        ("3fff::1", Class::Documentation),
        ("2001::1", Class::Reserved),
        ("100::1", Class::Reserved),
        ("64:ff9b:1::1", Class::Reserved),
        // IPv4-compatible (deprecated) and anything else outside 2000::/3.
        ("::8.8.8.8", Class::Reserved),
        ("4000::1", Class::Reserved),
    ];
    for (text, class) in table {
        let special = special(ip(text)).unwrap_or_else(|| panic!("{text} is special"));
        assert_eq!(special.class, *class, "{text}");
        assert_eq!(special.embedded, None, "{text}");
        assert!(!is_public(ip(text)), "{text}");
    }
    for public in [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "169.253.255.255",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "2001:200::1",
    ] {
        assert!(is_public(ip(public)), "{public} is public");
    }
}

#[test]
fn addresses_carrying_ipv4_are_judged_by_it() {
    for (text, v4, class) in [
        (
            "::ffff:169.254.169.254",
            "169.254.169.254",
            Some(Class::LinkLocal),
        ),
        ("::ffff:127.0.0.1", "127.0.0.1", Some(Class::Loopback)),
        (
            "64:ff9b::a9fe:a9fe",
            "169.254.169.254",
            Some(Class::LinkLocal),
        ),
        ("64:ff9b::10.0.0.1", "10.0.0.1", Some(Class::Private)),
        ("2002:7f00:1::1", "127.0.0.1", Some(Class::Loopback)),
        ("2002:c0a8:101::", "192.168.1.1", Some(Class::Private)),
        ("::ffff:8.8.8.8", "8.8.8.8", None),
        ("64:ff9b::8.8.8.8", "8.8.8.8", None),
        ("2002:808:808::1", "8.8.8.8", None),
    ] {
        let got = special(ip(text));
        assert_eq!(got.map(|s| s.class), class, "{text}");
        if let Some(special) = got {
            assert_eq!(special.embedded, Some(v4.parse().expect("v4")), "{text}");
        }
    }
    let refused = Policy::default()
        .check(addr("[64:ff9b::a9fe:a9fe]:80"))
        .expect_err("metadata through NAT64");
    assert_eq!(
        refused.to_string(),
        "64:ff9b::a9fe:a9fe reaches 169.254.169.254, which is a link-local address"
    );
}

#[test]
fn the_policy_admits_public_and_allowed_addresses_and_says_why_it_refuses() {
    let policy = Policy::default();
    assert_eq!(policy.check(addr("1.1.1.1:443")), Ok(()));
    assert_eq!(policy.check(addr("[2606:4700:4700::1111]:443")), Ok(()));
    let refused = policy
        .check(addr("169.254.169.254:80"))
        .expect_err("metadata");
    assert_eq!(
        refused.to_string(),
        "169.254.169.254 is a link-local address"
    );
    assert_eq!(
        policy
            .check(addr("10.1.2.3:80"))
            .expect_err("private")
            .to_string(),
        "10.1.2.3 is a private address"
    );

    let policy = Policy {
        mode: Mode::Public,
        allow: vec![
            "10.20.0.0/16".parse().expect("net"),
            "127.0.0.1:3128".parse().expect("addr:port"),
            "[fd00::/8]:443".parse().expect("v6 net:port"),
        ],
    };
    assert_eq!(
        policy.check(addr("10.20.5.6:22")),
        Ok(()),
        "any port of the net"
    );
    assert!(
        policy.check(addr("10.21.0.1:22")).is_err(),
        "outside the net"
    );
    assert_eq!(
        policy.check(addr("127.0.0.1:3128")),
        Ok(()),
        "the allowed port"
    );
    assert_eq!(
        policy
            .check(addr("127.0.0.1:3129"))
            .expect_err("other port")
            .to_string(),
        "127.0.0.1 is a loopback address"
    );
    assert_eq!(
        policy.check(addr("[::ffff:127.0.0.1]:3128")),
        Ok(()),
        "mapped"
    );
    assert_eq!(policy.check(addr("[fd00::5]:443")), Ok(()));
    assert!(policy.check(addr("[fd00::5]:80")).is_err());
    assert_eq!(policy.check(addr("8.8.8.8:53")), Ok(()), "public still");

    let off = Policy {
        mode: Mode::Off,
        allow: policy.allow.clone(),
    };
    for refused in ["8.8.8.8:443", "10.20.5.6:22", "127.0.0.1:3128"] {
        let reason = off.check(addr(refused)).expect_err("off refuses all");
        assert_eq!(reason, Refused::Off);
        assert_eq!(reason.to_string(), "egress is off on this server");
    }
}

#[test]
fn a_connection_to_an_address_of_this_machine_is_refused_unless_allowed() {
    let policy = Policy::default();
    // A connection to one of the machine's own addresses takes it as its source.
    let own = policy
        .check_connected(addr("8.8.4.4:22"), addr("8.8.4.4:40000"))
        .expect_err("the machine's own public IPv4");
    assert_eq!(own, Refused::Own { ip: ip("8.8.4.4") });
    assert_eq!(own.to_string(), "8.8.4.4 is an address of this machine");
    let own = policy
        .check_connected(
            addr("[2606:4700::6810:84e5]:5432"),
            addr("[2606:4700::6810:84e5]:40000"),
        )
        .expect_err("the machine's own global IPv6");
    assert_eq!(
        own.to_string(),
        "2606:4700::6810:84e5 is an address of this machine"
    );
    // Mapped or not, the same address.
    assert!(policy
        .check_connected(addr("[::ffff:8.8.4.4]:22"), addr("8.8.4.4:40000"))
        .is_err());
    // Another machine: the source is one of ours, not the destination.
    assert_eq!(
        policy.check_connected(addr("8.8.8.8:443"), addr("8.8.4.4:40000")),
        Ok(())
    );
    assert_eq!(
        policy.check_connected(
            addr("[2a00:1450:4001::200e]:443"),
            addr("[2606:4700::6810:84e5]:40000")
        ),
        Ok(())
    );
    // An allow entry wins: the operator means this machine's service.
    let allowing = Policy {
        mode: Mode::Public,
        allow: vec!["8.8.4.4:3128".parse().expect("addr:port")],
    };
    assert_eq!(
        allowing.check_connected(addr("8.8.4.4:3128"), addr("8.8.4.4:40000")),
        Ok(())
    );
    assert!(allowing
        .check_connected(addr("8.8.4.4:22"), addr("8.8.4.4:40000"))
        .is_err());
    let off = Policy {
        mode: Mode::Off,
        ..allowing
    };
    assert_eq!(
        off.check_connected(addr("8.8.4.4:3128"), addr("8.8.4.4:40000")),
        Err(Refused::Off)
    );
}

#[test]
fn allow_entries_read_every_documented_form_and_print_back_the_same() {
    for (text, net, port) in [
        ("10.0.0.0/8", "10.0.0.0/8", None),
        ("10.1.2.3", "10.1.2.3/32", None),
        ("10.1.2.3:3128", "10.1.2.3/32", Some(3128)),
        ("10.0.0.0/8:443", "10.0.0.0/8", Some(443)),
        ("fd00::/8", "fd00::/8", None),
        ("fd00::1/128", "fd00::1/128", None),
        ("[fd00::1]", "fd00::1/128", None),
        ("[fd00::1]:3128", "fd00::1/128", Some(3128)),
        ("[fd00::/8]:443", "fd00::/8", Some(443)),
        ("[::ffff:10.1.2.3]:80", "::ffff:10.1.2.3/128", Some(80)),
    ] {
        let allow: Allow = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(allow.net, net.parse::<IpNet>().expect("net"), "{text}");
        assert_eq!(allow.port, port, "{text}");
        let printed = allow.to_string();
        let expected = match text {
            "fd00::1/128" => "[fd00::1]",
            _ => text,
        };
        assert_eq!(printed, expected);
        assert_eq!(printed.parse::<Allow>(), Ok(allow), "{text} round-trips");
    }
    // Bracketed, a network reads the same as without brackets.
    assert_eq!("[fd00::/8]".parse::<Allow>(), "fd00::/8".parse::<Allow>());
}

#[test]
fn a_bare_ipv6_address_needs_brackets_so_that_a_port_is_never_read_into_it() {
    // `fd00::1:443` is an address (fd00::1:1bb) on every port, not fd00::1 on 443.
    for text in [
        "fd00::1",
        "fd00::1:443",
        "::1",
        "::ffff:10.1.2.3",
        "2001:db8::8:80",
    ] {
        let err = text.parse::<Allow>().expect_err(text).to_string();
        assert!(err.contains("brackets"), "{text:?}: {err}");
        assert!(err.contains("[fd00::1]:443"), "{text:?}: {err}");
        assert!(err.contains("fd00::/8"), "{text:?}: {err}");
    }
}

#[test]
fn bad_allow_entries_say_what_is_wrong() {
    for (text, says) in [
        ("", "empty"),
        ("  ", "empty"),
        (
            "mirror.internal",
            "\"mirror.internal\" is not an IP address or network",
        ),
        ("mirror.internal:3128", "names are not accepted"),
        ("10.1.2.3/8", "the network is 10.0.0.0/8"),
        ("10.0.0.0/33", "is not an IP address or network"),
        ("10.1.2.3:0", "port \"0\" is not a number from 1 to 65535"),
        ("10.1.2.3:70000", "port \"70000\""),
        ("10.1.2.3:", "port \"\""),
        ("10.1.2.3:http", "port \"http\""),
        ("[fd00::1", "opens '[' without closing it"),
        ("[fd00::1]3128", "only :<port> may follow ']'"),
        ("[10.1.2.3]:80", "brackets are for IPv6"),
        ("[fd00::1]:", "port \"\""),
        ("fd00::1/200", "is not an IP address or network"),
    ] {
        let err = text.parse::<Allow>().expect_err(text).to_string();
        assert!(err.contains(says), "{text:?}: {err}");
    }
}

#[test]
fn modes_read_their_names_and_list_the_choices_otherwise() {
    assert_eq!("public".parse::<Mode>(), Ok(Mode::Public));
    assert_eq!("off".parse::<Mode>(), Ok(Mode::Off));
    assert_eq!("OFF".parse::<Mode>(), Ok(Mode::Off));
    assert_eq!(Mode::default(), Mode::Public);
    for mode in [Mode::Public, Mode::Off] {
        assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
    }
    let err = "open".parse::<Mode>().expect_err("unknown").to_string();
    assert_eq!(err, "\"open\" is not an egress mode: choose public or off");
}
