//! Which addresses are not on the public internet, and what each is: the special
//! ranges of IPv4 and IPv6 (IANA's special-purpose registries), most specific first,
//! IPv6 outside global unicast reserved, and IPv6 addresses carrying an IPv4 one
//! (IPv4-mapped, NAT64, 6to4) judged by it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// What a non-public address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8`.
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10` (carrier-grade NAT).
    Shared,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`.
    UniqueLocal,
    /// `fec0::/10` (deprecated).
    SiteLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`.
    Benchmarking,
    /// Everything else set aside: `192.0.0.0/24`, `192.88.99.0/24`, `240.0.0.0/4`,
    /// `64:ff9b:1::/48`, `100::/64`, `2001::/23`, IPv6 outside `2000::/3`.
    Reserved,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Unspecified => "the unspecified address",
            Class::ThisNetwork => "a \"this network\" address",
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::Shared => "a shared (carrier-grade NAT) address",
            Class::LinkLocal => "a link-local address",
            Class::UniqueLocal => "a unique local (private IPv6) address",
            Class::SiteLocal => "a site-local address",
            Class::Multicast => "a multicast address",
            Class::Broadcast => "the broadcast address",
            Class::Documentation => "a documentation address",
            Class::Benchmarking => "a benchmarking address",
            Class::Reserved => "a reserved address",
        })
    }
}

/// A non-public address: what it is, and the IPv4 address it carries when that
/// is what was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Special {
    /// What the (embedded) address is.
    pub class: Class,
    /// The IPv4 address an IPv4-mapped, NAT64 or 6to4 address carries.
    pub embedded: Option<Ipv4Addr>,
}

/// IPv4's special ranges, the more specific first.
const V4: [(Ipv4Net, Class); 17] = [
    (v4(0, 0, 0, 0, 32), Class::Unspecified),
    (v4(0, 0, 0, 0, 8), Class::ThisNetwork),
    (v4(10, 0, 0, 0, 8), Class::Private),
    (v4(100, 64, 0, 0, 10), Class::Shared),
    (v4(127, 0, 0, 0, 8), Class::Loopback),
    (v4(169, 254, 0, 0, 16), Class::LinkLocal),
    (v4(172, 16, 0, 0, 12), Class::Private),
    (v4(192, 0, 0, 0, 24), Class::Reserved),
    (v4(192, 0, 2, 0, 24), Class::Documentation),
    (v4(192, 88, 99, 0, 24), Class::Reserved),
    (v4(192, 168, 0, 0, 16), Class::Private),
    (v4(198, 18, 0, 0, 15), Class::Benchmarking),
    (v4(198, 51, 100, 0, 24), Class::Documentation),
    (v4(203, 0, 113, 0, 24), Class::Documentation),
    (v4(224, 0, 0, 0, 4), Class::Multicast),
    (v4(255, 255, 255, 255, 32), Class::Broadcast),
    (v4(240, 0, 0, 0, 4), Class::Reserved),
];

/// IPv6's special ranges (those carrying IPv4 are judged apart), the more specific
/// first; beyond them, anything outside [`GLOBAL_UNICAST`] is reserved.
const V6: [(Ipv6Net, Class); 11] = [
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), Class::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), Class::Loopback),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), Class::Reserved),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), Class::Reserved),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        Class::Documentation,
    ),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), Class::Reserved),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), Class::Documentation),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), Class::UniqueLocal),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), Class::LinkLocal),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), Class::SiteLocal),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), Class::Multicast),
];

/// IPv6 global unicast: the only IPv6 addresses on the public internet.
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// NAT64's well-known prefix: the last 32 bits are an IPv4 address.
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

/// 6to4: bits 16 to 48 are an IPv4 address.
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        len,
    )
}

/// Whether `ip` is a public internet address (see the module's doc); the
/// unspecified address never is.
pub fn is_public(ip: IpAddr) -> bool {
    special(ip).is_none()
}

/// What `ip` is when it is not a public internet address; `None` when it is.
pub fn special(ip: IpAddr) -> Option<Special> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4).map(|class| Special {
            class,
            embedded: None,
        }),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<Class> {
    V4.iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, class)| *class)
}

fn special_v6(ip: Ipv6Addr) -> Option<Special> {
    let bits = ip.to_bits();
    let embedded = if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if NAT64.contains(&ip) {
        Some(Ipv4Addr::from_bits(bits as u32))
    } else if SIX_TO_FOUR.contains(&ip) {
        Some(Ipv4Addr::from_bits((bits >> 80) as u32))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return special_v4(v4).map(|class| Special {
            class,
            embedded: Some(v4),
        });
    }
    let class = V6
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, class)| *class)
        .or((!GLOBAL_UNICAST.contains(&ip)).then_some(Class::Reserved))?;
    Some(Special {
        class,
        embedded: None,
    })
}
