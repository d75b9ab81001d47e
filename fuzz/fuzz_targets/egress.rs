//! The way out's operator input and its address rule: `Allow` entries
//! (`--sandbox-egress-allow`) and `Gallery` values (`--extensions-gallery`) parsed
//! from any string, and `Policy::check` / `check_connected` on any address. Never
//! a panic; an accepted entry re-parses from its display form to itself; an
//! accepted gallery is one line of JSON with a `serviceUrl`; an IPv4 address and
//! its IPv4-mapped IPv6 form are judged alike by the ranges; the machine's own
//! address is admitted only by an entry naming it.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use dcs_model::gallery::Gallery;
use dcs_proxy::egress::{Allow, Mode, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, [u8; 16], u16, bool)| {
    let (text, bytes, port, v4) = input;
    let mut allow = Vec::new();
    if let Ok(entry) = text.parse::<Allow>() {
        let again: Allow = entry.to_string().parse().expect("display form re-parses");
        assert_eq!(again, entry);
        allow.push(entry);
    }
    if let Ok(gallery) = Gallery::parse(text) {
        let json = gallery.json();
        assert!(!json.contains('\n') && json.contains("\"serviceUrl\""), "{json}");
    }
    let ip = if v4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(bytes))
    };
    let addr = SocketAddr::new(ip, port);
    for mode in [Mode::Public, Mode::Off] {
        let policy = Policy {
            mode,
            allow: allow.clone(),
        };
        let verdict = policy.check(addr).is_ok();
        // Without entries (which may name either form), the rule sees through mapping.
        if let (IpAddr::V4(v4), true) = (ip, allow.is_empty()) {
            let mapped = SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), port);
            assert_eq!(policy.check(mapped).is_ok(), verdict, "{addr} and {mapped}");
        }
        // The machine's own address is never admitted unless an entry names it.
        let own = policy.check_connected(addr, SocketAddr::new(ip, 40_000)).is_ok();
        assert!(!own || allow.iter().any(|a| a.admits(addr)), "{addr}");
    }
});
