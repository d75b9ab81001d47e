//! Where a sandboxed workspace's outbound connection may go: the egress [`Mode`],
//! the operator's [`Allow`] entries (`--sandbox-egress-allow`), and the one
//! decision, [`Policy::check`], over the address the proxy itself resolved, and
//! its second half once connected, [`Policy::check_connected`]: never one of this
//! machine's own addresses (its services listening on every address).
//!
//! Public internet addresses are admitted; every special-purpose range is not:
//! loopback, private (RFC 1918), shared/CGNAT, link-local (cloud metadata at
//! 169.254.169.254), unique local and site-local IPv6, multicast, broadcast,
//! documentation, benchmarking and reserved ranges, and any IPv6 outside global
//! unicast (2000::/3). It is the Knative egress NetworkPolicy's `except` list
//! (knative/base/network-policies.yaml) with the reserved ranges added. An IPv6
//! address that carries an IPv4 one (IPv4-mapped, NAT64 `64:ff9b::/96`, 6to4
//! `2002::/16`) is judged by the IPv4 address it reaches.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

mod special;

pub use special::{is_public, special, Class, Special};

/// What the egress proxy admits beyond the operator's [`Allow`] entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Public internet addresses (and the allow entries).
    #[default]
    Public,
    /// Nothing: every connection is refused, allow entries included.
    Off,
}

/// The egress modes by name, as [`Mode::from_str`] reads them.
const MODES: [(&str, Mode); 2] = [("public", Mode::Public), ("off", Mode::Off)];

/// A [`Mode`] name that is none of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an egress mode: choose public or off")]
pub struct UnknownMode(pub String);

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MODES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s.trim()))
            .map(|(_, mode)| *mode)
            .ok_or_else(|| UnknownMode(s.to_owned()))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = MODES
            .iter()
            .find(|(_, mode)| mode == self)
            .map_or("public", |(name, _)| name);
        f.write_str(name)
    }
}

/// One operator-allowed destination: an address or network, and optionally the
/// one port it is allowed on (an internal mirror: `10.20.0.0/16`, `127.0.0.1:3128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allow {
    /// The addresses (a single address is a /32 or /128).
    pub net: IpNet,
    /// The only port allowed, or any.
    pub port: Option<u16>,
}

impl Allow {
    /// Whether this entry admits `addr` (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub fn admits(&self, addr: SocketAddr) -> bool {
        let port_ok = self.port.is_none_or(|port| port == addr.port());
        port_ok && (self.net.contains(&addr.ip()) || self.net.contains(&addr.ip().to_canonical()))
    }
}

/// Why an [`Allow`] entry could not be read (the caller adds which flag and value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadAllow(String);

impl FromStr for Allow {
    type Err = BadAllow;

    /// Reads `10.0.0.0/8`, `10.1.2.3`, `10.1.2.3:3128`, `10.0.0.0/8:443`,
    /// `fd00::/8`, `fd00::1/128`, `[fd00::1]`, `[fd00::1]:3128`, `[fd00::/8]:443`.
    /// An IPv6 address needs its brackets (`fd00::1:443` would otherwise be an
    /// address on every port); without them, only a network with its prefix length.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(BadAllow(
                "empty: give an address or network, optionally with a port \
                 (10.20.0.0/16, 127.0.0.1:3128, [fd00::1]:3128)"
                    .into(),
            ));
        }
        let (net, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return Err(BadAllow(format!("\"{s}\" opens '[' without closing it")));
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return Err(BadAllow(format!("\"{s}\": only :<port> may follow ']'"))),
                },
            };
            let net = net(inside)?;
            if net.addr().is_ipv4() {
                return Err(BadAllow(format!(
                    "\"{s}\": brackets are for IPv6; write an IPv4 entry without them"
                )));
            }
            (net, port)
        } else if let Some((text, port)) = s.split_once(':').filter(|(_, rest)| !rest.contains(':'))
        {
            // One colon: an IPv4 address or network with a port.
            (net(text)?, Some(port))
        } else if s.contains(':') && !s.contains('/') {
            // Several colons and no prefix length: an IPv6 address without brackets.
            return Err(BadAllow(format!(
                "\"{s}\": write an IPv6 address in brackets ([fd00::1], or \
                 [fd00::1]:443 for one port); without brackets, only a network with \
                 its prefix length (fd00::/8, fd00::1/128)"
            )));
        } else {
            // None (IPv4), or several (an IPv6 network: a port needs brackets).
            (net(s)?, None)
        };
        let port = port.map(parse_port).transpose()?;
        Ok(Allow { net, port })
    }
}

/// An address (a /32 or /128) or a network without bits set past its prefix.
fn net(s: &str) -> Result<IpNet, BadAllow> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net = s.parse::<IpNet>().map_err(|_| {
        BadAllow(format!(
            "\"{s}\" is not an IP address or network (names are not accepted: \
             give an address or network, like 10.20.0.0/16 or 127.0.0.1:3128)"
        ))
    })?;
    if net.trunc() != net {
        return Err(BadAllow(format!(
            "\"{s}\" has bits set past its prefix: the network is {}",
            net.trunc()
        )));
    }
    Ok(net)
}

fn parse_port(s: &str) -> Result<u16, BadAllow> {
    match s.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(BadAllow(format!(
            "port \"{s}\" is not a number from 1 to 65535"
        ))),
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.net.prefix_len() == self.net.max_prefix_len();
        let v6 = matches!(self.net, IpNet::V6(_));
        match (self.port, host, v6) {
            (None, true, false) => write!(f, "{}", self.net.addr()),
            (None, true, true) => write!(f, "[{}]", self.net.addr()),
            (None, false, _) => write!(f, "{}", self.net),
            (Some(port), true, false) => write!(f, "{}:{port}", self.net.addr()),
            (Some(port), false, false) => write!(f, "{}:{port}", self.net),
            (Some(port), true, true) => write!(f, "[{}]:{port}", self.net.addr()),
            (Some(port), false, true) => write!(f, "[{}]:{port}", self.net),
        }
    }
}

/// The egress decision: the mode and the operator's allow entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// What is admitted beyond the allow entries.
    pub mode: Mode,
    /// Destinations admitted even when not public (not when egress is off).
    pub allow: Vec<Allow>,
}

impl Policy {
    /// Whether a connection to `addr` (an address the proxy resolved) is admitted:
    /// never when egress is [`Mode::Off`]; always when an allow entry admits it;
    /// else only a public address.
    pub fn check(&self, addr: SocketAddr) -> Result<(), Refused> {
        if self.mode == Mode::Off {
            return Err(Refused::Off);
        }
        if self.allow.iter().any(|allow| allow.admits(addr)) {
            return Ok(());
        }
        match special(addr.ip()) {
            None => Ok(()),
            Some(special) => Err(Refused::Address {
                ip: addr.ip(),
                special,
            }),
        }
    }

    /// Whether a connection made to `dest` (admitted by [`Policy::check`]) may be
    /// kept, now that its source address `local` is known: not when it reached one
    /// of this machine's own addresses (a connection to one takes that address as
    /// its source), where every service listening on all addresses answers, unless
    /// an allow entry admits `dest` (allow entries win, as in [`Policy::check`]).
    pub fn check_connected(&self, dest: SocketAddr, local: SocketAddr) -> Result<(), Refused> {
        if self.mode == Mode::Off {
            return Err(Refused::Off);
        }
        if self.allow.iter().any(|allow| allow.admits(dest)) {
            return Ok(());
        }
        let ip = dest.ip().to_canonical();
        if ip == local.ip().to_canonical() {
            return Err(Refused::Own { ip });
        }
        Ok(())
    }
}

/// Why a destination was refused, in words a developer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Egress is [`Mode::Off`].
    Off,
    /// The address is not public and no allow entry admits it.
    Address {
        /// The address refused.
        ip: IpAddr,
        /// What it is.
        special: Special,
    },
    /// The address is one of this machine's own and no allow entry admits it.
    Own {
        /// The address refused.
        ip: IpAddr,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Off => f.write_str("egress is off on this server"),
            Refused::Own { ip } => write!(f, "{ip} is an address of this machine"),
            Refused::Address {
                ip,
                special:
                    Special {
                        class,
                        embedded: None,
                    },
            } => write!(f, "{ip} is {class}"),
            Refused::Address {
                ip,
                special:
                    Special {
                        class,
                        embedded: Some(v4),
                    },
            } => write!(f, "{ip} reaches {v4}, which is {class}"),
        }
    }
}

#[cfg(test)]
mod tests;
